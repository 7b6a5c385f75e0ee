//! `mailkeys dovecot config`'s output: the files under `deploy/dovecot` are exactly its
//! placeholder output, it loads in each Dovecot's own stock configuration as an admin would
//! install it, and no typed password, however odd, crashes Dovecot or its SQL.

use std::collections::BTreeSet;
use std::path::Path;

use mailkeys::dovecot::config::{DatabaseKind, DovecotConfig};

use crate::dovecot::{Dovecot, DovecotOptions, DovecotVersion, Install, SHIPPED_DIR};
use crate::dovecot_db::*;
use crate::each_dovecot;
use mailkeys_test_support::prelude::Backend;

const KINDS: [DatabaseKind; 2] = [DatabaseKind::Sqlite, DatabaseKind::Postgres];

fn files_under(dir: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.insert(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    found
}

#[test]
fn the_shipped_files_are_the_generator_output_with_placeholders() {
    for version in DovecotVersion::ALL {
        for kind in KINDS {
            let dir = Path::new(SHIPPED_DIR)
                .join(version.as_str())
                .join(kind.dir_name());
            let regenerate =
                format!(
                "regenerate with: cargo run -- dovecot config --version {version} --database {} \
                 --placeholders --out {}",
                kind.dir_name(),
                dir.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap().display()
            );
            let files = DovecotConfig::placeholders(version, kind).render().unwrap();
            let expected: BTreeSet<String> = files.iter().map(|f| f.path.clone()).collect();
            assert_eq!(
                files_under(&dir),
                expected,
                "{}: {regenerate}",
                dir.display()
            );
            for file in files {
                let shipped = std::fs::read_to_string(dir.join(&file.path)).unwrap();
                assert!(
                    shipped == file.contents,
                    "{}/{} differs from the generator's output: {regenerate}",
                    dir.display(),
                    file.path
                );
            }
        }
    }
}

/// As an admin installs it: the distribution's own /etc/dovecot (Debian 12's 2.3, Debian
/// 13's 2.4) with the generated files added, checked by that version's `doveconf`.
#[test]
fn the_generated_files_load_in_each_versions_stock_configuration() {
    for version in DovecotVersion::ALL {
        let install = Install::of(version);
        for kind in KINDS {
            let scratch = install.tempdir("mkconf-");
            let etc = scratch.path().join("dovecot");
            install.copy_stock_etc(&etc);
            let mut config = DovecotConfig::placeholders(version, kind);
            config.etc_dir = install.inside(&etc);
            for file in config.render().unwrap() {
                let path = etc.join(&file.path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                // deploy/dovecot/README.md, SQLite: uncomment the auth-worker group block.
                let contents = if kind == DatabaseKind::Sqlite && file.path.starts_with("conf.d/") {
                    crate::dovecot::uncomment_block(&file.contents, "service auth-worker {")
                } else {
                    file.contents
                };
                std::fs::write(path, contents).unwrap();
            }
            let out = install
                .command("/usr/bin/doveconf")
                .arg("-n")
                .arg("-c")
                .arg(install.inside(&etc.join("dovecot.conf")))
                .output()
                .unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                out.status.success(),
                "{version} {kind:?}: doveconf refused:\n{text}"
            );
            assert!(
                text.contains("dovecot-sql-mailkeys-app.conf.ext")
                    || text.contains("passdb mailkeys_app"),
                "{version} {kind:?}: the Mailkeys passdb is missing:\n{text}"
            );
            assert!(
                text.contains("127.0.0.1:8025/dovecot/auth-policy"),
                "{text}"
            );
            if kind == DatabaseKind::Sqlite {
                assert!(
                    text.contains("extra_groups = mailkeys"),
                    "{version}:\n{text}"
                );
            }
            assert!(
                !text.contains("pwhash"),
                "{version}: the password hash would be sent:\n{text}"
            );
        }
    }
}

/// What Dovecot logs when something broke, rather than refused a login.
const BROKEN_DOVECOT_SIGNS: [&str; 5] = [
    "Panic",
    "Fatal",
    "killed with signal",
    "query failed",
    "Error:",
];

/// Every kind of odd typed password gets a clean "wrong password" (never a crash, an SQL
/// error or a temporary failure), on each version and database; the right one still works.
async fn odd_passwords_are_refused_cleanly(version: DovecotVersion, backend: Backend) {
    let db = TestDb::new(version, backend == Backend::Postgres).await;
    alice(&db).await;
    let dovecot = Dovecot::start(DovecotOptions::new(version, db.dovecot_db())).await;
    let mut odd: Vec<(String, Vec<u8>)> = [
        "",
        "a",
        "ab",
        "abc",
        "abcd",
        "abcde",
        "'",
        "''",
        "\\",
        "\\'",
        "abcde'",
        "k3mfp'",
        "abcde\u{e9}xyz",
        "\u{e9}\u{e9}\u{e9}",
        "aaaaa\u{1f600}",
        "k3mfpa",
        "k3mfpa-",
        "k3mfpa-x7bq2n-h4jkmn-p2qrsx",
        "K3MFPA-x7bq2n-h4jkmn-p2qrst",
        "' OR '1'='1",
        "k3mfpa' OR 'a'='a",
        "%{password}",
        "%u%s%w",
    ]
    .iter()
    .map(|s| (format!("{s:?}"), s.as_bytes().to_vec()))
    .collect();
    odd.push(("1,000 characters".into(), vec![b'x'; 1000]));
    odd.push((
        "invalid UTF-8".into(),
        vec![0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0x41],
    ));
    odd.push(("UTF-8 cut at byte 6".into(), b"abcde\xc3".to_vec()));
    for (i, (label, password)) in odd.iter().enumerate() {
        let source = format!("127.0.{}.{}", 80 + i / 200, 1 + i % 200);
        match dovecot
            .imaps_login(&source, "alice@example.org", password)
            .await
        {
            Ok(_) => panic!("{version} {backend:?}: {label} logged in"),
            Err(answer) => assert!(
                answer.starts_with("NO") && !answer.contains("UNAVAILABLE"),
                "{version} {backend:?}: {label} answered {answer:?}\n{}",
                dovecot.log()
            ),
        }
    }
    dovecot
        .imaps_login("127.0.79.1", "alice@example.org", PHONE)
        .await
        .unwrap_or_else(|e| panic!("the right app password: {e}\n{}", dovecot.log()));
    dovecot
        .imaps_login("127.0.79.2", "alice@example.org", MAIN)
        .await
        .unwrap_or_else(|e| panic!("the right main password: {e}\n{}", dovecot.log()));
    // Logged after every attempt above: the log is complete up to here.
    let log = dovecot.log_with("rip=127.0.79.2").await;
    for sign in BROKEN_DOVECOT_SIGNS {
        assert!(
            !log.contains(sign),
            "{version} {backend:?}: `{sign}` in Dovecot's log:\n{log}"
        );
    }
}
each_dovecot!(odd_passwords_are_refused_cleanly);

/// Debian 13's stock configuration has `passdb pam {}` before Mailkeys' file. The generated
/// file's commented line, uncommented as deploy/dovecot/README.md says, makes Dovecot skip
/// PAM for every user (while logins through Mailkeys' passdbs go on); left commented, PAM is
/// asked first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readmes_pam_line_makes_debian_13s_stock_pam_passdb_skip_every_user() {
    use mailkeys::dovecot::config::{DoveadmLink, DovecotDatabase};
    let version = DovecotVersion::V2_4;
    let install = Install::of(version);
    let db = TestDb::new(version, false).await;
    alice(&db).await;
    let crate::dovecot::DovecotDb::Sqlite(path) = db.dovecot_db() else {
        unreachable!("a SQLite test database")
    };
    let readme = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/dovecot/README.md"
    ))
    .unwrap();
    let block = "passdb pam {\n  username_filter = !*\n}\n";
    assert!(
        readme.contains(&format!("```\n{block}```")),
        "the README gives the block"
    );
    let commented: String = block.lines().map(|l| format!("#{l}\n")).collect();
    for uncommented in [false, true] {
        let scratch = install.tempdir("mkpam-");
        let reserved = mailkeys_test_support::prelude::reserve_port();
        let port = reserved.port();
        let config = DovecotConfig {
            version,
            database: DovecotDatabase::Sqlite {
                path: install.inside(&path),
            },
            etc_dir: "/etc/dovecot".into(),
            policy: None,
            doveadm: DoveadmLink {
                listen: "127.0.0.1".into(),
                port: port.to_string(),
                api_key: "pam-test-key".into(),
            },
        };
        let generated = config.render().unwrap().remove(0);
        assert_eq!(generated.path, "conf.d/90-mailkeys.conf");
        let mut text = generated.contents;
        assert!(text.contains(&commented), "{text}");
        if uncommented {
            text = text.replace(&commented, block);
        }
        // What Debian 13's 10-auth.conf includes (auth-system.conf.ext), before conf.d/90-*.
        let text = format!("passdb pam {{\n}}\n{text}");
        let file = scratch.path().join("90-mailkeys.conf");
        std::fs::write(&file, text).unwrap();
        std::fs::set_permissions(
            scratch.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        reserved.release();
        let dovecot = Dovecot::start(DovecotOptions {
            generated: Some(crate::dovecot::GeneratedFiles {
                main_file: file,
                doveadm_port: port,
                doveadm_api_key: "pam-test-key".into(),
            }),
            ..DovecotOptions::new(version, db.dovecot_db())
        })
        .await;
        dovecot
            .imaps_login("127.0.90.1", "alice@example.org", PHONE)
            .await
            .unwrap_or_else(|e| panic!("login with PAM {uncommented}: {e}\n{}", dovecot.log()));
        let log = dovecot.log_with("rip=127.0.90.1").await;
        let pam_asked = log.lines().any(|l| l.contains("pam_authenticate"));
        assert_eq!(pam_asked, !uncommented, "uncommented: {uncommented}\n{log}");
    }
}
