//! The end-to-end proof: a temporary app password signs in through the real server, its
//! last-use report arrives, it is revoked and refused, and it is deleted.

use std::time::Duration;

use secrecy::SecretString;

use super::{Outcome, Report};
use crate::domain::app_password::Scope;
use crate::domain::{AppPasswordId, Username};
use crate::dovecot::doveadm::{self, SessionSync};
use crate::imap::{run_check, CheckReport, KnownCredential, MailServer, Verdict};
use crate::infra::hashing::Profile;
use crate::services::Services;
use crate::store::app_passwords::{self, NewAppPassword, Revocation};
use crate::store::audit::{self, Entry, Event};
use crate::store::dovecot_reports::{self, ReportKind};
use crate::store::users::UserRow;

/// The temporary password expires by itself even if the check is interrupted.
const LIFETIME_SECS: i64 = 600;
/// How long to wait for Dovecot's report of the login.
const REPORT_WAIT: Duration = Duration::from_secs(5);
const SIGN_IN: &str = "Sign-in with a new app password";
const LAST_USE: &str = "Last-use report";
const REVOKED: &str = "Refused after revocation";
const CLEAN_UP: &str = "Clean-up";

pub(super) async fn run(
    ctx: &Services,
    admin: &UserRow,
    server: &MailServer,
    ip: Option<&str>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let started = ctx.now();
    let (id, password) = create(ctx, admin, ip, started).await?;
    let first = sign_in(
        ctx,
        admin,
        server,
        &password,
        KnownCredential::ActiveAppPassword {
            network_limited: false,
        },
    )
    .await;
    let signed_in = first.verdict.is_success();
    if signed_in {
        report.push(
            SIGN_IN,
            Outcome::Pass,
            format!(
                "{} signed in to {} and opened the inbox",
                admin.email, report.server
            ),
        );
        check_last_use(ctx, admin, id, started, report).await?;
    } else {
        report.push(SIGN_IN, Outcome::Fail, first_failure(&first.verdict));
        report.push(LAST_USE, Outcome::Skipped, "no sign-in to report");
    }

    let revoked_at = ctx.now();
    let sync = revoke(ctx, admin, id, ip, revoked_at).await?;
    if signed_in {
        let second = sign_in(
            ctx,
            admin,
            server,
            &password,
            KnownCredential::RevokedAppPassword { at: revoked_at },
        )
        .await;
        let (outcome, detail) = after_revocation(ctx, &second.verdict, sync);
        report.push(REVOKED, outcome, detail);
    } else {
        report.push(REVOKED, Outcome::Skipped, "the first sign-in failed");
    }

    sqlx::query("DELETE FROM app_passwords WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(admin.id)
        .execute(&ctx.db.pool)
        .await?;
    report.push(
        CLEAN_UP,
        Outcome::Pass,
        "the temporary app password was deleted",
    );
    Ok(())
}

async fn create(
    ctx: &Services,
    admin: &UserRow,
    ip: Option<&str>,
    now: i64,
) -> anyhow::Result<(AppPasswordId, SecretString)> {
    let generated = crate::infra::random::new_app_password()?;
    let hash = ctx
        .hasher
        .hash(Profile::App, generated.plaintext.clone())
        .await?;
    let name = format!("Dovecot self-check {}", generated.lookup_id.as_str());
    let mut tx = ctx.db.begin().await?;
    let id = app_passwords::insert(
        &mut *tx,
        NewAppPassword {
            user_id: admin.id,
            name: &name,
            lookup_id: generated.lookup_id.as_str(),
            password_hash: &hash,
            scope: Scope::Imap.as_str(),
            allowed_nets: None,
            now,
            expires_at: Some(now + LIFETIME_SECS),
        },
    )
    .await?;
    audit::record(
        &mut *tx,
        Entry {
            actor: Some(admin.id),
            subject: Some(admin.id),
            event: Event::AppPasswordCreated,
            detail: format!(
                "id {id}, name {name:?}, lookup id {} (Dovecot self-check, expires in 10 minutes)",
                generated.lookup_id.as_str()
            ),
            ip,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((id, generated.plaintext))
}

async fn sign_in(
    ctx: &Services,
    admin: &UserRow,
    server: &MailServer,
    password: &SecretString,
    known: KnownCredential,
) -> CheckReport {
    // Nobody watches the steps live here: the receiving end is dropped at once.
    let (events, _) = tokio::sync::mpsc::channel(crate::imap::EVENT_CHANNEL_CAPACITY);
    let limits = ctx.settings.check_limits();
    run_check(server, &admin.email, password, &limits, events)
        .await
        .with_known_credential(&known)
}

/// Why a password Mailkeys has just stored could not sign in, in terms of Dovecot's setup.
fn first_failure(verdict: &Verdict) -> String {
    match verdict {
        Verdict::WrongPassword | Verdict::AppPasswordNetworkLimited => {
            "Dovecot refused an app password Mailkeys had just stored. It most likely reads \
             another database than Mailkeys: compare sqlite_path (or the PostgreSQL connection) \
             in Dovecot's 90-mailkeys.conf with Mailkeys' database_url (a wrong SQLite path \
             gives Dovecot an empty database of its own). Otherwise another passdb answers \
             before Mailkeys' passdbs, or Dovecot was not restarted after the change."
                .to_owned()
        }
        Verdict::TemporaryFailure { reason } => format!(
            "Dovecot could not query Mailkeys' views (temporary failure: {reason}). The usual \
             causes: Dovecot's database role lacks SELECT on the views (run \
             mailkeys-dovecot-role.sql again; a migration that re-creates a view drops its \
             GRANT), sqlite_path names a file that does not exist (SQLite then creates an empty \
             one, and Dovecot's log says \"no such table\"), the auth worker may not read the \
             SQLite file, or the database is unreachable from Dovecot. Dovecot's log names it."
        ),
        other => format!(
            "the connection test did not get in: {} {}",
            other.title(),
            other.advice()
        ),
    }
}

async fn check_last_use(
    ctx: &Services,
    admin: &UserRow,
    id: AppPasswordId,
    started: i64,
    report: &mut Report,
) -> anyhow::Result<()> {
    if ctx.settings.policy_listen.is_none() {
        report.push(
            LAST_USE,
            Outcome::Warn,
            "policy_listen is not set: Mailkeys records no last use and no failed IMAP logins",
        );
        return Ok(());
    }
    let deadline = tokio::time::Instant::now() + REPORT_WAIT;
    loop {
        let row = app_passwords::find_for_user(&ctx.db, admin.id, id).await?;
        if let Some(at) = row.and_then(|r| r.last_used_at).filter(|at| *at >= started) {
            report.push(
                LAST_USE,
                Outcome::Pass,
                format!(
                    "Dovecot reported the sign-in to the policy listener (last use recorded at {})",
                    crate::imap::verdict::format_time(at)
                ),
            );
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let refused = dovecot_reports::last(&ctx.db, ReportKind::Refused).await?;
    let accepted = dovecot_reports::last(&ctx.db, ReportKind::Accepted).await?;
    let detail = if refused.is_some_and(|at| at >= started) {
        "Dovecot's reports arrive but are refused: the secret in auth_policy_server_api_header \
         (X-Mailkeys-Policy-Secret:…, no space after the colon) differs from Mailkeys' \
         policy_secret"
            .to_owned()
    } else {
        let last = accepted.map_or("never".to_owned(), crate::imap::verdict::format_time);
        format!(
            "no report of the sign-in arrived within {} s (last report accepted: {last}). \
             Dovecot's auth_policy_server_url must point at Mailkeys' policy_listen ({}) with \
             the path {}, and auth_policy_report_after_auth = yes",
            REPORT_WAIT.as_secs(),
            ctx.settings
                .policy_listen
                .map_or_else(String::new, |a| a.to_string()),
            crate::dovecot::policy::PATH
        )
    };
    report.push(LAST_USE, Outcome::Fail, detail);
    Ok(())
}

async fn revoke(
    ctx: &Services,
    admin: &UserRow,
    id: AppPasswordId,
    ip: Option<&str>,
    now: i64,
) -> anyhow::Result<SessionSync> {
    let mut tx = ctx.db.begin().await?;
    let reason = "Dovecot self-check";
    app_passwords::revoke(
        &mut *tx,
        id,
        &Revocation {
            user_id: admin.id,
            by: Some(admin.id),
            reason,
            now,
        },
    )
    .await?;
    audit::record(
        &mut *tx,
        Entry {
            actor: Some(admin.id),
            subject: Some(admin.id),
            event: Event::AppPasswordRevoked,
            detail: format!("id {id}, reason {reason:?}"),
            ip,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    let user = Username::parse(&admin.email).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(doveadm::end_sessions(ctx.doveadm.as_ref(), &user, true).await)
}

fn after_revocation(ctx: &Services, verdict: &Verdict, sync: SessionSync) -> (Outcome, String) {
    match verdict {
        Verdict::AppPasswordRevoked { .. } | Verdict::WrongPassword => (
            Outcome::Pass,
            match sync {
                SessionSync::Ended => "refused at once; open sessions were kicked".to_owned(),
                _ => "refused at once (open sessions cannot be kicked without the doveadm API)"
                    .to_owned(),
            },
        ),
        Verdict::StillAcceptedAfterRevocation { .. } | Verdict::Success { .. } => {
            let version = ctx.doveadm.as_ref().and_then(|d| d.version());
            let detail = match (ctx.doveadm.as_ref(), version) {
                (None, _) => "the revoked password still signs in: Dovecot's auth cache is on \
                              and Mailkeys has no doveadm API to flush it. Set auth_cache_size = 0 \
                              (the generated configuration does), or configure doveadm_url and \
                              doveadm_api_key."
                    .to_owned(),
                (Some(_), Some(v)) if !v.can_flush_auth_cache() => format!(
                    "the revoked password still signs in: Dovecot's auth cache is on, and \
                     Dovecot {v} cannot flush it through doveadm. Set auth_cache_size = 0."
                ),
                (Some(_), _) => format!(
                    "the revoked password still signs in although Mailkeys asked doveadm to \
                     flush the cache ({}). Check the doveadm step above, or set \
                     auth_cache_size = 0.",
                    sync.as_query()
                ),
            };
            (Outcome::Fail, detail)
        }
        other => (
            Outcome::Warn,
            format!(
                "the second sign-in did not get an answer on the password: {}",
                other.title()
            ),
        ),
    }
}
