//! Recorded answers of real IMAP servers, each with where it was found, and the verdict
//! it must give. Each row is one situation: a server's answer at a step, and what Mailkeys
//! knows of the typed password. Every row asserts the verdict's kind, and that its advice
//! only asks to retype or check the password when the server's answer or Mailkeys' own
//! knowledge points at the password.

use super::*;
use crate::report::Step;

const AT: i64 = 1_740_000_000;

struct Case {
    source: &'static str,
    step: Step,
    answer: StepFailure,
    known: KnownCredential,
    kind: &'static str,
    may_blame_password: bool,
}

fn no(code: Option<&str>, text: &str) -> StepFailure {
    StepFailure::Refused {
        bad: false,
        code: code.map(str::to_owned),
        text: text.to_owned(),
    }
}

fn bad(code: Option<&str>, text: &str) -> StepFailure {
    StepFailure::Refused {
        bad: true,
        code: code.map(str::to_owned),
        text: text.to_owned(),
    }
}

fn bye(code: Option<&str>, text: &str) -> StepFailure {
    StepFailure::Bye {
        code: code.map(str::to_owned),
        text: text.to_owned(),
    }
}

/// Words of advice that send the user back to the password itself.
const RETYPE: &[&str] = &[
    "Caps Lock",
    "paste",
    "Paste",
    "retype",
    "Retype",
    "Type the password",
    "type it",
    "check the password",
    "Copy your app password",
];

fn cases() -> Vec<Case> {
    vec![
    Case {
        source: "https://github.com/LukeSmithxyz/mutt-wizard/issues/831",
        step: Step::Login,
        answer: no(Some("ALERT"), "Application-specific password required: https://support.google.com/accounts/answer/185833 (Failure)"),
        known: KnownCredential::Unknown,
        kind: "provider_app_password_required",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/pimalaya/himalaya/issues/58",
        step: Step::Login,
        answer: no(None, "Application-specific password required: https://support.google.com/accounts/answer/185833 (Failure)"),
        known: KnownCredential::Unknown,
        kind: "provider_app_password_required",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/imapsync/imapsync/issues/175",
        step: Step::Login,
        answer: no(Some("ALERT"), "Application-specific password required: https://support.google.com/accounts/"),
        known: KnownCredential::NotOfThisAccount,
        kind: "provider_app_password_required",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/andreiaugustin/gmail_extractor/issues/4",
        step: Step::Login,
        answer: no(Some("AUTHENTICATIONFAILED"), "Invalid credentials (Failure)"),
        known: KnownCredential::Unknown,
        kind: "wrong_password",
        may_blame_password: true,
    },
    Case {
        source: "https://github.com/imapsync/imapsync/issues/175",
        step: Step::Login,
        answer: no(Some("AUTHENTICATIONFAILED"), "Invalid credentials (Failure)"),
        known: KnownCredential::NotOfThisAccount,
        kind: "not_this_accounts_password",
        may_blame_password: true,
    },
    Case {
        source: "https://github.com/moralmunky/Home-Assistant-Mail-And-Packages/issues/683",
        step: Step::Login,
        answer: no(Some("AUTHENTICATIONFAILED"), "Invalid credentials (Failure)"),
        known: KnownCredential::LikelyTypo,
        kind: "app_password_typo",
        may_blame_password: true,
    },
    Case {
        source: "https://github.com/mscdex/node-imap/issues/826",
        step: Step::Login,
        answer: no(Some("AUTHENTICATIONFAILED"), "Invalid credentials (Failure)"),
        known: KnownCredential::ActiveAppPassword { network_limited: true },
        kind: "app_password_network_limited",
        may_blame_password: true,
    },
    Case {
        source: "https://github.com/jberkel/sms-backup-plus/issues/971",
        step: Step::Login,
        answer: no(Some("AUTHENTICATIONFAILED"), "Invalid credentials (Failure)"),
        known: KnownCredential::MainPasswordNotAllowed,
        kind: "main_password_refused",
        may_blame_password: true,
    },
    Case {
        source: "https://github.com/byt3bl33d3r/gcat/issues/2",
        step: Step::Login,
        answer: no(Some("ALERT"), "Please log in via your web browser: https://support.google.com/mail/accounts/answer/78754 (Failure)"),
        known: KnownCredential::Unknown,
        kind: "web_sign_in_required",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/smiley22/S22.Imap/issues/116",
        step: Step::Login,
        answer: no(Some("WEBALERT https://accounts.google.com/signin/continue?sarp=1&scc=1"), "Web login required."),
        known: KnownCredential::Unknown,
        kind: "web_sign_in_required",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/mailcow/mailcow-dockerized/issues/4277",
        step: Step::Login,
        answer: no(Some("ALERT"), "Please log in via your web browser: https://support.google.com/mail/accounts/answer/78754 (Failure)"),
        known: KnownCredential::ActiveAppPassword { network_limited: false },
        kind: "web_sign_in_required",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/layeh/google-apps-radius/issues/3",
        step: Step::Login,
        answer: no(None, "Please log in via your web browser: https://support.google.com/mail/accounts/answer/78754 (Failure)"),
        known: KnownCredential::Unknown,
        kind: "web_sign_in_required",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/zone-eu/wildduck/issues/35",
        step: Step::Login,
        answer: no(Some("ALERT"), "Too many simultaneous connections. (Failure)"),
        known: KnownCredential::Unknown,
        kind: "too_many_connections",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/coddingtonbear/django-mailbox/pull/284",
        step: Step::Login,
        answer: no(Some("ALERT"), "Too many simultaneous connections. (Failure)"),
        known: KnownCredential::MainPassword,
        kind: "too_many_connections",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/mscdex/node-imap/issues/606",
        step: Step::Login,
        answer: no(Some("UNAVAILABLE"), "Maximum number of connections from user+IP exceeded (mail_max_userip_connections=16)"),
        known: KnownCredential::Unknown,
        kind: "too_many_connections",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/mscdex/node-imap/issues/882",
        step: Step::Login,
        answer: bye(Some("UNAVAILABLE"), "Maximum number of connections from user+IP exceeded (mail_max_userip_connections=30)"),
        known: KnownCredential::Unknown,
        kind: "too_many_connections",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/ljmerza/ha-email-sensor/issues/16",
        step: Step::SelectInbox,
        answer: no(Some("OVERQUOTA"), "Account exceeded command or bandwidth limits."),
        known: KnownCredential::Unknown,
        kind: "bandwidth_limit",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/mscdex/node-imap/issues/689",
        step: Step::SelectInbox,
        answer: bad(None, "User is authenticated but not connected."),
        known: KnownCredential::Unknown,
        kind: "authenticated_but_not_connected",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/getmail6/getmail6/issues/214",
        step: Step::SelectInbox,
        answer: bad(None, "User is authenticated but not connected."),
        known: KnownCredential::ActiveAppPassword { network_limited: false },
        kind: "authenticated_but_not_connected",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/jstedfast/MailKit/issues/1496",
        step: Step::SelectInbox,
        answer: bye(None, "Connection closed. 14"),
        known: KnownCredential::Unknown,
        kind: "temporary_failure",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/imapsync/imapsync/issues/317",
        step: Step::Login,
        answer: no(None, "LOGIN failed."),
        known: KnownCredential::Unknown,
        kind: "password_or_password_sign_in_disabled",
        may_blame_password: true,
    },
    Case {
        source: "https://github.com/jstedfast/MailKit/issues/483",
        step: Step::Login,
        answer: no(None, "AUTHENTICATE failed."),
        known: KnownCredential::Unknown,
        kind: "password_or_password_sign_in_disabled",
        may_blame_password: true,
    },
    Case {
        source: "https://github.com/jstedfast/MailKit/issues/1072",
        step: Step::Login,
        answer: no(None, "LOGIN failed."),
        known: KnownCredential::ActiveAppPassword { network_limited: false },
        kind: "password_sign_in_disabled",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/mscdex/node-imap/issues/894",
        step: Step::Login,
        answer: no(None, "LOGIN failed."),
        known: KnownCredential::NotOfThisAccount,
        kind: "not_this_accounts_password",
        may_blame_password: true,
    },
    Case {
        source: "https://github.com/Webklex/php-imap/issues/302",
        step: Step::Login,
        answer: no(None, "AUTHENTICATE failed."),
        known: KnownCredential::RevokedAppPassword { at: AT },
        kind: "app_password_revoked",
        may_blame_password: true,
    },
    Case {
        source: "https://github.com/holon-run/uxc/issues/445",
        step: Step::Login,
        answer: no(None, "Basic authentication is disabled."),
        known: KnownCredential::Unknown,
        kind: "password_sign_in_disabled",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/lefcha/imapfilter/issues/146",
        step: Step::SelectInbox,
        answer: no(None, "Server Unavailable. 15"),
        known: KnownCredential::Unknown,
        kind: "throttled_after_sign_in",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/Enough-Software/enough_mail/issues/245",
        step: Step::Login,
        answer: no(Some("AUTHENTICATIONFAILED"), "LOGIN Invalid credentials"),
        known: KnownCredential::Unknown,
        kind: "wrong_password",
        may_blame_password: true,
    },
    Case {
        source: "https://github.com/postalsys/imapflow/issues/300",
        step: Step::Login,
        answer: no(Some("AUTHENTICATIONFAILED"), "AUTHENTICATE Invalid credentials"),
        known: KnownCredential::MainPasswordNotAllowed,
        kind: "main_password_refused",
        may_blame_password: true,
    },
    Case {
        source: "https://github.com/OfflineIMAP/offlineimap/issues/688",
        step: Step::Login,
        answer: no(Some("AUTHENTICATIONFAILED"), "AUTHENTICATE Invalid credentials"),
        known: KnownCredential::ExpiredAppPassword { at: AT },
        kind: "app_password_expired",
        may_blame_password: true,
    },
    Case {
        source: "https://github.com/Foundry376/Mailspring/issues/904",
        step: Step::Login,
        answer: no(Some("AUTHENTICATIONFAILED"), "LOGIN Invalid credentials or IMAP is disabled sc=ebI8JB0ug4Y1_290737_53p"),
        known: KnownCredential::Unknown,
        kind: "password_or_imap_disabled",
        may_blame_password: true,
    },
    Case {
        source: "https://github.com/Foundry376/Mailspring/issues/904",
        step: Step::Login,
        answer: no(Some("AUTHENTICATIONFAILED"), "LOGIN Invalid credentials or IMAP is disabled sc=ebI8JB0ug4Y1_290737_53p"),
        known: KnownCredential::ActiveAppPassword { network_limited: false },
        kind: "imap_disabled",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/Foundry376/Mailspring/issues/904",
        step: Step::Login,
        answer: no(Some("AUTHENTICATIONFAILED"), "LOGIN Invalid credentials or IMAP is disabled sc=ebI8JB0ug4Y1_290737_53p"),
        known: KnownCredential::RevokedAppPassword { at: AT },
        kind: "app_password_revoked",
        may_blame_password: true,
    },
    Case {
        source: "https://github.com/lefcha/imapfilter/issues/125",
        step: Step::Login,
        answer: no(Some("AUTHENTICATIONFAILED"), "Authentication failed"),
        known: KnownCredential::Unknown,
        kind: "wrong_password",
        may_blame_password: true,
    },
    Case {
        source: "https://github.com/mscdex/node-imap/issues/839",
        step: Step::Login,
        answer: no(Some("AUTHENTICATIONFAILED"), "Authentication Failed"),
        known: KnownCredential::ExpiredAppPassword { at: AT },
        kind: "app_password_expired",
        may_blame_password: true,
    },
    Case {
        source: "https://github.com/docker-mailserver/docker-mailserver/issues/1534",
        step: Step::Login,
        answer: no(Some("UNAVAILABLE"), "Temporary authentication failure. [mailserver5-mailserver-mailserver-665c6b4bfd-7qsr6:2020-06-11 13:56:19]"),
        known: KnownCredential::Unknown,
        kind: "temporary_failure",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/thunderbird/thunderbird-android/issues/7287",
        step: Step::Login,
        answer: no(Some("UNAVAILABLE"), "Temporary authentication failure."),
        known: KnownCredential::NotOfThisAccount,
        kind: "temporary_failure",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/docker-mailserver/docker-mailserver/issues/1026",
        step: Step::Login,
        answer: no(Some("PRIVACYREQUIRED"), "Plaintext authentication disallowed on non-secure (SSL/TLS) connections."),
        known: KnownCredential::Unknown,
        kind: "login_disabled_before_tls",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/r-raymond/nixos-mailserver/issues/63",
        step: Step::Login,
        answer: bad(Some("ALERT"), "Plaintext authentication not allowed without SSL/TLS, but your client did it anyway. If anyone was listening, the password was exposed."),
        known: KnownCredential::Unknown,
        kind: "login_disabled_before_tls",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/roundcube/roundcubemail/issues/6809",
        step: Step::Login,
        answer: no(Some("ALERT"), "country blocked"),
        known: KnownCredential::Unknown,
        kind: "address_blocked",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/mscdex/node-imap/issues/340",
        step: Step::SelectInbox,
        answer: no(Some("TEMPFAIL"), "UID FETCH Temporary failure on server [CODE: WBL]"),
        known: KnownCredential::Unknown,
        kind: "temporary_failure",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/imapsync/imapsync/issues/120",
        step: Step::SelectInbox,
        answer: bye(None, "System Error"),
        known: KnownCredential::Unknown,
        kind: "temporary_failure",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/OfflineIMAP/offlineimap/issues/682",
        step: Step::SelectInbox,
        answer: no(None, "System Error (Failure)"),
        known: KnownCredential::Unknown,
        kind: "temporary_failure",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/smiley22/S22.Imap/issues/98",
        step: Step::SelectInbox,
        answer: no(Some("SERVERBUG"), "UID SEARCH Server error"),
        known: KnownCredential::Unknown,
        kind: "temporary_failure",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/LukeSmithxyz/mutt-wizard/issues/764",
        step: Step::SelectInbox,
        answer: no(Some("UNAVAILABLE"), "UID FETCH Service is temporarily not available"),
        known: KnownCredential::Unknown,
        kind: "temporary_failure",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/smiley22/S22.Imap/issues/167",
        step: Step::SelectInbox,
        answer: no(None, "SELECT Unsafe Login. Please contact kefu@188.com for help"),
        known: KnownCredential::Unknown,
        kind: "mail_app_blocked",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/joeyates/imap-backup/issues/217",
        step: Step::SelectInbox,
        answer: no(None, "EXAMINE Unsafe Login. Please contact kefu@188.com for help"),
        known: KnownCredential::ActiveAppPassword { network_limited: false },
        kind: "mail_app_blocked",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/Foundry376/Mailspring/issues/1334",
        step: Step::Login,
        answer: no(Some("AUTHENTICATIONFAILED"), "Invalid credentials(Failure)"),
        known: KnownCredential::Unknown,
        kind: "wrong_password",
        may_blame_password: true,
    },
    Case {
        source: "https://github.com/twentyhq/twenty/pull/20273",
        step: Step::Login,
        answer: no(Some("UNAVAILABLE"), "Account is temporarily unavailable."),
        known: KnownCredential::Unknown,
        kind: "temporary_failure",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/jstedfast/MailKit/issues/345",
        step: Step::Login,
        answer: no(Some("AUTHENTICATIONFAILED"), "Authentication failed"),
        known: KnownCredential::MainPassword,
        kind: "main_password_refused_although_allowed",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/ikvk/imap_tools/issues/167",
        step: Step::Login,
        answer: no(None, "authentication failed"),
        known: KnownCredential::Unknown,
        kind: "wrong_password",
        may_blame_password: true,
    },
    Case {
        source: "https://github.com/jakartaee/mail-api/issues/206",
        step: Step::SelectInbox,
        answer: no(None, "List Command is not permitted in current state (NotAuthenticatedServerError)"),
        known: KnownCredential::Unknown,
        kind: "server_error",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/roundcube/roundcubemail/issues/7855",
        step: Step::SelectInbox,
        answer: no(None, "STORE You are not authorized to perform that operation"),
        known: KnownCredential::Unknown,
        kind: "inbox_not_permitted",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/moralmunky/Home-Assistant-Mail-And-Packages/issues/629",
        step: Step::Login,
        answer: bye(None, "IMAP4rev1 Server logging out"),
        known: KnownCredential::Unknown,
        kind: "temporary_failure",
        may_blame_password: false,
    },
    Case {
        source: "https://github.com/MailCore/mailcore2/issues/587",
        step: Step::Login,
        answer: no(Some("ALERT"), "Too many simultaneous connections. (Failure)"),
        known: KnownCredential::LikelyTypo,
        kind: "too_many_connections",
        may_blame_password: false,
    },
    Case {
        source: "https://www.rfc-editor.org/rfc/rfc5530#section-3",
        step: Step::Login,
        answer: no(Some("UNAVAILABLE"), "User's backend down for maintenance"),
        known: KnownCredential::Unknown,
        kind: "temporary_failure",
        may_blame_password: false,
    },
    Case {
        source: "https://www.rfc-editor.org/rfc/rfc5530#section-3",
        step: Step::Login,
        answer: no(Some("AUTHORIZATIONFAILED"), "No such authorization-ID"),
        known: KnownCredential::Unknown,
        kind: "not_authorized",
        may_blame_password: false,
    },
    Case {
        source: "https://www.rfc-editor.org/rfc/rfc5530#section-3",
        step: Step::Login,
        answer: no(Some("EXPIRED"), "That password isn't valid any more"),
        known: KnownCredential::Unknown,
        kind: "password_expired",
        may_blame_password: true,
    },
    Case {
        source: "https://www.rfc-editor.org/rfc/rfc5530#section-3",
        step: Step::Login,
        answer: no(Some("PRIVACYREQUIRED"), "Connection offers no privacy"),
        known: KnownCredential::Unknown,
        kind: "login_disabled_before_tls",
        may_blame_password: false,
    },
    Case {
        source: "https://www.rfc-editor.org/rfc/rfc5530#section-3",
        step: Step::Login,
        answer: no(Some("CONTACTADMIN"), ""),
        known: KnownCredential::Unknown,
        kind: "account_disabled",
        may_blame_password: false,
    },
    Case {
        source: "https://www.rfc-editor.org/rfc/rfc5530#section-3",
        step: Step::SelectInbox,
        answer: no(Some("NOPERM"), "Access denied"),
        known: KnownCredential::Unknown,
        kind: "inbox_not_permitted",
        may_blame_password: false,
    },
    Case {
        source: "https://www.rfc-editor.org/rfc/rfc5530#section-3",
        step: Step::SelectInbox,
        answer: no(Some("INUSE"), "Mailbox in use"),
        known: KnownCredential::Unknown,
        kind: "mailbox_in_use",
        may_blame_password: false,
    },
    Case {
        source: "https://www.rfc-editor.org/rfc/rfc5530#section-3",
        step: Step::Login,
        answer: no(Some("LIMIT"), ""),
        known: KnownCredential::Unknown,
        kind: "too_many_connections",
        may_blame_password: false,
    },
    Case {
        source: "https://www.rfc-editor.org/rfc/rfc5530#section-3",
        step: Step::SelectInbox,
        answer: no(Some("OVERQUOTA"), "Sorry"),
        known: KnownCredential::Unknown,
        kind: "mailbox_over_quota",
        may_blame_password: false,
    },
    Case {
        source: "https://www.rfc-editor.org/rfc/rfc5530#section-3",
        step: Step::SelectInbox,
        answer: no(Some("ALREADYEXISTS"), "Mailbox \"that\" already exists"),
        known: KnownCredential::Unknown,
        kind: "server_error",
        may_blame_password: false,
    },
    ]
}

#[test]
fn recorded_server_answers_give_the_right_verdict_and_blame_the_password_only_when_justified() {
    let cases = cases();
    assert!(cases.len() >= 60, "only {} situations", cases.len());
    let mut wrong = Vec::new();
    for case in cases {
        let facts = Facts {
            failure: Some(Failure {
                step: case.step,
                what: case.answer.clone(),
            }),
            messages: None,
        };
        let verdict = classify(&facts, &case.known);
        let what = format!("{:?} with {:?} ({})", case.answer, case.known, case.source);
        if verdict.kind() != case.kind {
            wrong.push(format!(
                "{what}: {} instead of {}",
                verdict.kind(),
                case.kind
            ));
            continue;
        }
        let advice = verdict.advice();
        if !case.may_blame_password {
            let blamed: Vec<_> = RETYPE.iter().filter(|w| advice.contains(**w)).collect();
            assert!(
                blamed.is_empty(),
                "{what}: advice says {blamed:?}: {advice}"
            );
            // The right main password refused is still a refused password, said as such.
            if verdict != Verdict::MainPasswordRefusedAlthoughAllowed {
                assert_ne!(
                    proven(&facts, &verdict),
                    Proven::PasswordRefused,
                    "{what}: said the password was refused"
                );
            }
        }
        assert!(case.source.starts_with("https://"), "{what}: no source");
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_recorded_situations_are_distinct() {
    let cases = cases();
    for (i, a) in cases.iter().enumerate() {
        for b in &cases[i + 1..] {
            assert!(
                !(a.step == b.step && a.answer == b.answer && a.known == b.known),
                "the same situation twice: {:?} ({} and {})",
                a.answer,
                a.source,
                b.source
            );
        }
    }
}
