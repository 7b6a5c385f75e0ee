//! deploy/dovecot/README.md's SQLite permissions on Dovecot 2.4, as written there: a group
//! shared by Mailkeys and Dovecot's auth worker (`extra_groups`, the block the generated
//! file carries commented out), a setgid directory, files with mode 0660; the auth worker
//! runs as Dovecot's own user, not root.

use std::os::unix::fs::PermissionsExt as _;
use std::process::Command;

use mailkeys::dovecot::config::{DoveadmLink, DovecotConfig, DovecotDatabase};

use crate::dovecot::{Dovecot, DovecotDb, DovecotOptions, DovecotVersion, GeneratedFiles, Install};
use crate::dovecot_db::{hash, now, q, PHONE};

/// The gid of group `mailkeys` inside the 2.4 root, created there when missing.
fn mailkeys_group(install: &Install) -> u32 {
    let _ = install
        .command("/usr/sbin/groupadd")
        .args(["--system", "mailkeys"])
        .output()
        .expect("groupadd in the Dovecot 2.4 root");
    let out = install
        .command("/usr/bin/getent")
        .args(["group", "mailkeys"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split(':')
        .nth(2)
        .and_then(|gid| gid.trim().parse().ok())
        .expect("group mailkeys in the 2.4 root")
}

fn chmod(path: &std::path::Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readmes_sqlite_group_setup_lets_dovecot_2_4_read_and_nothing_else_does() {
    let version = DovecotVersion::V2_4;
    let install = Install::of(version);
    let gid = mailkeys_group(&install);
    let scratch = install.tempdir("mkperm-");
    chmod(scratch.path(), 0o755);
    // install -d -o mailkeys -g mailkeys -m 2770 /var/lib/mailkeys (Mailkeys runs as root here)
    let lib = scratch.path().join("lib");
    std::fs::create_dir(&lib).unwrap();
    std::os::unix::fs::chown(&lib, Some(0), Some(gid)).unwrap();
    chmod(&lib, 0o2770);
    let db_path = lib.join("mailkeys.db");
    let db = mailkeys::store::Db::connect(&format!("sqlite://{}", db_path.display()))
        .await
        .unwrap();
    db.migrate().await.unwrap();
    let user: i64 = sqlx::query_scalar(&format!(
        "INSERT INTO users (email, password_hash, main_imap_allowed, created_at, password_changed_at) \
         VALUES ('alice@example.org', {}, 0, {now}, {now}) RETURNING id",
        q(&hash("alice's main password")),
        now = now()
    ))
    .fetch_one(&db.pool)
    .await
    .unwrap();
    sqlx::query(&format!(
        "INSERT INTO app_passwords (user_id, name, lookup_id, password_hash, scope, created_at) \
         VALUES ({user}, 'Phone', {}, {}, 'imap', {})",
        q(&PHONE[..6]),
        q(&hash(PHONE)),
        now()
    ))
    .execute(&db.pool)
    .await
    .unwrap();
    // chmod 0660 /var/lib/mailkeys/mailkeys.db*
    let db_files: Vec<_> = std::fs::read_dir(&lib)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    for file in &db_files {
        chmod(file, 0o660);
        let group = std::os::unix::fs::MetadataExt::gid(&std::fs::metadata(file).unwrap());
        assert_eq!(
            group,
            gid,
            "the setgid folder gives {} its group",
            file.display()
        );
    }

    // Control first: without the group's read bit the auth worker (not root) cannot open
    // the file; then with the README's 0660 it can. A fresh Dovecot each time (a worker that
    // has the file open keeps reading it whatever the mode becomes).
    for (mode, works) in [(0o600, false), (0o660, true)] {
        for file in &db_files {
            chmod(file, mode);
        }
        let dovecot = start_with_group_block(&install, &scratch, &db_path).await;
        let login = dovecot
            .imaps_login(
                &format!("127.0.95.{}", 1 + mode % 200),
                "alice@example.org",
                PHONE,
            )
            .await;
        match (works, login) {
            (true, Ok(_)) => {}
            (false, Err(answer)) if answer.contains("UNAVAILABLE") => {}
            (_, other) => panic!(
                "mode {mode:o}: {:?}\n{}",
                other.map(|_| "logged in"),
                dovecot.log()
            ),
        }
        let ps = Command::new("ps")
            .args(["-eo", "user,args"])
            .output()
            .unwrap();
        let workers: Vec<String> = String::from_utf8_lossy(&ps.stdout)
            .lines()
            // Process titles name the instance: `dovecot-mailkeys-test-PORT/auth -w`.
            .filter(|l| l.contains(&format!("mailkeys-test-{}/auth -w", dovecot.imap_port)))
            .map(str::to_owned)
            .collect();
        assert!(
            !workers.is_empty() && workers.iter().all(|l| !l.starts_with("root")),
            "auth workers run as root: {workers:?}"
        );
    }
}

/// Dovecot 2.4 from the generated file with the README's SQLite block uncommented, its auth
/// worker running as Dovecot's own user.
async fn start_with_group_block(
    install: &Install,
    scratch: &tempfile::TempDir,
    db_path: &std::path::Path,
) -> Dovecot {
    let version = install.version;
    let reserved = mailkeys_test_support::prelude::reserve_port();
    let port = reserved.port();
    let config = DovecotConfig {
        version,
        database: DovecotDatabase::Sqlite {
            path: install.inside(db_path),
        },
        etc_dir: "/etc/dovecot".into(),
        policy: None,
        doveadm: DoveadmLink {
            listen: "127.0.0.1".into(),
            port: port.to_string(),
            api_key: "perm-test-key".into(),
        },
    };
    let main = config.render().unwrap().remove(0);
    let main_file = scratch.path().join(format!("90-mailkeys-{port}.conf"));
    let uncommented = crate::dovecot::uncomment_block(&main.contents, "service auth-worker {");
    std::fs::write(&main_file, uncommented).unwrap();
    reserved.release();
    Dovecot::start(DovecotOptions {
        auth_worker_as_root: false,
        generated: Some(GeneratedFiles {
            main_file,
            doveadm_port: port,
            doveadm_api_key: "perm-test-key".into(),
        }),
        ..DovecotOptions::new(version, DovecotDb::Sqlite(db_path.to_path_buf()))
    })
    .await
}
