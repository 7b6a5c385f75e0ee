//! The rules, tested without a network.

use super::classify::certificate_verdict;
use super::*;

fn failed(step: Step, what: StepFailure) -> Facts {
    Facts {
        failure: Some(Failure { step, what }),
        messages: None,
    }
}

/// The verdict on a check that failed with `what` at `step`, nothing known of the password.
fn verdict_of(step: Step, what: StepFailure) -> Verdict {
    classify(&failed(step, what), &KnownCredential::Unknown)
}

fn login_refused(code: Option<&str>) -> Facts {
    failed(
        Step::Login,
        StepFailure::Refused {
            bad: false,
            code: code.map(str::to_owned),
            text: "Authentication failed.".into(),
        },
    )
}

const YESTERDAY: i64 = 1_740_000_000;

/// A refused login (with its response code, if any) in the light of what is known of the
/// password: the verdict, and what its title says where that matters.
#[test]
fn a_refused_login_is_read_in_the_light_of_what_is_known() {
    use KnownCredential::*;
    let failed_auth = Some("AUTHENTICATIONFAILED");
    let cases = [
        (failed_auth, Unknown, Verdict::WrongPassword, None),
        (None, Unknown, Verdict::WrongPassword, None),
        (
            failed_auth,
            RevokedAppPassword { at: YESTERDAY },
            Verdict::AppPasswordRevoked { at: YESTERDAY },
            Some("19 February 2025"),
        ),
        (
            None,
            ExpiredAppPassword { at: YESTERDAY },
            Verdict::AppPasswordExpired { at: YESTERDAY },
            Some("expired on 19 February 2025"),
        ),
        (
            failed_auth,
            MainPasswordNotAllowed,
            Verdict::MainPasswordRefused,
            None,
        ),
        (
            None,
            ActiveAppPassword {
                network_limited: true,
            },
            Verdict::AppPasswordNetworkLimited,
            None,
        ),
        (
            None,
            ActiveAppPassword {
                network_limited: false,
            },
            Verdict::WrongPassword,
            None,
        ),
        (
            Some("PRIVACYREQUIRED"),
            Unknown,
            Verdict::LoginDisabledBeforeTls,
            None,
        ),
        (
            failed_auth,
            NotOfThisAccount,
            Verdict::NotThisAccountsPassword,
            Some("neither one of your app passwords nor your main password"),
        ),
        (
            None,
            NotOfThisAccount,
            Verdict::NotThisAccountsPassword,
            Some("Mailkeys checked"),
        ),
        (
            failed_auth,
            LikelyTypo,
            Verdict::AppPasswordTypo,
            Some("with a typo"),
        ),
        (
            None,
            LikelyTypo,
            Verdict::AppPasswordTypo,
            Some("not exactly one of your app passwords"),
        ),
        (
            failed_auth,
            MainPassword,
            Verdict::MainPasswordRefusedAlthoughAllowed,
            Some("Mailkeys checked that it is your main password"),
        ),
        (
            None,
            MainPassword,
            Verdict::MainPasswordRefusedAlthoughAllowed,
            Some("may use it for mail"),
        ),
    ];
    for (code, known, expected, title_says) in cases {
        let v = classify(&login_refused(code), &known);
        assert_eq!(v, expected, "{code:?} with {known:?}");
        if let Some(words) = title_says {
            assert!(v.title().contains(words), "{}", v.title());
        }
    }
}

#[test]
fn the_wrong_password_advice_mentions_caps_lock_app_passwords_and_rotation() {
    let advice = Verdict::WrongPassword.advice();
    assert!(advice.contains("Caps Lock"));
    assert!(advice.contains("app password"));
    assert!(advice.contains("not the password you use on the web"));
    assert!(advice.contains("rotated recently"));
}

#[test]
fn a_password_of_none_of_the_users_credentials_is_named_so_and_never_the_main_password() {
    let v = classify(
        &login_refused(Some("AUTHENTICATIONFAILED")),
        &KnownCredential::NotOfThisAccount,
    );
    assert_eq!(v.kind(), "not_this_accounts_password");
    assert!(!v.title().contains("main password cannot"), "{}", v.title());
    let advice = v.advice();
    assert!(advice.contains("Copy your app password again"), "{advice}");
    assert!(advice.contains("create a new one"), "{advice}");
}

#[test]
fn a_likely_typo_says_so_and_asks_for_the_app_password_again() {
    let v = classify(&login_refused(None), &KnownCredential::LikelyTypo);
    assert_eq!(v.kind(), "app_password_typo");
    let advice = v.advice();
    assert!(v.title().contains("Mailkeys checked"), "{}", v.title());
    assert!(advice.contains("one slip away"), "{advice}");
    assert!(advice.contains("dashes included"), "{advice}");
}

/// The main password, verified by Mailkeys and allowed for mail: a refusal is the server's
/// doing, and the verdict must not call the password wrong.
#[test]
fn a_refused_main_password_that_is_right_and_allowed_does_not_blame_the_password() {
    let v = classify(
        &login_refused(Some("AUTHENTICATIONFAILED")),
        &KnownCredential::MainPassword,
    );
    assert_eq!(v.kind(), "main_password_refused_although_allowed");
    let (title, advice) = (v.title(), v.advice());
    for words in [
        "wrong",
        "Caps Lock",
        "cannot be used",
        "retype",
        "type it again",
    ] {
        assert!(!title.contains(words), "{title}");
        assert!(!advice.contains(words), "{advice}");
    }
    assert!(advice.contains("The password is right"), "{advice}");
    assert!(advice.contains("/admin/dovecot"), "{advice}");
    assert!(advice.contains("Wait a minute"), "{advice}");
}

#[test]
fn an_accepted_login_is_a_success_whatever_is_known_of_the_password() {
    let facts = Facts {
        failure: None,
        messages: Some(2),
    };
    for known in [
        KnownCredential::MainPassword,
        KnownCredential::LikelyTypo,
        KnownCredential::NotOfThisAccount,
        KnownCredential::MainPasswordNotAllowed,
        KnownCredential::Unknown,
    ] {
        assert_eq!(
            classify(&facts, &known),
            Verdict::Success { messages: 2 },
            "{known:?}"
        );
    }
}

#[test]
fn the_new_verdicts_have_snake_case_kinds() {
    for v in [
        Verdict::NotThisAccountsPassword,
        Verdict::AppPasswordTypo,
        Verdict::MainPasswordRefusedAlthoughAllowed,
    ] {
        let kind = v.kind();
        assert!(
            kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{kind}"
        );
    }
}

#[test]
fn unavailable_on_login_is_temporary_whatever_is_known() {
    for known in all_known() {
        let v = classify(&login_refused(Some("UNAVAILABLE")), &known);
        assert!(matches!(v, Verdict::TemporaryFailure { .. }), "{v:?}");
    }
}

#[test]
fn a_bye_greeting_is_a_temporary_failure_that_quotes_the_server() {
    let v = verdict_of(
        Step::Greeting,
        StepFailure::Bye {
            code: Some("UNAVAILABLE".into()),
            text: "Maintenance".into(),
        },
    );
    assert_eq!(
        v,
        Verdict::TemporaryFailure {
            reason: "The server ended the session: \u{201c}Maintenance\u{201d}".into()
        }
    );
}

#[test]
fn passwords_refused_on_plaintext_with_starttls_offered_need_tls_first() {
    let v = verdict_of(
        Step::Capability,
        StepFailure::LoginNotPossible {
            encrypted: false,
            starttls_offered: true,
            mechanisms: vec![],
        },
    );
    assert_eq!(v, Verdict::LoginDisabledBeforeTls);
}

#[test]
fn only_oauth_mechanisms_mean_no_password_mechanism() {
    for encrypted in [false, true] {
        let v = verdict_of(
            Step::Capability,
            StepFailure::LoginNotPossible {
                encrypted,
                starttls_offered: false,
                mechanisms: vec!["XOAUTH2".into(), "OAUTHBEARER".into()],
            },
        );
        assert_eq!(
            v,
            Verdict::NoPasswordMechanism {
                offered: vec!["XOAUTH2".into(), "OAUTHBEARER".into()]
            }
        );
        assert!(v.title().contains("XOAUTH2, OAUTHBEARER"));
    }
}

#[test]
fn a_self_signed_certificate_is_named_before_its_expiry_or_name() {
    let v = certificate_verdict(&[
        CertProblem::Expired {
            not_after: Some(YESTERDAY),
        },
        CertProblem::WrongHost {
            host: "imap.example.org".into(),
            names: vec!["localhost".into()],
        },
        CertProblem::SelfSigned,
    ]);
    assert_eq!(v, Verdict::CertificateSelfSigned);
}

#[test]
fn a_wrong_name_is_named_before_an_expiry() {
    let v = certificate_verdict(&[
        CertProblem::Expired { not_after: None },
        CertProblem::WrongHost {
            host: "imap.example.org".into(),
            names: vec!["mail.example.net".into()],
        },
    ]);
    assert!(matches!(v, Verdict::CertificateWrongHost { .. }));
    assert!(v.advice().contains("mail.example.net"));
}

#[test]
fn an_expired_certificate_gives_its_end_date() {
    let expired = CertProblem::Expired {
        not_after: Some(YESTERDAY),
    };
    let problems = vec![expired];
    let v = verdict_of(Step::TlsHandshake, StepFailure::Certificate { problems });
    assert!(v.title().contains("expired on 19 February 2025"));
}

#[test]
fn a_failed_handshake_answered_by_an_imap_line_means_a_plaintext_port() {
    let answered_in_imap = StepFailure::TlsHandshake {
        peer_spoke_imap: true,
        detail: "received corrupt message".into(),
    };
    let v = verdict_of(Step::TlsHandshake, answered_in_imap);
    assert_eq!(v, Verdict::TlsToPlaintextPort);
}

#[test]
fn a_binary_greeting_or_a_tls_answer_means_a_tls_port() {
    let tls_like = failed(
        Step::Greeting,
        StepFailure::NotImap {
            looks_like_tls: true,
            sample: "\\x15\\x03\\x01".into(),
        },
    );
    let speaks = failed(Step::Greeting, StepFailure::SpeaksTls);
    for facts in [tls_like, speaks] {
        assert_eq!(
            classify(&facts, &KnownCredential::Unknown),
            Verdict::PlaintextToTlsPort
        );
    }
}

#[test]
fn a_timeout_names_the_step_it_happened_in() {
    let v = verdict_of(Step::Greeting, StepFailure::TimedOut { whole_check: false });
    assert_eq!(
        v,
        Verdict::Timeout {
            step: Step::Greeting
        }
    );
    assert!(v.title().contains("waiting for the server's greeting"));
}

#[test]
fn a_refused_select_is_a_server_error_not_a_password_problem() {
    let v = verdict_of(
        Step::SelectInbox,
        StepFailure::Refused {
            bad: false,
            code: None,
            text: "Mailbox is locked".into(),
        },
    );
    assert!(matches!(v, Verdict::ServerError { .. }));
    assert!(v.title().contains("Mailbox is locked"));
}

#[test]
fn a_revoked_app_password_that_still_works_is_flagged_not_celebrated() {
    let facts = Facts {
        failure: None,
        messages: Some(3),
    };
    let v = classify(
        &facts,
        &KnownCredential::RevokedAppPassword { at: YESTERDAY },
    );
    assert_eq!(v, Verdict::StillAcceptedAfterRevocation { at: YESTERDAY });
    assert!(!v.is_success());
    assert!(v.advice().contains("auth_cache"));
    let v = classify(&facts, &KnownCredential::Unknown);
    assert_eq!(v, Verdict::Success { messages: 3 });
    assert!(v.is_success());
}

#[test]
fn a_verdict_serialises_with_kind_title_and_advice() {
    let json = serde_json::to_value(Verdict::ConnectionRefused).expect("serialises");
    assert_eq!(json["kind"], "connection_refused");
    assert_eq!(json["success"], false);
    assert!(json["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(json["advice"].as_str().is_some_and(|t| !t.is_empty()));
}

fn all_known() -> Vec<KnownCredential> {
    vec![
        KnownCredential::Unknown,
        KnownCredential::ActiveAppPassword {
            network_limited: false,
        },
        KnownCredential::ActiveAppPassword {
            network_limited: true,
        },
        KnownCredential::RevokedAppPassword { at: YESTERDAY },
        KnownCredential::ExpiredAppPassword { at: YESTERDAY },
        KnownCredential::MainPasswordNotAllowed,
        KnownCredential::MainPassword,
        KnownCredential::LikelyTypo,
        KnownCredential::NotOfThisAccount,
    ]
}

fn all_failures() -> Vec<StepFailure> {
    let mut all = vec![
        StepFailure::TimedOut { whole_check: false },
        StepFailure::TimedOut { whole_check: true },
        StepFailure::HostNotFound,
        StepFailure::DnsTemporary {
            detail: "try again".into(),
        },
        StepFailure::ConnectionRefused,
        StepFailure::Unreachable {
            detail: "no route".into(),
        },
        StepFailure::Closed,
        StepFailure::TlsHandshake {
            peer_spoke_imap: false,
            detail: "handshake failure".into(),
        },
        StepFailure::TlsHandshake {
            peer_spoke_imap: true,
            detail: "corrupt".into(),
        },
        StepFailure::Certificate { problems: vec![] },
        StepFailure::Certificate {
            problems: vec![CertProblem::NotYetValid {
                not_before: Some(YESTERDAY),
            }],
        },
        StepFailure::NotImap {
            looks_like_tls: false,
            sample: "SSH-2.0".into(),
        },
        StepFailure::SpeaksTls,
        StepFailure::Bye {
            code: None,
            text: String::new(),
        },
        StepFailure::Preauth,
        StepFailure::StartTlsNotOffered,
        StepFailure::LoginNotPossible {
            encrypted: true,
            starttls_offered: false,
            mechanisms: vec![],
        },
        StepFailure::Protocol {
            detail: "garbled".into(),
        },
        StepFailure::Io {
            detail: "reset".into(),
        },
        StepFailure::Configuration {
            detail: "ca_file unreadable".into(),
        },
        StepFailure::PasswordNotSendable,
    ];
    for code in [
        None,
        Some("AUTHENTICATIONFAILED"),
        Some("UNAVAILABLE"),
        Some("SERVERBUG"),
        Some("PRIVACYREQUIRED"),
        Some("authenticationfailed extra words"),
    ] {
        for bad in [false, true] {
            all.push(StepFailure::Refused {
                bad,
                code: code.map(str::to_owned),
                text: "words".into(),
            });
        }
    }
    all
}

const ALL_STEPS: [Step; 10] = [
    Step::Resolve,
    Step::Connect,
    Step::TlsHandshake,
    Step::Greeting,
    Step::Capability,
    Step::StartTls,
    Step::TlsProbe,
    Step::Login,
    Step::SelectInbox,
    Step::Logout,
];

#[test]
fn no_failure_anywhere_is_ever_called_a_success_and_every_verdict_explains_itself() {
    for step in ALL_STEPS {
        for what in all_failures() {
            for known in all_known() {
                let facts = failed(step, what.clone());
                let v = classify(&facts, &known);
                assert!(!v.is_success(), "{step:?} {what:?} {known:?} gave {v:?}");
                assert!(
                    !matches!(
                        v,
                        Verdict::StillAcceptedAfterExpiry { .. }
                            | Verdict::StillAcceptedAfterRevocation { .. }
                    ),
                    "{v:?}"
                );
                assert!(
                    v.title().ends_with(['.', '!', '?', '\u{201d}']),
                    "{}",
                    v.title()
                );
                assert!(!v.advice().is_empty());
                assert!(!v.kind().is_empty());
            }
        }
    }
}

#[test]
fn only_a_failed_login_can_blame_the_credential() {
    for step in ALL_STEPS.into_iter().filter(|s| *s != Step::Login) {
        for what in all_failures() {
            for known in all_known() {
                let v = classify(&failed(step, what.clone()), &known);
                assert!(
                    !matches!(
                        v,
                        Verdict::WrongPassword
                            | Verdict::AppPasswordRevoked { .. }
                            | Verdict::AppPasswordExpired { .. }
                            | Verdict::AppPasswordNetworkLimited
                            | Verdict::MainPasswordRefused
                            | Verdict::NotThisAccountsPassword
                            | Verdict::AppPasswordTypo
                            | Verdict::MainPasswordRefusedAlthoughAllowed
                    ),
                    "{step:?} {what:?} gave {v:?}"
                );
            }
        }
    }
}

#[test]
fn the_same_facts_always_give_the_same_verdict() {
    for what in all_failures() {
        for known in all_known() {
            let facts = failed(Step::Login, what.clone());
            assert_eq!(classify(&facts, &known), classify(&facts, &known));
        }
    }
}

#[test]
fn a_time_reads_as_a_day_month_year_in_utc() {
    assert_eq!(format_time(0), "1 January 1970, 00:00 UTC");
}
