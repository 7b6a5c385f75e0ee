//! The live-installation self-check against a real Dovecot (2.3 and 2.4): it passes on a
//! correct setup, from the admin page and from `mailkeys dovecot check`, and names the fault
//! for each usual misconfiguration.

use reqwest::StatusCode;
use secrecy::SecretString;

use crate::dovecot::{Dovecot, DovecotDb, DovecotOptions, DovecotVersion};
use crate::imap_logins::dovecot_db;
use crate::{each_dovecot, each_version};
use mailkeys_test_support::prelude::*;

pub(crate) const ADMIN: &str = "root@example.org";
const POLICY_SECRET: &str = "selfcheck-policy-secret-0123456789";

/// How Mailkeys and Dovecot are wired for one test; `Default` is a correct setup.
pub(crate) struct Wiring {
    /// Mailkeys' database; `None`: a fresh one.
    database: Option<(tempfile::TempDir, String)>,
    /// Where Dovecot reads; `None`: Mailkeys' own database.
    dovecot_db: Option<DovecotDb>,
    dovecot_policy_secret: String,
    /// Mailkeys' doveadm key; `None`: the right one.
    mailkeys_doveadm_key: Option<String>,
    /// Mailkeys knows the doveadm API at all.
    doveadm: bool,
    auth_cache: bool,
}

impl Default for Wiring {
    fn default() -> Self {
        Self {
            database: None,
            dovecot_db: None,
            dovecot_policy_secret: POLICY_SECRET.into(),
            mailkeys_doveadm_key: None,
            doveadm: true,
            auth_cache: false,
        }
    }
}

pub(crate) struct Wired {
    pub app: TestApp,
    pub dovecot: Dovecot,
}

pub(crate) async fn wired(
    version: DovecotVersion,
    backend: Backend,
    tweak: impl FnOnce(&mut Wiring),
) -> Wired {
    let mut wiring = Wiring::default();
    tweak(&mut wiring);
    let (dir, database_url) = match wiring.database.take() {
        Some(existing) => existing,
        None => fresh_database_for(backend, version).await,
    };
    let reserved_policy = reserve_port();
    let policy_port = reserved_policy.port();
    let mut options = DovecotOptions::new(
        version,
        wiring
            .dovecot_db
            .take()
            .unwrap_or_else(|| dovecot_db(&database_url)),
    );
    options.policy_url = Some(format!(
        "http://127.0.0.1:{policy_port}{}",
        mailkeys::dovecot::policy::PATH
    ));
    options.policy_secret = Some(wiring.dovecot_policy_secret.clone());
    options.auth_cache = wiring.auth_cache;
    let dovecot = Dovecot::start(options).await;
    let (base, key, imaps, ca) = (
        dovecot.doveadm_base_url.clone(),
        dovecot.doveadm_api_key.clone(),
        dovecot.imaps_port,
        dovecot.ca_cert_pem.clone(),
    );
    reserved_policy.release();
    let app = spawn_app_on(dir, database_url, |s| {
        s.policy_listen = Some(format!("127.0.0.1:{policy_port}").parse().unwrap());
        s.policy_secret = Some(SecretString::from(POLICY_SECRET));
        if wiring.doveadm {
            s.doveadm_url = Some(base.parse().unwrap());
            s.doveadm_api_key = Some(SecretString::from(
                wiring.mailkeys_doveadm_key.clone().unwrap_or(key),
            ));
        }
        s.mail_servers = vec![mailkeys::imap::MailServer {
            name: "IMAPS".into(),
            host: "localhost".into(),
            port: imaps,
            tls: mailkeys::imap::TlsMode::Implicit,
            ca_file: Some(ca),
        }];
    })
    .await;
    app.add_user(ADMIN, PASSWORD, true).await;
    Wired { app, dovecot }
}

/// Runs the self-check in-process, as the admin page does.
async fn self_check(w: &Wired) -> mailkeys::dovecot::selfcheck::Report {
    use mailkeys::dovecot::selfcheck;
    let state = &w.app.state;
    let admin = mailkeys::store::users::find_by_id(&state.db, w.app.user_id(ADMIN).await.into())
        .await
        .unwrap()
        .unwrap();
    let server = state.settings.check_targets().remove(0);
    selfcheck::run(&state.services, &admin, &server, Some("127.0.0.1"))
        .await
        .unwrap()
}

/// The detail of the step named `name`, asserting its outcome.
fn step(
    report: &mailkeys::dovecot::selfcheck::Report,
    name: &str,
    outcome: mailkeys::dovecot::selfcheck::Outcome,
    w: &Wired,
) -> String {
    let found = report
        .steps
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no step {name}: {report:#?}"));
    assert_eq!(
        found.outcome,
        outcome,
        "{name}: {report:#?}\n{}",
        w.dovecot.log()
    );
    found.detail.clone()
}

use mailkeys::dovecot::selfcheck::Outcome::{Fail, Pass, Skipped};

async fn passes_on_a_correct_setup_from_the_admin_page(version: DovecotVersion, backend: Backend) {
    let w = wired(version, backend, |_| {}).await;
    let browser = w.app.browser();
    assert_eq!(
        browser.sign_in(ADMIN, PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    let status = browser.get_text("/admin/dovecot").await;
    assert!(
        status.contains(&format!("{version} (from the doveadm API)")),
        "{status}"
    );
    let response = browser
        .post(
            "/admin/dovecot",
            "/admin/dovecot/check",
            &[("server", "IMAPS")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    assert!(
        page.contains("Dovecot and Mailkeys work together"),
        "{page}\n{}",
        w.dovecot.log()
    );
    assert_eq!(
        page.matches(r#"<td data-label="Result">PASS</td>"#).count(),
        6,
        "{page}"
    );
    assert!(page.contains(&format!("Dovecot {version}")), "{page}");
    // Audited, and nothing left behind.
    let admin = w.app.user_id(ADMIN).await;
    let events = w.app.audit_events(admin).await;
    for event in [
        "app_password_created",
        "app_password_revoked",
        "dovecot_self_check",
    ] {
        assert!(
            events.iter().any(|e| e == event),
            "{event} not in {events:?}"
        );
    }
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM app_passwords")
        .fetch_one(&w.app.db.pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
}
each_dovecot!(passes_on_a_correct_setup_from_the_admin_page);

async fn names_a_wrong_database_path(version: DovecotVersion) {
    let elsewhere = crate::dovecot::Install::of(version).tempdir("mkdb-");
    let missing = elsewhere.path().join("no-such-dir").join("mailkeys.db");
    let w = wired(version, Backend::Sqlite, |c| {
        c.dovecot_db = Some(DovecotDb::Sqlite(missing));
    })
    .await;
    let report = self_check(&w).await;
    let detail = step(&report, "Sign-in with a new app password", Fail, &w);
    assert!(detail.contains("sqlite_path"), "{detail}");
    step(&report, "Last-use report", Skipped, &w);
    step(&report, "Clean-up", Pass, &w);
    assert!(report.failed());
}
each_version!(names_a_wrong_database_path);

async fn names_a_missing_view_grant(version: DovecotVersion) {
    let (dir, database_url) = fresh_database_for(Backend::Postgres, version).await;
    // Migrated, and a role that may connect but was never granted the views.
    let db = mailkeys::store::Db::connect(&database_url).await.unwrap();
    db.migrate().await.unwrap();
    let url = url::Url::parse(&database_url).unwrap();
    let dbname = url.path().trim_start_matches('/').to_owned();
    let role = format!(
        "mk_nogrant_{}",
        mailkeys::infra::random::random_symbols(10).unwrap()
    );
    for sql in [
        format!("CREATE ROLE {role} LOGIN PASSWORD 'pw-{role}'"),
        format!("GRANT CONNECT ON DATABASE {dbname} TO {role}"),
        format!("GRANT USAGE ON SCHEMA public TO {role}"),
    ] {
        sqlx::query(&sql).execute(&db.pool).await.unwrap();
    }
    let dovecot_db = DovecotDb::Postgres {
        host: url.host_str().unwrap().to_owned(),
        port: url.port().unwrap_or(5432),
        dbname,
        user: role.clone(),
        password: Some(format!("pw-{role}")),
    };
    let w = wired(version, Backend::Postgres, |c| {
        c.database = Some((dir, database_url));
        c.dovecot_db = Some(dovecot_db);
    })
    .await;
    let report = self_check(&w).await;
    let detail = step(&report, "Sign-in with a new app password", Fail, &w);
    assert!(detail.contains("lacks SELECT on the views"), "{detail}");
    let log = w.dovecot.log_with("permission denied").await;
    assert!(log.contains("permission denied"), "{log}");
}
each_version!(names_a_missing_view_grant);

async fn names_a_wrong_policy_secret(version: DovecotVersion) {
    let w = wired(version, Backend::Sqlite, |c| {
        c.dovecot_policy_secret = "not-what-mailkeys-expects-0123456789".into();
    })
    .await;
    let report = self_check(&w).await;
    step(&report, "Sign-in with a new app password", Pass, &w);
    let detail = step(&report, "Last-use report", Fail, &w);
    assert!(
        detail.contains("differs from Mailkeys' policy_secret"),
        "{detail}"
    );
    step(&report, "Refused after revocation", Pass, &w);
}
each_version!(names_a_wrong_policy_secret);

async fn names_a_wrong_doveadm_key(version: DovecotVersion) {
    let w = wired(version, Backend::Sqlite, |c| {
        c.mailkeys_doveadm_key = Some("not-the-key".into());
    })
    .await;
    let report = self_check(&w).await;
    let detail = step(&report, "doveadm API", Fail, &w);
    assert!(detail.contains("refused the API key"), "{detail}");
    // The start-up check (run in the background) said so too, on the accounts page.
    let browser = w.app.browser();
    browser.sign_in(ADMIN, PASSWORD).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut page = browser.get_text("/admin").await;
    while !page.contains("The doveadm API check failed") && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        page = browser.get_text("/admin").await;
    }
    assert!(page.contains("The doveadm API check failed"), "{page}");
    assert!(page.contains("refused the API key"), "{page}");
}
each_version!(names_a_wrong_doveadm_key);

async fn names_an_auth_cache_without_doveadm(version: DovecotVersion) {
    let w = wired(version, Backend::Sqlite, |c| {
        c.auth_cache = true;
        c.doveadm = false;
    })
    .await;
    let report = self_check(&w).await;
    step(
        &report,
        "doveadm API",
        mailkeys::dovecot::selfcheck::Outcome::Warn,
        &w,
    );
    let detail = step(&report, "Refused after revocation", Fail, &w);
    assert!(
        detail.contains("auth cache is on and Mailkeys has no doveadm API"),
        "{detail}"
    );
}
each_version!(names_an_auth_cache_without_doveadm);

/// With doveadm configured, a cache is flushed on 2.3; 2.4 cannot flush it, and the check
/// says to switch the cache off.
async fn an_auth_cache_with_doveadm_works_on_2_3_only(version: DovecotVersion) {
    let w = wired(version, Backend::Sqlite, |c| c.auth_cache = true).await;
    let report = self_check(&w).await;
    match version {
        DovecotVersion::V2_3 => {
            step(&report, "Refused after revocation", Pass, &w);
        }
        DovecotVersion::V2_4 => {
            let detail = step(&report, "Refused after revocation", Fail, &w);
            assert!(
                detail.contains("cannot flush it through doveadm"),
                "{detail}"
            );
        }
    }
}
each_version!(an_auth_cache_with_doveadm_works_on_2_3_only);
