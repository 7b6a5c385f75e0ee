//! A Mailkeys database for the Dovecot tests, filled with SQL straight from the migrations
//! (no Mailkeys process), on SQLite (inside the Dovecot root for 2.4) or PostgreSQL.

use std::path::PathBuf;

use argon2::password_hash::{PasswordHasher as _, SaltString};

use crate::dovecot::{DovecotDb, DovecotVersion, Install};

const SQLITE_SCHEMA: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/migrations/sqlite/0001_init.sql"
));
const POSTGRES_SCHEMA: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/migrations/postgres/0001_init.sql"
));

pub const PHONE: &str = "k3mfpa-x7bq2n-h4jkmn-p2qrst"; // scope imap
pub const LAPTOP: &str = "p2qrst-h4jkmn-x7bq2n-k3mfpa"; // scope imap+smtp
pub const OFFICE: &str = "n3tnet-h4jkmn-x7bq2n-k3mfpa"; // imap, only from 10.9.9.0/24
pub const MAIN: &str = "alice's main password";

pub enum TestDb {
    /// The folder is kept until the database is dropped.
    Sqlite(
        sqlx::SqlitePool,
        PathBuf,
        #[allow(dead_code)] tempfile::TempDir,
    ),
    Postgres(sqlx::PgPool, String),
}

impl TestDb {
    pub async fn new(version: DovecotVersion, postgres: bool) -> TestDb {
        if postgres {
            use sqlx::Connection as _;
            let admin = postgres_admin_url();
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL not reachable at {admin}: {e}"));
            let name = format!("mk_test_dovecot_{}", random_hex(8));
            sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .unwrap();
            let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
            let pool = sqlx::PgPool::connect(&format!("{base}/{name}"))
                .await
                .unwrap();
            sqlx::raw_sql(POSTGRES_SCHEMA).execute(&pool).await.unwrap();
            TestDb::Postgres(pool, name)
        } else {
            // Inside the 2.4 root for that version: Dovecot there sees nothing else.
            let dir = Install::of(version).tempdir("mkdb-");
            let path = dir.path().join("mailkeys.db");
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
            let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
            sqlx::raw_sql(SQLITE_SCHEMA).execute(&pool).await.unwrap();
            TestDb::Sqlite(pool, path, dir)
        }
    }

    pub fn dovecot_db(&self) -> DovecotDb {
        match self {
            TestDb::Sqlite(_, path, _) => DovecotDb::Sqlite(path.clone()),
            TestDb::Postgres(_, name) => {
                let url = url::Url::parse(&postgres_admin_url()).unwrap();
                DovecotDb::Postgres {
                    host: url.host_str().unwrap_or("127.0.0.1").to_owned(),
                    port: url.port().unwrap_or(5432),
                    dbname: name.clone(),
                    user: if url.username().is_empty() {
                        "postgres".into()
                    } else {
                        url.username().into()
                    },
                    password: None,
                }
            }
        }
    }

    pub async fn exec(&self, sql: &str) {
        match self {
            TestDb::Sqlite(pool, ..) => drop(sqlx::raw_sql(sql).execute(pool).await.unwrap()),
            TestDb::Postgres(pool, _) => drop(sqlx::raw_sql(sql).execute(pool).await.unwrap()),
        }
    }

    pub async fn id(&self, sql: &str) -> i64 {
        match self {
            TestDb::Sqlite(pool, ..) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
            TestDb::Postgres(pool, _) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        }
    }

    pub async fn add_user(&self, email: &str, main_password: &str, main_imap_allowed: bool) -> i64 {
        let now = now();
        self.id(&format!(
            "INSERT INTO users (email, password_hash, main_imap_allowed, created_at, password_changed_at) \
             VALUES ({}, {}, {main_imap_allowed}, {now}, {now}) RETURNING id",
            q(email),
            q(&hash(main_password))
        ))
        .await
    }

    pub async fn add_app(
        &self,
        user_id: i64,
        password: &str,
        scope: &str,
        nets: Option<&str>,
    ) -> i64 {
        let lookup = &password[..6];
        self.id(&format!(
            "INSERT INTO app_passwords (user_id, name, lookup_id, password_hash, scope, allowed_nets, created_at) \
             VALUES ({user_id}, {}, {}, {}, {}, {}, {}) RETURNING id",
            q(lookup),
            q(lookup),
            q(&hash(password)),
            q(scope),
            nets.map_or("NULL".to_owned(), q),
            now()
        ))
        .await
    }

    pub async fn revoke(&self, credential_id: i64) {
        self.exec(&format!(
            "UPDATE app_passwords SET revoked_at = {} WHERE id = {credential_id}",
            now()
        ))
        .await
    }
}

fn postgres_admin_url() -> String {
    std::env::var("MAILKEYS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres(_, name) = self {
            let (name, admin) = (name.clone(), postgres_admin_url());
            // Drop runs inside the test's runtime: use a thread with its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    use sqlx::Connection as _;
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        let _ = sqlx::raw_sql(&sql).execute(&mut conn).await;
                    }
                });
            })
            .join();
        }
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `{ARGON2ID}` PHC string with the cheap test cost (m=1024, t=1, p=1).
pub fn hash(password: &str) -> String {
    let params = argon2::Params::new(1024, 1, 1, None).unwrap();
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(random_hex(8).as_bytes()).unwrap();
    format!(
        "{{ARGON2ID}}{}",
        argon.hash_password(password.as_bytes(), &salt).unwrap()
    )
}

/// alice with the three app passwords above and her main password allowed over IMAP.
pub async fn alice(db: &TestDb) -> (i64, i64, i64) {
    let user = db.add_user("alice@example.org", MAIN, true).await;
    let phone = db.add_app(user, PHONE, "imap", None).await;
    let laptop = db.add_app(user, LAPTOP, "imap+smtp", None).await;
    let office = db.add_app(user, OFFICE, "imap", Some("10.9.9.0/24")).await;
    (phone, laptop, office)
}

fn random_hex(bytes: usize) -> String {
    mailkeys::infra::random::random_symbols(bytes * 2).unwrap()
}
