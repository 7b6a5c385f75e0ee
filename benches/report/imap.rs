//! Part 3 of the report: IMAP logins through a real Dovecot of each version, started by the
//! test harness from the generated configuration on a Mailkeys SQLite database. Every
//! figure is a median with its range (min–max over repeated windows or trials).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mailkeys::infra::hashing::{Hasher, Profile};
use mailkeys::store::app_passwords;
use mailkeys::store::Db;

use super::{ms, percentile, real_hasher_and_hash, seed, user_id_of};
use mailkeys_test_support::dovecot::{self, DovecotVersion, Install};

const WINDOWS: usize = 5;
const WINDOW: Duration = Duration::from_secs(3);
const CONCURRENCY: usize = 4;
const LOGINS: usize = 200;
const REVOCATIONS: usize = 20;

/// Connect, TLS, LOGIN (SASL PLAIN), LOGOUT: one full login, timed.
async fn one_login(dc: &dovecot::Dovecot, source: &str, user: &str, password: &str) -> Duration {
    let started = Instant::now();
    let mut session = dc
        .imaps_login(source, user, password)
        .await
        .unwrap_or_else(|e| panic!("login failed: {e}"));
    let _ = session.command("LOGOUT").await;
    started.elapsed()
}

/// Stores a new app password for `user_id` as the app would; returns its id and plaintext.
async fn add_app_password(
    db: &Db,
    hasher: &Hasher,
    user_id: mailkeys::domain::UserId,
    name: &str,
) -> (mailkeys::domain::AppPasswordId, String) {
    use app_passwords::NewAppPassword;
    use secrecy::ExposeSecret;
    let generated = mailkeys::infra::random::new_app_password().unwrap();
    let hash = hasher
        .hash(Profile::App, generated.plaintext.clone())
        .await
        .unwrap();
    let new = NewAppPassword {
        user_id,
        name,
        lookup_id: generated.lookup_id.as_str(),
        password_hash: &hash,
        scope: "imap",
        allowed_nets: None,
        now: 0,
        expires_at: None,
    };
    let id = app_passwords::insert(&db.pool, new).await.unwrap();
    (id, generated.plaintext.expose_secret().to_owned())
}

/// Logins per second at `CONCURRENCY` for one `WINDOW`.
async fn logins_per_second(dc: &Arc<dovecot::Dovecot>, user: &str, password: &str) -> f64 {
    let deadline = Instant::now() + WINDOW;
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (dc, user, password) = (dc.clone(), user.to_owned(), password.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut count = 0u32;
            while Instant::now() < deadline {
                one_login(&dc, "127.0.0.1", &user, &password).await;
                count += 1;
            }
            count
        }));
    }
    let started = Instant::now();
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    f64::from(total) / started.elapsed().as_secs_f64()
}

/// Median and range of rates.
fn rate(samples: &[f64]) -> String {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    format!(
        "{:.0} ({:.0}–{:.0})",
        sorted[sorted.len() / 2],
        sorted[0],
        sorted[sorted.len() - 1]
    )
}

fn median_rate(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// Median and range of times.
fn times(samples: &mut [Duration]) -> String {
    let median = percentile(samples, 0.5);
    format!(
        "{} ({}–{})",
        ms(median),
        ms(samples[0]),
        ms(samples[samples.len() - 1])
    )
}

struct Figures {
    release: String,
    ours: Vec<f64>,
    theirs: Vec<f64>,
    one: Vec<Duration>,
    fifty: Vec<Duration>,
    to_refusal: Vec<Duration>,
}

async fn measure(version: DovecotVersion) -> Figures {
    let install = Install::of(version);
    let dir = install.tempdir("mkbench-");
    let db_path = dir.path().join("imap.db");
    let db = Db::connect(&format!("sqlite://{}", db_path.display()))
        .await
        .unwrap();
    db.migrate().await.unwrap();
    let (hasher, main_hash) = real_hasher_and_hash(2).await;
    seed(&db, "one", 1, &main_hash, false).await;
    seed(&db, "fifty", 1, &main_hash, false).await;
    let mut plaintexts = std::collections::HashMap::new();
    for (user, count) in [("one0@example.org", 1), ("fifty0@example.org", 50)] {
        let user_id = user_id_of(&db, user).await;
        for n in 0..count {
            let (_, plaintext) =
                add_app_password(&db, &hasher, user_id, &format!("device {n}")).await;
            plaintexts.insert(user, plaintext);
        }
    }
    let one = plaintexts["one0@example.org"].clone();
    let fifty = plaintexts["fifty0@example.org"].clone();

    let sqlite = || dovecot::DovecotDb::Sqlite(db_path.clone());
    let with_mailkeys =
        Arc::new(dovecot::Dovecot::start(dovecot::DovecotOptions::new(version, sqlite())).await);
    let mut baseline_options = dovecot::DovecotOptions::new(version, sqlite());
    baseline_options.baseline_passwd_file =
        Some(vec![("one0@example.org".to_owned(), one.clone())]);
    let baseline = Arc::new(dovecot::Dovecot::start(baseline_options).await);
    let release = with_mailkeys
        .log()
        .lines()
        .find_map(|l| l.split("Dovecot v").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or(version.as_str())
        .to_owned();

    // Warm both up, then alternate windows so drift on the machine hits both alike.
    one_login(&with_mailkeys, "127.0.0.1", "one0@example.org", &one).await;
    one_login(&baseline, "127.0.0.1", "one0@example.org", &one).await;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..WINDOWS {
        ours.push(logins_per_second(&with_mailkeys, "one0@example.org", &one).await);
        theirs.push(logins_per_second(&baseline, "one0@example.org", &one).await);
    }

    let (mut t_one, mut t_fifty) = (Vec::new(), Vec::new());
    for _ in 0..LOGINS {
        t_one.push(one_login(&with_mailkeys, "127.0.0.1", "one0@example.org", &one).await);
        t_fifty.push(one_login(&with_mailkeys, "127.0.0.1", "fifty0@example.org", &fifty).await);
    }

    // Revocation: a fresh password logs in, is revoked in the database, and the time until
    // Dovecot refuses it is measured (each refusal from its own source address).
    let mut to_refusal = Vec::new();
    let user_id = user_id_of(&db, "one0@example.org").await;
    for n in 0..REVOCATIONS {
        let (id, plaintext) =
            add_app_password(&db, &hasher, user_id, &format!("revoked {n}")).await;
        one_login(&with_mailkeys, "127.0.0.1", "one0@example.org", &plaintext).await;
        let revoked = Instant::now();
        let revocation = app_passwords::Revocation {
            user_id,
            by: user_id,
            reason: "bench",
            now: 1,
        };
        app_passwords::revoke(&db.pool, id, &revocation)
            .await
            .unwrap();
        let source = format!("127.9.{}.{}", n / 200, 1 + n % 200);
        let refused = with_mailkeys
            .imaps_login(&source, "one0@example.org", &plaintext)
            .await;
        assert!(refused.is_err(), "a revoked password must be refused");
        to_refusal.push(revoked.elapsed());
    }
    Figures {
        release,
        ours,
        theirs,
        one: t_one,
        fifty: t_fifty,
        to_refusal,
    }
}

pub(crate) async fn imap(report: &mut String) {
    let mut figures = Vec::new();
    for version in DovecotVersion::ALL {
        figures.push(measure(version).await);
    }
    let _ = writeln!(
        report,
        "## 3. IMAP logins through Dovecot (connect, TLS, SASL PLAIN, LOGOUT)\n\n\
         Each figure: the median, and in brackets the range (min–max). Logins/s: {WINDOWS} \
         windows of {} s at concurrency {CONCURRENCY}, alternating with the baseline. Login \
         times: {LOGINS} logins each. Revocation: {REVOCATIONS} trials.\n",
        WINDOW.as_secs()
    );
    let mut header = String::from("| figure |");
    let mut rule = String::from("|---|");
    for f in &figures {
        let _ = write!(header, " Dovecot {} |", f.release);
        rule.push_str("---|");
    }
    let _ = writeln!(report, "{header}\n{rule}");
    let mut row = |name: &str, cell: &dyn Fn(&mut Figures) -> String| {
        let mut line = format!("| {name} |");
        for f in figures.iter_mut() {
            let _ = write!(line, " {} |", cell(f));
        }
        let _ = writeln!(report, "{line}");
    };
    row("logins/s, Mailkeys database", &|f| rate(&f.ours));
    row("logins/s, passwd-file with `{PLAIN}`", &|f| rate(&f.theirs));
    row(
        "ratio of the medians, Mailkeys / passwd-file (aim ≥ 0.9)",
        &|f| format!("{:.2}", median_rate(&f.ours) / median_rate(&f.theirs)),
    );
    row("login, user with 1 app password", &|f| times(&mut f.one));
    row("login, user with 50 app passwords", &|f| {
        times(&mut f.fifty)
    });
    row(
        "revocation to the first refused login (2.3 waits its 0.5 s failure timer first)",
        &|f| times(&mut f.to_refusal),
    );
    let _ = writeln!(report);
}
