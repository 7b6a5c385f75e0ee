//! Backups: the README's commands, run as written (`mailkeys backup|restore` for SQLite,
//! pg_dump and pg_restore for PostgreSQL) while the service writes, and the restored
//! database serving a sign-in and a Dovecot IMAP login.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;

use crate::both_backends;
use crate::dovecot::{Dovecot, DovecotOptions, DovecotVersion};
use crate::imap_logins::dovecot_db;
use mailkeys_test_support::prelude::*;

/// The README's command line starting with `program ` (inside a `sh` block), exactly.
fn readme_command(program: &str) -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let mut in_sh = false;
    for line in readme.lines() {
        if line.starts_with("```") {
            in_sh = line == "```sh" && !in_sh;
            continue;
        }
        if in_sh && line.starts_with(&format!("{program} ")) {
            return line.to_owned();
        }
    }
    panic!("no `{program} …` command in the README's sh blocks");
}

/// Runs a README command line with `sh` in `dir`, the `mailkeys` binary on the PATH and
/// `DATABASE_URL` set; returns (success, stdout, stderr).
fn run_readme_line(line: &str, dir: &Path, database_url: &str) -> (bool, String, String) {
    let bin_dir = mailkeys_binary().parent().unwrap().to_owned();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new("sh")
        .args(["-c", line])
        .current_dir(dir)
        .env("PATH", path)
        .env("DATABASE_URL", database_url)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

async fn a_backup_taken_during_writes_restores_consistent_and_serves_logins(backend: Backend) {
    let (dir, database_url) = fresh_database_for(backend, DovecotVersion::V2_3).await;
    let work = dir.path().to_owned();
    let app = spawn_app_on(dir, database_url.clone(), |_| {}).await;
    let browser = app.signed_in(ALICE).await;
    let before = browser
        .create_app_password("Before the backup")
        .await
        .plaintext;
    // 30 MB of ballast, so that the backup lasts long enough for writes to land during it.
    sqlx::query("CREATE TABLE ballast (x TEXT)")
        .execute(&app.db.pool)
        .await
        .unwrap();
    sqlx::query(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30000) \
         INSERT INTO ballast SELECT '{}' FROM n",
        "x".repeat(1000)
    ))
    .execute(&app.db.pool)
    .await
    .unwrap();

    // A stream of writes: app passwords created one after another until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let made = Arc::new(Mutex::new(0usize));
    let writer = {
        let browser = Browser {
            client: browser.client.clone(),
            base: browser.base.clone(),
        };
        let (stop, made) = (stop.clone(), made.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                browser.create_app_password(&format!("Stream {n}")).await;
                n += 1;
                *made.lock().unwrap() = n;
            }
        })
    };
    while *made.lock().unwrap() < 3 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let during = *made.lock().unwrap();

    let backup_line = match backend {
        Backend::Sqlite => readme_command("mailkeys backup"),
        Backend::Postgres => readme_command("pg_dump"),
    };
    let (ok, out, err) = {
        let (line, work, url) = (backup_line.clone(), work.clone(), database_url.clone());
        tokio::task::spawn_blocking(move || run_readme_line(&line, &work, &url))
            .await
            .unwrap()
    };
    assert!(ok, "{backup_line}: {out}{err}");
    let after_backup = *made.lock().unwrap();
    assert!(after_backup > during, "no write happened during the backup");
    while *made.lock().unwrap() < after_backup + 2 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::SeqCst);
    writer.await.unwrap();
    let total_live = app.live_app_passwords().await;

    // Restore into a new database, as the README says.
    let restored_url = match backend {
        Backend::Sqlite => format!("sqlite://{}", work.join("restored.db").display()),
        Backend::Postgres => new_postgres_database("mk_test").await,
    };
    let restore_line = match backend {
        Backend::Sqlite => readme_command("mailkeys restore"),
        Backend::Postgres => readme_command("pg_restore"),
    };
    let (ok, out, err) = run_readme_line(&restore_line, &work, &restored_url);
    assert!(ok, "{restore_line}: {out}{err}");

    let restored = spawn_app_on(tempfile::tempdir().unwrap(), restored_url.clone(), |_| {}).await;
    // Consistent: every app password with its audit entry (one transaction each), the
    // ones made before the backup began, none made after it ended (one may have been
    // committed before the snapshot and answered after the backup returned).
    let passwords = restored.live_app_passwords().await;
    let created_events = restored
        .count("SELECT COUNT(*) FROM audit_log WHERE event = 'app_password_created'")
        .await;
    assert_eq!(passwords, created_events);
    let passwords = usize::try_from(passwords).unwrap();
    assert!(
        passwords > during && passwords <= 2 + after_backup,
        "{passwords} app passwords restored; {during} made before the backup began, \
         {after_backup} when it ended"
    );
    assert!(i64::try_from(passwords).unwrap() < total_live);
    if backend == Backend::Sqlite {
        let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&restored.db.pool)
            .await
            .unwrap();
        assert_eq!(integrity, "ok");
    }

    assert_eq!(
        restored.browser().sign_in_status(ALICE, PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    let dovecot = Dovecot::start(DovecotOptions::new(
        DovecotVersion::V2_3,
        dovecot_db(&restored_url),
    ))
    .await;
    let login = dovecot.imap_login(ALICE, &before).await;
    assert!(
        login.is_ok(),
        "IMAP login with a restored app password: {:?}",
        login.err()
    );
    assert!(dovecot
        .imap_login(ALICE, "k3mfpa-x7bq2n-c9dhe4-rw5tju-8pazvy")
        .await
        .is_err());
}
both_backends!(a_backup_taken_during_writes_restores_consistent_and_serves_logins);

fn mailkeys_in(
    dir: &Path,
    database_url: &str,
    args: &[&str],
    stdin: &str,
) -> (bool, String, String) {
    run_mailkeys(
        |c| {
            c.args(args)
                .current_dir(dir)
                .env("DATABASE_URL", database_url)
                .env("MAILKEYS_HASH_MAIN_MEMORY_KIB", "1024")
                .env("MAILKEYS_HASH_MAIN_ITERATIONS", "1");
        },
        stdin,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_and_restore_refuse_what_a_careful_admin_would() {
    let (app, _browser) = app_with_alice(Backend::Sqlite).await;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();

    // Never overwrites; the file made has mode 0600 (it holds password hashes).
    std::fs::write(dir.join("taken.db"), "keep me").unwrap();
    let (ok, _, err) = mailkeys_in(dir, &app.database_url, &["backup", "taken.db"], "");
    assert!(!ok && err.contains("exists already"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.join("taken.db")).unwrap(),
        "keep me"
    );
    let (ok, out, err) = mailkeys_in(dir, &app.database_url, &["backup", "b.db"], "");
    assert!(ok, "{err}");
    assert!(out.contains("1 accounts"), "{out}");
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(dir.join("b.db"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Not while the service runs on the database.
    let (ok, _, err) = mailkeys_in(dir, &app.database_url, &["restore", "b.db"], "");
    assert!(!ok && err.contains("the service is running"), "{err}");

    // Not a file that is not a Mailkeys database.
    let other = format!("sqlite://{}", dir.join("other.db").display());
    std::fs::write(dir.join("junk.db"), "not a database").unwrap();
    let (ok, _, err) = mailkeys_in(dir, &other, &["restore", "junk.db"], "");
    assert!(!ok && err.contains("not a Mailkeys"), "{err}");
    assert!(!dir.join("other.db").exists());

    // Nor one from a newer Mailkeys (a schema version this one does not know).
    std::fs::copy(dir.join("b.db"), dir.join("newer.db")).unwrap();
    let newer =
        mailkeys::store::Db::connect(&format!("sqlite://{}", dir.join("newer.db").display()))
            .await
            .unwrap();
    sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (999999, 'future', TRUE, x'00', 0)")
        .execute(&newer.pool)
        .await
        .unwrap();
    newer.close().await;
    let (ok, _, err) = mailkeys_in(dir, &other, &["restore", "newer.db"], "");
    assert!(!ok && err.contains("newer Mailkeys"), "{err}");
    assert!(!dir.join("other.db").exists());

    // Over a stopped service's database: the old file is kept aside.
    let (ok, _, err) = mailkeys_in(
        dir,
        &other,
        &["user", "add", "bob@example.org", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    assert!(ok, "{err}");
    let (ok, out, err) = mailkeys_in(dir, &other, &["restore", "b.db"], "");
    assert!(ok, "{err}");
    let aside = out
        .lines()
        .find_map(|l| l.strip_prefix("The previous database is kept as "))
        .and_then(|l| l.strip_suffix('.'))
        .unwrap_or_else(|| panic!("{out}"))
        .to_owned();
    let (_, listed, _) = mailkeys_in(dir, &other, &["user", "list"], "");
    assert!(
        listed.contains(ALICE) && !listed.contains("bob@"),
        "{listed}"
    );
    let aside_url = format!("sqlite://{}", dir.join(&aside).display());
    let (_, listed, _) = mailkeys_in(dir, &aside_url, &["user", "list"], "");
    assert!(
        listed.contains("bob@") && !listed.contains(ALICE),
        "{listed}"
    );

    // PostgreSQL has its own tools.
    let (ok, _, err) = mailkeys_in(
        dir,
        "postgres://nobody@127.0.0.1:1/none",
        &["backup", "pg.db"],
        "",
    );
    assert!(!ok && err.contains("pg_dump"), "{err}");
}
