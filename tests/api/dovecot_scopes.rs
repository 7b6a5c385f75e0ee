//! The generated configuration's rules on the real Dovecot (2.3 and 2.4, SQLite and
//! PostgreSQL): scopes by service, network limits, main-password rules, quotes and UTF-8 in
//! user names and passwords, and one argon2 check per wrong app password.

use crate::dovecot::{Dovecot, DovecotOptions, DovecotVersion, PolicyRecorder};
use crate::dovecot_db::*;
use crate::each_dovecot;
use mailkeys_test_support::prelude::Backend;

async fn scopes_networks_and_escaping(version: DovecotVersion, backend: Backend) {
    let db = TestDb::new(version, backend == Backend::Postgres).await;
    let (_, laptop, office) = alice(&db).await;
    db.add_user("o'hara@example.org", "o'hara's main", true)
        .await;
    db.add_user("bob@example.org", "bob's main password", false)
        .await;
    // Main passwords whose first six bytes end inside an escaped quote or a UTF-8 sequence
    // (the %6w prefix is cut after SQL escaping): they must still work.
    db.add_user("quote@example.org", "abcde'fgh-main", true)
        .await;
    db.add_user("utf8@example.org", "aaaaa\u{e9}xyz-main", true)
        .await;
    let policy = PolicyRecorder::start().await;
    let dovecot = Dovecot::start(DovecotOptions {
        policy_url: Some(policy.url.clone()),
        policy_secret: Some("scopes-test-policy-secret-0123456789".into()),
        ..DovecotOptions::new(version, db.dovecot_db())
    })
    .await;
    let mut n = 0;
    let mut check = |user: &str, password: &str, service: &str, rip: Option<&str>, expect: bool| {
        n += 1;
        let rip = rip.map_or(format!("10.200.0.{n}"), str::to_owned);
        let (user, password, service) = (user.to_owned(), password.to_owned(), service.to_owned());
        let dovecot = &dovecot;
        async move {
            let result = dovecot.auth_test(&user, &password, &service, &rip).await;
            assert_eq!(
                result.ok,
                expect,
                "{user} / {password} over {service} from {rip}: {}\n{}",
                result.output,
                dovecot.log()
            );
            result
        }
    };
    check("alice@example.org", PHONE, "imap", None, true).await;
    check("alice@example.org", PHONE, "smtp", None, false).await;
    check("alice@example.org", PHONE, "submission", None, false).await;
    check("alice@example.org", PHONE, "pop3", None, false).await;
    let ok = check("alice@example.org", LAPTOP, "smtp", None, true).await;
    assert!(
        ok.output.contains(&format!("credential_id={laptop}")),
        "{}",
        ok.output
    );
    check("alice@example.org", LAPTOP, "submission", None, true).await;
    let ok = check("alice@example.org", OFFICE, "imap", Some("10.9.9.7"), true).await;
    assert!(
        ok.output.contains(&format!("credential_id={office}")),
        "{}",
        ok.output
    );
    check("alice@example.org", OFFICE, "imap", Some("10.9.8.7"), false).await;
    check("alice@example.org", MAIN, "imap", None, true).await;
    check("alice@example.org", MAIN, "smtp", None, false).await;
    // Main passwords over IMAP, with quotes and SQL in the username or the password.
    for (user, password, expect) in [
        ("bob@example.org", "bob's main password", false),
        ("o'hara@example.org", "o'hara's main", true),
        ("O'Hara@example.org", "o'hara's main", true),
        ("o'hara@example.org' OR ''='", "o'hara's main", false),
        ("alice@example.org", "k3mfp' OR 'a'='a", false),
        ("quote@example.org", "abcde'fgh-main", true),
        ("utf8@example.org", "aaaaa\u{e9}xyz-main", true),
    ] {
        check(user, password, "imap", None, expect).await;
    }
    // A wrong app password costs one argon2 verification (passdb 1); passdb 2 returns no row.
    check(
        "alice@example.org",
        "k3mfpa-wrong-wrong-wrong",
        "imap",
        Some("10.201.0.1"),
        false,
    )
    .await;
    // The auth process logs both passdbs' answers a moment after doveadm has its result.
    let both_logged = |log: &str| {
        log.lines()
            .filter(|l| l.contains("(alice@example.org,10.201.0.1"))
            .filter(|l| l.contains("Password mismatch") || l.contains("unknown user"))
            .count()
            >= 2
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut log = dovecot.log();
    while !both_logged(&log) && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        log = dovecot.log();
    }
    assert!(
        !log.contains("query failed"),
        "SQL errors in the log:\n{log}"
    );
    let lines: Vec<&str> = log
        .lines()
        // 2.3 names the passdb `sql(...)`, 2.4 by its name (`mailkeys_app(...)`).
        .filter(|l| l.contains("(alice@example.org,10.201.0.1"))
        .collect();
    let mismatches = lines
        .iter()
        .filter(|l| l.contains("Password mismatch"))
        .count();
    let unknown = lines.iter().filter(|l| l.contains("unknown user")).count();
    assert_eq!((mismatches, unknown), (1, 1), "{lines:#?}");
}

each_dovecot!(scopes_networks_and_escaping);
