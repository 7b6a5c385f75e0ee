//! IMAP logins through a real Dovecot, 2.3 and 2.4, on Mailkeys' SQLite and PostgreSQL
//! databases (the test harness starts each from the generated configuration): logins/s
//! against a passwd-file with `{PLAIN}` and one with the same Argon2id hash, at
//! concurrency 1, 2 and 4; 1 against 50 app passwords; revocation to refusal and to the
//! end of a live session.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mailkeys_test_support::app::{spawn_app_on, Backend, TestApp};
use mailkeys_test_support::browser::Browser;
use mailkeys_test_support::dovecot::{Dovecot, DovecotDb, DovecotOptions, DovecotVersion, Install};
use secrecy::SecretString;

use super::common::{backend_name, cfg, drop_database, fresh_database, secs, size};
use super::record::{median, Report, Target};

const CONCURRENCY: [usize; 3] = [1, 2, 4];
const ONE: &str = "one@example.org";
const FIFTY: &str = "fifty@example.org";

/// Connect, TLS, LOGIN (SASL PLAIN), LOGOUT: one full login from `source`, timed.
async fn one_login(dc: &Dovecot, source: &str, user: &str, password: &str) -> Duration {
    let started = Instant::now();
    let mut session = dc
        .imaps_login(source, user, password)
        .await
        .unwrap_or_else(|e| panic!("login failed: {e}"));
    let _ = session.command("LOGOUT").await;
    started.elapsed()
}

/// Logins per second at `concurrency` for one window.
async fn logins_per_second(dc: &Arc<Dovecot>, concurrency: usize, password: &str) -> f64 {
    let deadline = Instant::now() + secs(3.0, 1.0);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (dc, password) = (dc.clone(), password.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut count = 0u32;
            while Instant::now() < deadline {
                one_login(&dc, "127.0.0.1", ONE, &password).await;
                count += 1;
            }
            count
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    f64::from(total) / started.elapsed().as_secs_f64()
}

/// Where Dovecot finds the database at `url`.
fn dovecot_db(url: &str) -> DovecotDb {
    if let Some(path) = url.strip_prefix("sqlite://") {
        return DovecotDb::Sqlite(path.into());
    }
    let url = url::Url::parse(url).unwrap();
    DovecotDb::Postgres {
        host: url.host_str().unwrap().to_owned(),
        port: url.port().unwrap_or(5432),
        dbname: url.path().trim_start_matches('/').to_owned(),
        user: url.username().to_owned(),
        password: None,
    }
}

/// Mailkeys (in this process) and Dovecot on one fresh database, Mailkeys kicking through
/// Dovecot's doveadm API as it does in production.
async fn stack(version: DovecotVersion, backend: Backend) -> (TestApp, Arc<Dovecot>, String) {
    let dir = Install::of(version).tempdir("mkbench-");
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let url = fresh_database(backend, dir.path()).await;
    if backend == Backend::Sqlite {
        let db = mailkeys::store::Db::connect(&url).await.unwrap();
        db.migrate().await.unwrap();
    }
    let dovecot = Dovecot::start(DovecotOptions::new(version, dovecot_db(&url))).await;
    let (doveadm, key) = (dovecot.doveadm_url.clone(), dovecot.doveadm_api_key.clone());
    let app = spawn_app_on(dir, url.clone(), |s| {
        s.doveadm_url = Some(doveadm.parse().unwrap());
        s.doveadm_api_key = Some(SecretString::from(key));
    })
    .await;
    (app, Arc::new(dovecot), url)
}

#[derive(Default)]
struct Figures {
    /// By concurrency index: [Mailkeys, {PLAIN} file, Argon2id file] rates per repetition.
    rates: [[Vec<f64>; 3]; 3],
    one: Vec<f64>,
    fifty: Vec<f64>,
    to_refusal: Vec<f64>,
    to_drop: Vec<f64>,
    release: String,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn measure(version: DovecotVersion, backend: Backend, trial_base: usize) -> Figures {
    let (app, mailkeys, url) = stack(version, backend).await;
    let one_browser = app.signed_in(ONE).await;
    let (created, id) = app.new_app_password(&one_browser, "device").await;
    let one = created.plaintext;
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM app_passwords WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let fifty_browser = app.signed_in(FIFTY).await;
    let mut fifty = String::new();
    for n in 0..50 {
        fifty = fifty_browser
            .create_app_password(&format!("device {n}"))
            .await
            .plaintext;
    }
    let plain = Arc::new(
        Dovecot::start(DovecotOptions::baseline(
            version,
            vec![(ONE.into(), one.clone())],
        ))
        .await,
    );
    let argon = Arc::new(
        Dovecot::start(DovecotOptions {
            baseline_hashed: true,
            ..DovecotOptions::baseline(version, vec![(ONE.into(), hash)])
        })
        .await,
    );
    let mut figures = Figures {
        release: mailkeys
            .log()
            .lines()
            .find_map(|l| l.split("Dovecot v").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or(version.as_str())
            .to_owned(),
        ..Figures::default()
    };
    let instances = [&mailkeys, &plain, &argon];
    for dc in instances {
        one_login(dc, "127.0.0.1", ONE, &one).await; // warm-up
    }
    // Windows alternate between the three, so drift on the machine hits them alike.
    for (c, concurrency) in CONCURRENCY.into_iter().enumerate() {
        for _ in 0..cfg().reps {
            for (i, dc) in instances.into_iter().enumerate() {
                figures.rates[c][i].push(logins_per_second(dc, concurrency, &one).await);
            }
        }
    }
    for _ in 0..cfg().reps {
        let (mut t_one, mut t_fifty) = (Vec::new(), Vec::new());
        for _ in 0..size(100, 10) {
            t_one.push(ms(one_login(&mailkeys, "127.0.0.1", ONE, &one).await));
            t_fifty.push(ms(one_login(&mailkeys, "127.0.0.1", FIFTY, &fifty).await));
        }
        figures.one.push(median(&t_one));
        figures.fifty.push(median(&t_fifty));
    }
    for rep in 0..cfg().reps {
        let (mut refusal, mut dropped) = (Vec::new(), Vec::new());
        for n in 0..size(10, 2) {
            let trial = trial_base + rep * 100 + n;
            let (r, d) = revocation(&app, &one_browser, &mailkeys, trial).await;
            refusal.push(r);
            dropped.push(d);
        }
        figures.to_refusal.push(median(&refusal));
        figures.to_drop.push(median(&dropped));
    }
    drop((plain, argon, mailkeys));
    drop(app);
    drop_database(&url).await;
    figures
}

/// A new app password holds a live IMAP session; it is revoked through the web UI (which
/// kicks through doveadm). Times from the revocation request to a refused login, and to the
/// held session's end (polled with NOOP every 5 ms, bounded to 10 s).
async fn revocation(app: &TestApp, browser: &Browser, dc: &Dovecot, trial: usize) -> (f64, f64) {
    let (created, id) = app
        .new_app_password(browser, &format!("revoked {trial}"))
        .await;
    let mut held = dc
        .imaps_login("127.0.0.1", ONE, &created.plaintext)
        .await
        .unwrap();
    let started = Instant::now();
    let status = browser.revoke(id, "bench").await.status();
    assert!(
        status.is_redirection() || status.is_success(),
        "revoke: {status}"
    );
    let source = format!("127.9.{}.{}", trial / 200, 1 + trial % 200);
    let refused = async {
        let result = dc.imaps_login(&source, ONE, &created.plaintext).await;
        assert!(result.is_err(), "a revoked password must be refused");
        ms(started.elapsed())
    };
    let dropped = async {
        while held.noop().await.is_ok() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "session still alive after 10 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        ms(started.elapsed())
    };
    tokio::join!(refused, dropped)
}

pub async fn imap(report: &mut Report) {
    report.section(
        "IMAP logins through Dovecot",
        &format!(
            "A login: connect, TLS, LOGIN (SASL PLAIN), LOGOUT, from loopback. Three instances \
             per version and database, each started by the test harness: Mailkeys' generated \
             configuration on its database (no auth cache, no policy listener); a passwd-file \
             with the same app password in `{{PLAIN}}`; a passwd-file with the same Argon2id \
             hash Mailkeys stored (m=1024 KiB, t=1). Logins/s: windows of {:.0} s at \
             concurrency 1, 2 and 4, alternating between the three, {} per figure. Login \
             times: median of {} logins per repetition, alternating between a user with 1 and \
             one with 50 app passwords. Revocation: through the web UI (which kicks through \
             doveadm); to a refused login from a fresh source address, and to the end of a \
             live IMAP session; median of {} trials per repetition (Dovecot 2.3 answers a \
             refused login only after its 0.5 s failure timer, as the previous report noted).",
            secs(3.0, 1.0).as_secs_f64(),
            cfg().reps,
            size(100, 10),
            size(10, 2)
        ),
    );
    let mut trial_base = 0;
    for version in DovecotVersion::ALL {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let f = measure(version, backend, trial_base).await;
            trial_base += 2000;
            let label = format!("Dovecot {}, {}", f.release, backend_name(backend));
            for (c, concurrency) in CONCURRENCY.into_iter().enumerate() {
                let [ours, plain, argon] = &f.rates[c];
                let at = format!("{label}, concurrency {concurrency}");
                report.figure(
                    &format!("{at}: logins/s, Mailkeys database"),
                    "/s",
                    ours,
                    None,
                );
                report.figure(
                    &format!("{at}: logins/s, passwd-file {{PLAIN}}"),
                    "/s",
                    plain,
                    None,
                );
                report.figure(
                    &format!("{at}: logins/s, passwd-file Argon2id"),
                    "/s",
                    argon,
                    None,
                );
                let ratio = |other: &[f64]| -> Vec<f64> {
                    ours.iter().zip(other).map(|(a, b)| a / b).collect()
                };
                let r = ratio(plain);
                let target = Target::at_least(0.95, "≥ 0.95", median(&r));
                report.figure(&format!("{at}: Mailkeys ÷ {{PLAIN}}"), "×", &r, target);
                let r = ratio(argon);
                report.figure(&format!("{at}: Mailkeys ÷ Argon2id file"), "×", &r, None);
            }
            report.figure(
                &format!("{label}: login, 1 app password"),
                "ms",
                &f.one,
                None,
            );
            report.figure(
                &format!("{label}: login, 50 app passwords"),
                "ms",
                &f.fifty,
                None,
            );
            let name = format!("{label}: revocation to refused login");
            report.figure(&name, "ms", &f.to_refusal, None);
            let name = format!("{label}: revocation to live session closed");
            report.figure(&name, "ms", &f.to_drop, None);
        }
    }
}
