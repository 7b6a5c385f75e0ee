//! End to end: passwords made in the browser, used by real IMAP clients against a real
//! Dovecot running the shipped configuration on the same database.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use secrecy::SecretString;

use crate::dovecot::DovecotVersion;
use crate::dovecot::{Dovecot, DovecotDb, DovecotOptions};
use crate::{each_dovecot, each_version};
use mailkeys_test_support::prelude::*;

const POLICY_SECRET: &str = "e2e-policy-secret-0123456789abcdef";

pub struct Stack {
    pub app: TestApp,
    pub dovecot: Dovecot,
}

/// Sets or clears the account flag column `flag` of the user `user_id` in the database.
async fn set_account_flag(app: &TestApp, user_id: i64, flag: &str, on: bool) {
    let value = if on { "TRUE" } else { "FALSE" };
    sqlx::query(&format!("UPDATE users SET {flag} = {value} WHERE id = $1"))
        .bind(user_id)
        .execute(&app.db.pool)
        .await
        .unwrap();
}

/// Creates the never-expiring app password `name` with one more form field, `limit`; returns
/// its plaintext.
async fn never_expiring(browser: &Browser, name: &str, limit: (&str, &str)) -> String {
    let fields = [("name", name), ("expires", "never"), limit];
    browser.create_app_password_from(&fields).await.plaintext
}

/// Whether the stack's Dovecot accepts `password` for `user` over `service` from `rip`.
async fn accepts(stack: &Stack, user: &str, password: &str, service: &str, rip: &str) -> bool {
    stack
        .dovecot
        .auth_test(user, password, service, rip)
        .await
        .ok
}

/// The stack with alice signed in to its app, and her browser.
pub async fn stack_with_alice(version: DovecotVersion, backend: Backend) -> (Stack, Browser) {
    let stack = stack(version, backend).await;
    let browser = stack.app.signed_in("alice@example.org").await;
    (stack, browser)
}

/// Where Dovecot finds the test app's database.
pub fn dovecot_db(database_url: &str) -> DovecotDb {
    if let Some(path) = database_url.strip_prefix("sqlite://") {
        return DovecotDb::Sqlite(path.into());
    }
    let url = url::Url::parse(database_url).unwrap();
    DovecotDb::Postgres {
        host: url.host_str().unwrap().to_owned(),
        port: url.port().unwrap_or(5432),
        dbname: url.path().trim_start_matches('/').to_owned(),
        user: url.username().to_owned(),
        password: None,
    }
}

/// Mailkeys and Dovecot on one fresh database, wired both ways: Dovecot reports logins to
/// Mailkeys' policy listener, Mailkeys flushes and kicks through Dovecot's doveadm API.
pub async fn stack(version: DovecotVersion, backend: Backend) -> Stack {
    let (dir, database_url) = fresh_database_for(backend, version).await;
    let reserved_policy = reserve_port();
    let policy_port = reserved_policy.port();
    let mut options = DovecotOptions::new(version, dovecot_db(&database_url));
    options.policy_url = Some(format!(
        "http://127.0.0.1:{policy_port}{}",
        mailkeys::dovecot::policy::PATH
    ));
    options.policy_secret = Some(POLICY_SECRET.to_owned());
    let dovecot = Dovecot::start(options).await;
    // The full-path form (`…/doveadm/v1`); the self-check tests use the base form.
    let doveadm_url = dovecot.doveadm_url.clone();
    let (imaps_port, api_key) = (dovecot.imaps_port, dovecot.doveadm_api_key.clone());
    let ca = dovecot.ca_cert_pem.clone();
    let imap_port = dovecot.imap_port;
    reserved_policy.release();
    let app = spawn_app_on(dir, database_url, |s| {
        s.policy_listen = Some(format!("127.0.0.1:{policy_port}").parse().unwrap());
        s.policy_secret = Some(SecretString::from(POLICY_SECRET));
        s.doveadm_url = Some(doveadm_url.parse().unwrap());
        s.doveadm_api_key = Some(SecretString::from(api_key));
        s.imap_host = "localhost".into();
        s.imap_port = imaps_port;
        s.mail_servers = vec![
            mailkeys::imap::MailServer {
                name: "IMAPS".into(),
                host: "localhost".into(),
                port: imaps_port,
                tls: mailkeys::imap::TlsMode::Implicit,
                ca_file: Some(ca.clone()),
            },
            mailkeys::imap::MailServer {
                name: "STARTTLS".into(),
                host: "localhost".into(),
                port: imap_port,
                tls: mailkeys::imap::TlsMode::StartTls,
                ca_file: Some(ca),
            },
        ];
    })
    .await;
    Stack { app, dovecot }
}

/// A fresh loopback source address per failing login: Dovecot slows down repeat offenders.
pub fn source_ip() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed) + std::process::id() % 200 * 250;
    format!(
        "127.{}.{}.{}",
        1 + (n >> 16) % 250,
        (n >> 8) & 255,
        1 + (n & 127)
    )
}

/// `Ok` when the client whose output `out` is succeeded, else `Err` with what `why` makes of
/// its output.
fn client_result(
    out: &std::process::Output,
    why: impl FnOnce(&std::process::Output) -> String,
) -> Result<(), String> {
    if out.status.success() {
        Ok(())
    } else {
        Err(why(out))
    }
}

/// Python's imaplib, a client no one here wrote: IMAP LOGIN over TLS, then SELECT INBOX.
fn python_login(stack: &Stack, user: &str, password: &str) -> Result<(), String> {
    let script = r#"
import imaplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
m = imaplib.IMAP4_SSL("localhost", int(sys.argv[2]), ssl_context=ctx)
try:
    m.login(sys.argv[3], sys.argv[4])
except imaplib.IMAP4.error as e:
    print("refused:", e); sys.exit(3)
m.select("INBOX"); m.logout(); print("ok")
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&stack.dovecot.ca_cert_pem)
        .arg(stack.dovecot.imaps_port.to_string())
        .args([user, password])
        .output()
        .expect("python3 runs");
    client_result(&out, |out| {
        let stdout = String::from_utf8_lossy(&out.stdout);
        format!("{stdout}{}", String::from_utf8_lossy(&out.stderr))
    })
}

/// curl's IMAP client (SASL, as curl picks it), from a chosen source address.
fn curl_login(stack: &Stack, source: &str, user: &str, password: &str) -> Result<(), String> {
    let out = std::process::Command::new("curl")
        .args([
            "--silent",
            "--show-error",
            "--max-time",
            "10",
            "--interface",
            source,
            "--cacert",
        ])
        .arg(&stack.dovecot.ca_cert_pem)
        .arg("--user")
        .arg(format!("{user}:{password}"))
        .arg(format!("imaps://localhost:{}/", stack.dovecot.imaps_port))
        .args(["-X", "NOOP"])
        .output()
        .expect("curl runs");
    client_result(&out, |out| {
        let stderr = String::from_utf8_lossy(&out.stderr);
        format!("{stderr} (password {password:?})")
    })
}

/// Dovecot's kick signals the session's process and returns; the process dies a moment
/// later. True once the session is gone, within two seconds.
pub(crate) async fn kicked<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    session: &mut crate::dovecot::ImapSession<S>,
) -> bool {
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if session.noop().await.is_err() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// An IMAPS session of `user`, which must log in (`what` says why it must).
pub(crate) async fn live_session(
    stack: &Stack,
    user: &str,
    password: &str,
    what: &str,
) -> crate::dovecot::ImapSession<crate::dovecot::TlsStream> {
    stack
        .dovecot
        .imaps_login(&source_ip(), user, password)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

pub(crate) async fn imaps(stack: &Stack, user: &str, password: &str) -> Result<(), String> {
    stack
        .dovecot
        .imaps_login(&source_ip(), user, password)
        .await
        .map(|_| ())
}

async fn an_app_password_from_the_browser_logs_in_with_three_clients(
    version: DovecotVersion,
    backend: Backend,
) {
    let (stack, browser) = stack_with_alice(version, backend).await;
    let created = browser.create_app_password("Phone").await;
    let user = "alice@example.org";

    imaps(&stack, user, &created.plaintext)
        .await
        .unwrap_or_else(|e| panic!("Rust client: {e}\n{}", stack.dovecot.log()));
    python_login(&stack, user, &created.plaintext).unwrap_or_else(|e| panic!("imaplib: {e}"));
    curl_login(&stack, "127.0.0.1", user, &created.plaintext)
        .unwrap_or_else(|e| panic!("curl: {e}"));
    // Upper-case username, as some clients send it.
    imaps(&stack, "Alice@Example.org", &created.plaintext)
        .await
        .expect("case-insensitive username");

    let wrong_secret = format!("{}-aaaaaa-aaaaaa-aaaaaa-aaaaaa", &created.plaintext[..6]);
    assert!(
        imaps(&stack, user, &wrong_secret).await.is_err(),
        "right lookup id, wrong secret"
    );
    assert!(curl_login(&stack, &source_ip(), user, &wrong_secret).is_err());
    assert!(
        imaps(&stack, user, PASSWORD).await.is_err(),
        "main password refused by default"
    );
}
each_dovecot!(an_app_password_from_the_browser_logs_in_with_three_clients);

async fn last_use_is_recorded_from_a_real_login(version: DovecotVersion, backend: Backend) {
    let (stack, browser) = stack_with_alice(version, backend).await;
    let created = browser.create_app_password("Phone").await;
    let source = source_ip();
    stack
        .dovecot
        .imaps_login(&source, "alice@example.org", &created.plaintext)
        .await
        .expect("login");
    let id = app_password_id(&stack.app, &created.plaintext[..6]).await;
    let mut recorded = None;
    for _ in 0..50 {
        let row: (Option<i64>, Option<String>, Option<String>) =
            sqlx::query_as("SELECT last_used_at, last_used_ip, last_used_protocol FROM app_passwords WHERE id = $1").bind(id).fetch_one(&stack.app.db.pool).await.unwrap();
        if row.0.is_some() {
            recorded = Some(row);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, ip, protocol) =
        recorded.unwrap_or_else(|| panic!("no last use recorded\n{}", stack.dovecot.log()));
    assert_eq!(ip.as_deref(), Some(source.as_str()));
    assert_eq!(protocol.as_deref(), Some("imap"));
    assert!(browser
        .get_text("/")
        .await
        .contains(&format!("from {source} (imap)")));

    // A failed login is counted for the account and the address.
    let bad = source_ip();
    let _ = stack
        .dovecot
        .imaps_login(&bad, "alice@example.org", "not-a-password")
        .await;
    let mut counted = 0i64;
    for _ in 0..50 {
        counted = sqlx::query_scalar(
            "SELECT COALESCE(MAX(failures), 0) FROM imap_login_failures WHERE ip = $1",
        )
        .bind(&bad)
        .fetch_one(&stack.app.db.pool)
        .await
        .unwrap();
        if counted > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(counted, 1);
}
each_dovecot!(last_use_is_recorded_from_a_real_login);

async fn a_revoked_password_is_refused_at_once_and_revoke_all_ends_live_sessions(
    version: DovecotVersion,
    backend: Backend,
) {
    let (stack, browser) = stack_with_alice(version, backend).await;
    let phone = browser.create_app_password("Phone").await;
    let laptop = browser.create_app_password("Laptop").await;
    let user = "alice@example.org";
    imaps(&stack, user, &phone.plaintext)
        .await
        .expect("works before");

    let id = app_password_id(&stack.app, &phone.plaintext[..6]).await;
    let response = browser.revoke(id, "stolen").await;
    let revoked_at = Instant::now();
    assert_eq!(location(&response), "/?done=revoked&sessions=ended");
    let refused = imaps(&stack, user, &phone.plaintext).await;
    let elapsed = revoked_at.elapsed();
    assert!(refused.is_err(), "the next login after revocation fails");
    assert!(
        elapsed < Duration::from_secs(1),
        "refused within a second ({elapsed:?})"
    );
    imaps(&stack, user, &laptop.plaintext)
        .await
        .expect("other passwords still work");

    let mut session = live_session(&stack, user, &laptop.plaintext, "live session").await;
    session.noop().await.expect("alive");
    let response = browser.revoke_all().await;
    assert_eq!(location(&response), "/?done=revoked-all&sessions=ended");
    assert!(kicked(&mut session).await, "the live session was kicked");
    assert!(imaps(&stack, user, &laptop.plaintext).await.is_err());
}
each_dovecot!(a_revoked_password_is_refused_at_once_and_revoke_all_ends_live_sessions);

async fn rotation_with_revoke_all_kicks_and_refuses(version: DovecotVersion, backend: Backend) {
    let (stack, browser) = stack_with_alice(version, backend).await;
    let phone = browser.create_app_password("Phone").await;
    let mut session = live_session(&stack, "alice@example.org", &phone.plaintext, "live").await;
    let response = browser.rotate(true).await;
    assert_eq!(
        location(&response),
        "/account?done=password-and-revoked&sessions=ended"
    );
    assert!(kicked(&mut session).await, "kicked on rotation");
    assert!(imaps(&stack, "alice@example.org", &phone.plaintext)
        .await
        .is_err());
}
each_dovecot!(rotation_with_revoke_all_kicks_and_refuses);

async fn expired_disabled_reset_and_out_of_scope_passwords_are_refused(
    version: DovecotVersion,
    backend: Backend,
) {
    let (stack, browser) = stack_with_alice(version, backend).await;
    let app = &stack.app;
    let user = "alice@example.org";

    let expiring = browser.create_app_password("Expiring").await;
    imaps(&stack, user, &expiring.plaintext)
        .await
        .expect("valid before expiry");
    sqlx::query("UPDATE app_passwords SET expires_at = 1 WHERE lookup_id = $1")
        .bind(&expiring.plaintext[..6])
        .execute(&app.db.pool)
        .await
        .unwrap();
    assert!(
        imaps(&stack, user, &expiring.plaintext).await.is_err(),
        "expired"
    );

    let imap_only = browser.create_app_password("IMAP only").await;
    let both = never_expiring(&browser, "Both", ("scope", "imap+smtp")).await;
    assert!(accepts(&stack, user, &imap_only.plaintext, "imap", &source_ip()).await);
    assert!(
        !accepts(&stack, user, &imap_only.plaintext, "smtp", &source_ip()).await,
        "IMAP-only password refused for SMTP"
    );
    assert!(
        accepts(&stack, user, &both, "smtp", &source_ip()).await,
        "IMAP+SMTP password accepted for SMTP"
    );

    let limited = never_expiring(&browser, "Office", ("allowed_nets", "192.0.2.0/24")).await;
    assert!(
        accepts(&stack, user, &limited, "imap", "192.0.2.10").await,
        "inside the allowed network"
    );
    assert!(
        !accepts(&stack, user, &limited, "imap", "198.51.100.10").await,
        "outside the allowed network"
    );

    let alice = app.user_id(user).await;
    for flag in ["disabled", "must_reset"] {
        set_account_flag(app, alice, flag, true).await;
        assert!(
            imaps(&stack, user, &imap_only.plaintext).await.is_err(),
            "{flag} account refused"
        );
        set_account_flag(app, alice, flag, false).await;
    }
    imaps(&stack, user, &imap_only.plaintext)
        .await
        .expect("works again");
}
each_dovecot!(expired_disabled_reset_and_out_of_scope_passwords_are_refused);

async fn the_main_password_works_over_imap_only_when_allowed(
    version: DovecotVersion,
    backend: Backend,
) {
    let (stack, browser) = stack_with_alice(version, backend).await;
    let user = "alice@example.org";
    assert!(
        imaps(&stack, user, PASSWORD).await.is_err(),
        "off by default"
    );
    assert_eq!(
        location(&browser.set_main_imap(true).await),
        "/account?done=imap&sessions=ended"
    );
    imaps(&stack, user, PASSWORD)
        .await
        .unwrap_or_else(|e| panic!("allowed by the user: {e}\n{}", stack.dovecot.log()));
    let alice = stack.app.user_id(user).await;
    sqlx::query("UPDATE users SET main_imap_admin_blocked = TRUE WHERE id = $1")
        .bind(alice)
        .execute(&stack.app.db.pool)
        .await
        .unwrap();
    assert!(
        imaps(&stack, user, PASSWORD).await.is_err(),
        "an admin's block wins"
    );
}
each_dovecot!(the_main_password_works_over_imap_only_when_allowed);

async fn quotes_and_sql_in_names_and_usernames_neither_break_nor_widen_the_query(
    version: DovecotVersion,
    backend: Backend,
) {
    let stack = stack(version, backend).await;
    let app = &stack.app;
    app.add_user("o'hara@example.org", PASSWORD, false).await;
    let browser = app.browser();
    assert_eq!(
        browser.sign_in_status("o'hara@example.org", PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    let created = browser
        .create_app_password("'; DROP TABLE users; -- 100% \"quoted\"")
        .await;
    imaps(&stack, "o'hara@example.org", &created.plaintext)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", stack.dovecot.log()));

    let victim = app.signed_in("alice@example.org").await;
    let alice_pw = victim.create_app_password("Phone").await;
    for user in [
        "alice@example.org' OR '1'='1",
        "%",
        "alice@example.org'--",
        "o'hara@example.org' OR username LIKE '%",
    ] {
        assert!(
            imaps(&stack, user, &alice_pw.plaintext).await.is_err(),
            "{user:?} must not log in"
        );
        assert!(
            imaps(&stack, user, &created.plaintext).await.is_err(),
            "{user:?} must not log in"
        );
    }
    // A password that is itself SQL: refused, and the service keeps working.
    assert!(imaps(&stack, "alice@example.org", "x' OR '1'='1")
        .await
        .is_err());
    imaps(&stack, "alice@example.org", &alice_pw.plaintext)
        .await
        .expect("still works");
    let users = app.count("SELECT COUNT(*) FROM users").await;
    assert_eq!(users, 2, "no account was added or lost");
}
each_dovecot!(quotes_and_sql_in_names_and_usernames_neither_break_nor_widen_the_query);

async fn a_user_with_50_app_passwords_costs_one_hash_check_per_login(
    version: DovecotVersion,
    backend: Backend,
) {
    let (stack, browser) = stack_with_alice(version, backend).await;
    let mut last = String::new();
    for n in 0..50 {
        last = browser
            .create_app_password(&format!("Device {n}"))
            .await
            .plaintext;
    }
    imaps(&stack, "alice@example.org", &last)
        .await
        .expect("the 50th logs in");

    // The query Dovecot runs selects by lookup id: exactly one row, whatever the count.
    let rows: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM dovecot_app_passwords WHERE username = $1 AND lookup_id = $2",
    )
    .bind("alice@example.org")
    .bind(&last[..6])
    .fetch_one(&stack.app.db.pool)
    .await
    .unwrap();
    assert_eq!(rows, 1);

    // A wrong secret behind a real lookup id: one Argon2 mismatch in Dovecot's log, and the
    // main-password passdb finds no row (no second hash).
    let source = source_ip();
    let wrong = format!("{}-aaaaaa-aaaaaa-aaaaaa-aaaaaa", &last[..6]);
    assert!(stack
        .dovecot
        .imaps_login(&source, "alice@example.org", &wrong)
        .await
        .is_err());
    // Both passdbs' answers (the mismatch, then passdb 2's "unknown user") reach the log a
    // moment after the client has its answer.
    let needle = format!("alice@example.org,{source}");
    let complete = |log: &str| {
        let lines = || log.lines().filter(|l| l.contains(&needle));
        lines().any(|l| l.contains("Password mismatch"))
            && lines().any(|l| l.contains("unknown user"))
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut log = stack.dovecot.log();
    while !complete(&log) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(25)).await;
        log = stack.dovecot.log();
    }
    let attempt: Vec<&str> = log.lines().filter(|l| l.contains(&needle)).collect();
    let mismatches = attempt
        .iter()
        .filter(|l| l.contains("Password mismatch"))
        .count();
    assert_eq!(
        mismatches, 1,
        "one hash check for a user with 50 app passwords: {attempt:#?}"
    );
}
each_dovecot!(a_user_with_50_app_passwords_costs_one_hash_check_per_login);

/// The README's recipe for PostgreSQL: Dovecot logs in as a role that may read the three
/// views and nothing else, and logins work through it.
async fn dovecot_reads_postgres_through_a_role_that_sees_only_the_views(version: DovecotVersion) {
    use sqlx::Connection;
    let (dir, database_url) = fresh_database_for(Backend::Postgres, version).await;
    let app = spawn_app_on(dir, database_url.clone(), |_| {}).await;
    let browser = app.signed_in("alice@example.org").await;
    let created = browser.create_app_password("Phone").await;

    let url = url::Url::parse(&database_url).unwrap();
    let dbname = url.path().trim_start_matches('/').to_owned();
    let role = format!(
        "mk_dovecot_{}",
        mailkeys::infra::random::random_symbols(12).unwrap()
    );
    let password = mailkeys::infra::random::random_symbols(24).unwrap();
    for sql in [
        format!("CREATE ROLE {role} LOGIN PASSWORD '{password}'"),
        format!("GRANT CONNECT ON DATABASE {dbname} TO {role}"),
        format!("GRANT USAGE ON SCHEMA public TO {role}"),
        format!("GRANT SELECT ON dovecot_app_passwords, dovecot_lookup_ids, dovecot_main_passwords TO {role}"),
    ] {
        sqlx::query(&sql).execute(&app.db.pool).await.unwrap();
    }
    let options = DovecotOptions::new(
        version,
        DovecotDb::Postgres {
            host: url.host_str().unwrap().to_owned(),
            port: url.port().unwrap_or(5432),
            dbname: dbname.clone(),
            user: role.clone(),
            password: Some(password.clone()),
        },
    );
    let dovecot = Dovecot::start(options).await;
    dovecot
        .imaps_login(&source_ip(), "alice@example.org", &created.plaintext)
        .await
        .unwrap_or_else(|e| panic!("login through the read-only role: {e}\n{}", dovecot.log()));

    let as_role = format!(
        "postgres://{role}:{password}@{}:{}/{dbname}",
        url.host_str().unwrap(),
        url.port().unwrap_or(5432)
    );
    let mut conn = sqlx::PgConnection::connect(&as_role)
        .await
        .expect("the role can connect");
    for table in ["users", "app_passwords", "sessions", "audit_log"] {
        let refused = sqlx::query(&format!("SELECT 1 FROM {table} LIMIT 1"))
            .execute(&mut conn)
            .await;
        let code = refused.err().and_then(|e| {
            e.as_database_error()
                .and_then(|d| d.code().map(|c| c.into_owned()))
        });
        assert_eq!(
            code.as_deref(),
            Some("42501"),
            "{table} must be out of the role's reach"
        );
    }
    drop(conn);
    drop(dovecot);
    // Roles are cluster-wide: leave none behind.
    let _ = sqlx::query(&format!("DROP OWNED BY {role}"))
        .execute(&app.db.pool)
        .await;
    let _ = sqlx::query(&format!("DROP ROLE {role}"))
        .execute(&app.db.pool)
        .await;
}
each_version!(dovecot_reads_postgres_through_a_role_that_sees_only_the_views);
