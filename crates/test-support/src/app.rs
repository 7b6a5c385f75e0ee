//! The real application on port 0 with a fresh database per test (SQLite file or a new
//! PostgreSQL database), and the macros that run one test body on each backend and each
//! Dovecot version.

use std::net::SocketAddr;
use std::sync::Arc;

use mailkeys::clock::ManualClock;
use mailkeys::config::Settings;
use mailkeys::infra::hashing::{Hasher, Profile};
use mailkeys::startup;
use mailkeys::store::{users, Db};
use reqwest::StatusCode;
use secrecy::SecretString;

use crate::browser::{Browser, Created};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// One multi-threaded `#[tokio::test]` per case, in a module named after the body, each
/// calling the async body `name` with its case's arguments: what `both_backends!`,
/// `each_dovecot!` and `each_version!` expand to.
#[doc(hidden)]
#[macro_export]
macro_rules! test_per_case {
    ($name:ident { $($case:ident($($arg:expr),*)),+ $(,)? }) => {
        mod $name {
            #[allow(unused_imports)]
            use $crate::{app::Backend::*, dovecot::DovecotVersion::*};
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$name($($arg),*).await
                }
            )+
        }
    };
}

/// Runs one async test body against both backends: `both_backends!(name)` with
/// `async fn name(backend: Backend)`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident) => {
        $crate::test_per_case!($name { on_sqlite(Sqlite), on_postgres(Postgres) });
    };
}

/// Runs one async test body against each Dovecot version and each backend:
/// `each_dovecot!(name)` with `async fn name(version: DovecotVersion, backend: Backend)`.
#[macro_export]
macro_rules! each_dovecot {
    ($name:ident) => {
        $crate::test_per_case!($name {
            dovecot_2_3_sqlite(V2_3, Sqlite), dovecot_2_3_postgres(V2_3, Postgres),
            dovecot_2_4_sqlite(V2_4, Sqlite), dovecot_2_4_postgres(V2_4, Postgres),
        });
    };
}

/// Runs one async test body against each Dovecot version:
/// `each_version!(name)` with `async fn name(version: DovecotVersion)`.
#[macro_export]
macro_rules! each_version {
    ($name:ident) => {
        $crate::test_per_case!($name { dovecot_2_3(V2_3), dovecot_2_4(V2_4) });
    };
}

pub const PASSWORD: &str = "correct pony staple ledger";
pub const NEW_PASSWORD: &str = "violet kettle marmalade orbit";
/// The user most tests sign in as.
pub const ALICE: &str = "alice@example.org";
/// The admin of [`TestApp::signed_in_admin`].
pub const ROOT: &str = "root@example.org";

pub struct TestApp {
    pub addr: SocketAddr,
    /// The Dovecot auth-policy listener, when the test configured one.
    pub policy_addr: Option<SocketAddr>,
    /// The Prometheus listener, when the test configured one.
    pub metrics_addr: Option<SocketAddr>,
    pub db: Db,
    pub clock: Arc<ManualClock>,
    pub settings: Settings,
    pub database_url: String,
    pub state: mailkeys::web::AppState,
    _dir: tempfile::TempDir,
}

/// The PostgreSQL server tests create their databases on. A test that cannot reach it fails.
pub fn postgres_admin_url() -> String {
    std::env::var("MAILKEYS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A new empty database on the test PostgreSQL server, named `{prefix}_` and a random
/// suffix (so that leftovers can be found by prefix); its URL. Fails loudly when the server
/// does not answer.
pub async fn new_postgres_database(prefix: &str) -> String {
    use sqlx::Connection;
    let admin = postgres_admin_url();
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
        panic!("PostgreSQL is required here and is not reachable at {admin}: {e}. Run scripts/test, which starts it.")
    });
    let name = format!(
        "{prefix}_{}",
        mailkeys::infra::random::random_symbols(16).unwrap()
    );
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    format!("{base}/{name}")
}

pub async fn fresh_database_url(backend: Backend, dir: &std::path::Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.join("mailkeys.db").display()),
        Backend::Postgres => new_postgres_database("mk_test").await,
    }
}

/// Settings for tests: port 0, cheap hashes (the cost profile is not what is under test).
pub fn test_settings(database_url: &str) -> Settings {
    Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: database_url.to_owned(),
        hash_main_memory_kib: 1024,
        hash_main_iterations: 1,
        imap_host: "mail.example.org".into(),
        ..Settings::default()
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// A fresh app with alice signed in, and her browser.
pub async fn app_with_alice(backend: Backend) -> (TestApp, Browser) {
    spawn_app(backend).await.and_alice().await
}

/// A fresh app where alice has an account, and a browser that has not signed in.
pub async fn app_with_alice_signed_out(backend: Backend) -> (TestApp, Browser) {
    let app = spawn_app(backend).await;
    app.add_user(ALICE, PASSWORD, false).await;
    let browser = app.browser();
    (app, browser)
}

pub async fn spawn_app_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database_url(backend, dir.path()).await;
    spawn_app_on(dir, database_url, configure).await
}

/// A fresh database that Dovecot `version` can read too: for 2.4 the SQLite file is made
/// inside its root folder (Dovecot there sees nothing else).
pub async fn fresh_database_for(
    backend: Backend,
    version: mailkeys::dovecot::DovecotVersion,
) -> (tempfile::TempDir, String) {
    let dir = crate::dovecot::Install::of(version).tempdir("mkdb-");
    // Dovecot's auth worker runs as root in the tests, but its other processes traverse it.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let url = fresh_database_url(backend, dir.path()).await;
    (dir, url)
}

pub async fn spawn_app_on(
    dir: tempfile::TempDir,
    database_url: String,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    // The app's own log, shown for failing tests (the test writer is captured otherwise).
    let _ = tracing_subscriber::fmt()
        .with_env_filter("info,sqlx=warn")
        .with_test_writer()
        .try_init();
    let mut settings = test_settings(&database_url);
    configure(&mut settings);
    let clock = ManualClock::starting_now();
    let app = startup::build_with_clock(settings.clone(), clock.clone())
        .await
        .expect("app builds");
    let addr = app.local_addr().unwrap();
    let policy_addr = app.policy_addr();
    let metrics_addr = app.metrics_addr();
    let state = app.state.clone();
    let db = state.db.clone();
    tokio::spawn(app.run());
    TestApp {
        addr,
        policy_addr,
        metrics_addr,
        db,
        clock,
        settings,
        database_url,
        state,
        _dir: dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A new browser: its own cookie jar, no automatic redirects.
    pub fn browser(&self) -> Browser {
        Browser::new(&format!("http://{}", self.addr))
    }

    /// Creates an account directly in the store, as `mailkeys user add` would.
    pub async fn add_user(&self, email: &str, password: &str, admin: bool) -> i64 {
        let hasher =
            Hasher::new(self.settings.main_profile(), self.settings.app_profile(), 1).unwrap();
        let hash = hasher
            .hash(Profile::Main, SecretString::from(password))
            .await
            .unwrap();
        // As the service does: the installation's first admin is its superadmin.
        let is_superadmin = admin && !users::any_superadmin(&self.db.pool).await.unwrap();
        users::insert(
            &self.db.pool,
            users::NewUser {
                email,
                password_hash: &hash,
                is_admin: admin,
                is_superadmin,
                main_imap_allowed: false,
                now: self.clock_now(),
            },
        )
        .await
        .unwrap()
        .get()
    }

    pub fn clock_now(&self) -> i64 {
        use mailkeys::clock::Clock;
        self.clock.now()
    }

    /// A browser signed in as a fresh user `email`.
    pub async fn signed_in(&self, email: &str) -> Browser {
        self.signed_in_as(email, false).await
    }

    /// A browser signed in as a fresh account `email`, an admin if `admin` (the first admin
    /// is the superadmin, as the service makes it).
    pub async fn signed_in_as(&self, email: &str, admin: bool) -> Browser {
        self.add_user(email, PASSWORD, admin).await;
        let browser = self.browser();
        let response = browser.sign_in(email, PASSWORD).await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "sign-in of {email} failed"
        );
        browser
    }

    /// A browser signed in as a fresh admin, [`ROOT`].
    pub async fn signed_in_admin(&self) -> Browser {
        self.signed_in_as(ROOT, true).await
    }

    /// Creates the app password `name` through `browser`; returns it and its id.
    pub async fn new_app_password(&self, browser: &Browser, name: &str) -> (Created, i64) {
        let created = browser.create_app_password(name).await;
        let id = app_password_id(self, &created.plaintext[..6]).await;
        (created, id)
    }

    /// This app with alice signed in, and her browser.
    pub async fn and_alice(self) -> (TestApp, Browser) {
        let browser = self.signed_in(ALICE).await;
        (self, browser)
    }

    pub async fn audit_events(&self, user_id: i64) -> Vec<String> {
        sqlx::query_scalar("SELECT event FROM audit_log WHERE subject_user_id = $1 ORDER BY id")
            .bind(user_id)
            .fetch_all(&self.db.pool)
            .await
            .unwrap()
    }

    /// The audit events about the account `email`, oldest first.
    pub async fn audit_events_of(&self, email: &str) -> Vec<String> {
        let user_id = self.user_id(email).await;
        self.audit_events(user_id).await
    }

    /// Fails unless the audit log holds `event`, about any account or none.
    pub async fn assert_audited_anywhere(&self, event: &str) {
        let n = self
            .count(&format!(
                "SELECT COUNT(*) FROM audit_log WHERE event = '{event}'"
            ))
            .await;
        assert!(n > 0, "no {event} in the audit log");
    }

    /// Fails unless the audit log holds `event` about the account `email`.
    pub async fn assert_audited(&self, email: &str, event: &str) {
        let events = self.audit_events_of(email).await;
        assert!(
            events.iter().any(|e| e == event),
            "no {event} about {email} in the audit log: {events:?}"
        );
    }

    /// The number `sql` (a `SELECT COUNT(*) …` without parameters) counts.
    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.db.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// How many app passwords, of every user, are not revoked.
    pub async fn live_app_passwords(&self) -> i64 {
        self.count("SELECT COUNT(*) FROM app_passwords WHERE revoked_at IS NULL")
            .await
    }

    pub async fn user_id(&self, email: &str) -> i64 {
        sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
            .bind(email)
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }
}

/// Id of the app password whose row shows `lookup_id`.
pub async fn app_password_id(app: &TestApp, lookup_id: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM app_passwords WHERE lookup_id = $1")
        .bind(lookup_id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}
