//! The admin's path through the README with the real binary, on Dovecot 2.3 and 2.4:
//! `migrate`, `user add --admin`, `dovecot config` from the settings file, Dovecot started
//! from exactly the files it wrote, `serve`, and `dovecot check` passing; and the loud
//! start-up warning when the doveadm API does not answer.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::dovecot::{Dovecot, DovecotOptions, DovecotVersion, GeneratedFiles, Install};
use crate::each_dovecot;
use mailkeys_test_support::prelude::*;

/// Runs the binary with a settings file; returns (success, stdout, stderr).
fn mailkeys(config: &Path, args: &[&str], stdin: &str) -> (bool, String, String) {
    run_mailkeys(
        |command| {
            command
                .arg("--config")
                .arg(config)
                .args(args)
                .env_remove("DATABASE_URL");
        },
        stdin,
    )
}

/// `mailkeys serve`, stopped when dropped; its stderr goes to a file.
struct Served {
    child: Child,
    log: std::path::PathBuf,
}

impl Served {
    fn start(config: &Path, dir: &Path, port: u16) -> Served {
        let log = dir.join("serve.log");
        let child = Command::new(env!("CARGO_BIN_EXE_mailkeys"))
            .arg("--config")
            .arg(config)
            .arg("serve")
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "info,sqlx=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "serve did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Served { child, log }
    }

    /// The log once `needle` is in it (up to 10 s).
    fn log_with(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            if log.contains(needle) || Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn the_readme_path_from_generator_to_self_check(version: DovecotVersion, backend: Backend) {
    let install = Install::of(version);
    let scratch = install.tempdir("mkcli-");
    std::fs::set_permissions(scratch.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = scratch.path();
    let (_pg_dir, database_url) = match backend {
        Backend::Sqlite => (
            None,
            format!("sqlite://{}", dir.join("mailkeys.db").display()),
        ),
        Backend::Postgres => {
            let (d, url) = fresh_database_for(backend, version).await;
            (Some(d), url)
        }
    };
    let reserved = [reserve_port(), reserve_port(), reserve_port()];
    let [web, policy, doveadm] = [0, 1, 2].map(|i| reserved[i].port());
    let [web_port, policy_port, doveadm_port] = reserved;
    let config = dir.join("mailkeys.toml");
    std::fs::write(
        &config,
        format!(
            r#"database_url = "{database_url}"
listen = "127.0.0.1:{web}"
hash_main_memory_kib = 1024
hash_main_iterations = 1
policy_listen = "127.0.0.1:{policy}"
policy_secret = "cli-policy-secret-0123456789abcdef"
doveadm_url = "http://127.0.0.1:{doveadm}/doveadm/v1"
doveadm_api_key = "cli-doveadm-key"
"#
        ),
    )
    .unwrap();
    let (ok, out, err) = mailkeys(&config, &["migrate"], "");
    assert!(ok, "{out}{err}");
    let (ok, out, err) = mailkeys(
        &config,
        &[
            "user",
            "add",
            "root@example.org",
            "--admin",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(ok, "{out}{err}");

    // The generator, from these settings.
    let out_dir = dir.join("dovecot-files");
    let role = format!(
        "mk_cli_{}",
        mailkeys::infra::random::random_symbols(10).unwrap()
    );
    // Dovecot 2.4 runs in a root folder here, and sees the files under other paths.
    let etc = install.inside(&out_dir);
    let sqlite = install.inside(&dir.join("mailkeys.db"));
    let mut args = vec![
        "dovecot",
        "config",
        "--version",
        version.as_str(),
        "--out",
        out_dir.to_str().unwrap(),
        "--etc-dir",
        &etc,
        "--dovecot-db-user",
        &role,
    ];
    if backend == Backend::Sqlite {
        args.extend(["--sqlite-path", &sqlite]);
    }
    let (ok, out, err) = mailkeys(&config, &args, "");
    assert!(ok, "{out}{err}");
    let main_file = out_dir.join("conf.d/90-mailkeys.conf");
    for line in out.lines() {
        let path = line
            .strip_prefix("wrote ")
            .expect("one `wrote PATH` per file");
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{path}");
    }
    let main = std::fs::read_to_string(&main_file).unwrap();
    assert!(
        main.contains("X-Mailkeys-Policy-Secret:cli-policy-secret-0123456789abcdef"),
        "{main}"
    );
    assert!(main.contains("cli-doveadm-key") && main.contains(&format!("port = {doveadm}")));
    assert!(!main.contains("CHANGE_ME"), "{main}");
    let settings = std::fs::read_to_string(out_dir.join("mailkeys-settings.toml")).unwrap();
    assert!(
        settings.contains(&format!("dovecot_version = \"{version}\"")),
        "{settings}"
    );
    if backend == Backend::Postgres {
        // As the README says: run the role script with psql.
        let admin_url = format!(
            "{}/{}",
            postgres_admin_url().rsplit_once('/').unwrap().0,
            database_url.rsplit_once('/').unwrap().1
        );
        let psql = Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &admin_url, "-f"])
            .arg(out_dir.join("mailkeys-dovecot-role.sql"))
            .output()
            .expect("psql");
        assert!(
            psql.status.success(),
            "{}",
            String::from_utf8_lossy(&psql.stderr)
        );
        // The README's check: the role reads the views and nothing else.
        let script = std::fs::read_to_string(out_dir.join("mailkeys-dovecot-role.sql")).unwrap();
        let password = script
            .split("PASSWORD '")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .expect("the role's password");
        let url = url::Url::parse(&database_url).unwrap();
        let as_role = format!(
            "postgres://{role}:{password}@{}:{}{}",
            url.host_str().unwrap(),
            url.port().unwrap_or(5432),
            url.path()
        );
        let as_role_runs = |sql: &str| {
            Command::new("psql")
                .args(["-X", "-q", "-d", &as_role, "-c", sql])
                .output()
                .unwrap()
        };
        let denied = as_role_runs("SELECT count(*) FROM users");
        assert_failed_saying(&denied, "permission denied");
        let allowed = as_role_runs("SELECT count(*) FROM dovecot_app_passwords");
        assert!(
            allowed.status.success(),
            "{}",
            String::from_utf8_lossy(&allowed.stderr)
        );
    }

    doveadm_port.release();
    let dovecot = Dovecot::start(DovecotOptions {
        generated: Some(GeneratedFiles {
            main_file,
            doveadm_port: doveadm,
            doveadm_api_key: "cli-doveadm-key".into(),
        }),
        ..DovecotOptions::new(version, crate::imap_logins::dovecot_db(&database_url))
    })
    .await;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&config)
        .unwrap();
    write!(
        file,
        "[[mail_servers]]\nname = \"IMAPS\"\nhost = \"localhost\"\nport = {}\ntls = \"implicit\"\nca_file = \"{}\"\n",
        dovecot.imaps_port,
        dovecot.ca_cert_pem.display()
    )
    .unwrap();
    drop(file);
    web_port.release();
    policy_port.release();
    let served = Served::start(&config, dir, web);
    let log = served.log_with("doveadm API reachable");
    assert!(log.contains("doveadm API reachable"), "{log}");
    assert!(!log.contains("DOVEADM API CHECK FAILED"), "{log}");

    let (ok, out, err) = mailkeys(
        &config,
        &["dovecot", "check", "--as", "root@example.org"],
        "",
    );
    assert!(ok, "{out}{err}\n{}", dovecot.log());
    assert_eq!(
        out.lines().filter(|l| l.starts_with("PASS  ")).count(),
        6,
        "{out}"
    );
    assert!(out.contains(&format!("Dovecot {version}")), "{out}");
    if backend == Backend::Postgres {
        let admin_url = postgres_admin_url();
        let _ = Command::new("psql")
            .args(["-X", "-q", "-d", &admin_url, "-c"])
            .arg(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE); DROP ROLE IF EXISTS {role}",
                database_url.rsplit_once('/').unwrap().1
            ))
            .output();
    }
}
each_dovecot!(the_readme_path_from_generator_to_self_check);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_warns_loudly_when_the_doveadm_api_does_not_answer() {
    let dir = tempfile::tempdir().unwrap();
    let (web_port, doveadm) = (reserve_port(), reserve_port().release());
    let web = web_port.port();
    let config = dir.path().join("mailkeys.toml");
    std::fs::write(
        &config,
        format!(
            "database_url = \"sqlite://{}\"\nlisten = \"127.0.0.1:{web}\"\n\
             doveadm_url = \"http://127.0.0.1:{doveadm}\"\ndoveadm_api_key = \"k\"\n",
            dir.path().join("m.db").display()
        ),
    )
    .unwrap();
    web_port.release();
    let served = Served::start(&config, dir.path(), web);
    let log = served.log_with("DOVEADM API CHECK FAILED");
    assert!(log.contains("DOVEADM API CHECK FAILED"), "{log}");
    assert!(
        log.contains(&format!("127.0.0.1:{doveadm}/doveadm/v1")),
        "{log}"
    );
    assert!(log.contains("Connection refused"), "{log}");
}

#[test]
fn the_dovecot_commands_refuse_bad_input() {
    // Their --help is checked with every other command's (cli.rs).
    let out = Command::new(env!("CARGO_BIN_EXE_mailkeys"))
        .args(["dovecot", "config", "--version", "2.2"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    // SQLite would create a missing file: the generator refuses to point Dovecot at one.
    let out = Command::new(env!("CARGO_BIN_EXE_mailkeys"))
        .args(["dovecot", "config", "--version", "2.4"])
        .env("DATABASE_URL", "sqlite:///nonexistent/mailkeys.db")
        .output()
        .unwrap();
    assert_failed_saying(&out, "mailkeys migrate");
}
