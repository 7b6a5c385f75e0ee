//! The generated Dovecot configuration on the real Dovecot, 2.3 and 2.4, SQLite and
//! PostgreSQL: logins, revocation, policy reports, scopes, networks, odd typed passwords,
//! and the files under `deploy/dovecot` being exactly the generator's output.

use std::net::{Ipv4Addr, TcpListener as StdTcpListener};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncBufReadExt as _, BufReader};

use crate::dovecot::{Dovecot, DovecotOptions, DovecotVersion, PolicyRecorder};
use crate::dovecot_db::*;
use crate::{each_dovecot, each_version};
use mailkeys_test_support::prelude::Backend;

async fn logins_revocation_and_policy_reports(version: DovecotVersion, backend: Backend) {
    logins_revocation_and_policy_reports_in(version, backend, false).await
}

/// The same in the distribution's own configuration, the generated files installed as
/// deploy/dovecot/README.md says (other passdbs disabled as it says, per version).
async fn the_same_in_the_distributions_stock_configuration(
    version: DovecotVersion,
    backend: Backend,
) {
    logins_revocation_and_policy_reports_in(version, backend, true).await
}
each_dovecot!(the_same_in_the_distributions_stock_configuration);

async fn logins_revocation_and_policy_reports_in(
    version: DovecotVersion,
    backend: Backend,
    stock_layout: bool,
) {
    let db = TestDb::new(version, backend == Backend::Postgres).await;
    let (phone, _, _) = alice(&db).await;
    let policy = PolicyRecorder::start().await;
    let dovecot = Dovecot::start(DovecotOptions {
        policy_url: Some(policy.url.clone()),
        policy_secret: Some("config-test-policy-secret-0123456789".into()),
        stock_layout,
        ..DovecotOptions::new(version, db.dovecot_db())
    })
    .await;
    if stock_layout {
        assert!(dovecot.config_path().ends_with("etc-dovecot/dovecot.conf"));
        // PAM is out of the chain: a system account is not even looked up there.
        let root = dovecot
            .auth_test("root", "not-the-password", "imap", "10.99.0.1")
            .await;
        assert!(!root.ok, "{}", root.output);
        let log = dovecot.log_with("10.99.0.1").await;
        assert!(!log.contains("pam_authenticate"), "PAM was asked:\n{log}");
        // deploy/dovecot/README.md: the stock auth workers run as root, which is why a
        // SQLite file needs no group by default.
        let ps = std::process::Command::new("ps")
            .args(["-eo", "user,args"])
            .output()
            .unwrap();
        let title = format!("mailkeys-test-{}/auth -w", dovecot.imap_port);
        let workers: Vec<String> = String::from_utf8_lossy(&ps.stdout)
            .lines()
            .filter(|l| l.contains(&title))
            .map(str::to_owned)
            .collect();
        // 2.3 runs PostgreSQL lookups in the auth process itself (no worker); every other
        // combination here goes through workers (2.4's generated passdbs: use_worker = yes).
        let uses_workers = !(version == DovecotVersion::V2_3 && backend == Backend::Postgres);
        assert_eq!(
            !workers.is_empty(),
            uses_workers,
            "stock auth workers: {workers:?}"
        );
        assert!(
            workers.iter().all(|l| l.starts_with("root")),
            "stock auth workers: {workers:?}"
        );
    }

    let mut held = dovecot
        .imap_login("Alice@Example.org", PHONE)
        .await
        .unwrap_or_else(|e| panic!("app password login: {e}\n{}", dovecot.log()));
    let report = policy
        .wait_for(|r| r.body["credential_id"] == json!(phone.to_string()))
        .await;
    assert_eq!(report.method, "POST");
    assert_eq!(report.target, "/dovecot/auth-policy?command=report");
    assert_eq!(
        report.header("X-Mailkeys-Policy-Secret"),
        Some("config-test-policy-secret-0123456789")
    );
    assert_eq!(report.header("Content-Type"), Some("application/json"));
    assert_eq!(report.body["success"], json!(true));
    assert_eq!(report.body["user"], json!("alice@example.org"));
    assert_eq!(report.body["protocol"], json!("imap"));
    assert_eq!(report.body["remote"], json!("127.0.0.1"));

    dovecot
        .imaps_login("127.0.77.1", "alice@example.org", MAIN)
        .await
        .expect("main password login over IMAPS");
    let report = policy
        .wait_for(|r| r.body["remote"] == json!("127.0.77.1"))
        .await;
    assert_eq!(report.body["success"], json!(true));
    assert_eq!(report.body["credential_id"], json!(""));
    assert_eq!(report.body["tls"], json!(true));

    // Revocation is refused on the very next login (no auth cache); the open session
    // stays until kicked.
    db.revoke(phone).await;
    let refused = dovecot
        .imaps_login("127.0.77.2", "alice@example.org", PHONE)
        .await;
    assert!(
        refused.is_err(),
        "revoked app password still logs in\n{}",
        dovecot.log()
    );
    policy.wait_for(|r| r.body["success"] == json!(false)).await;
    held.noop()
        .await
        .expect("session opened before the revocation is alive");
    let (status, answer) = dovecot
        .doveadm(&json!([["kick", {"mask": ["alice@example.org"]}, "k1"]]))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer[0][0], json!("doveadmResponse"), "{answer}");
    // The kick signals the imap process; the answer may come before it has exited.
    dovecot.wait_until_closed(&mut held).await;
}

each_dovecot!(logins_revocation_and_policy_reports);

/// The Mailkeys doveadm client against each version with a live session: the kick ends it on
/// both; on 2.3 (auth cache on) the flush makes the revoked password fail at once; 2.4 never
/// gets the flush its doveadm server would panic on, and its doveadm server stays up.
async fn mailkeys_kicks_on_both_versions_and_flushes_only_on_2_3(version: DovecotVersion) {
    use mailkeys::dovecot::doveadm::{Doveadm, SessionSync};
    let db = TestDb::new(version, false).await;
    let (phone, _, _) = alice(&db).await;
    let dovecot = Dovecot::start(DovecotOptions {
        auth_cache: version == DovecotVersion::V2_3,
        ..DovecotOptions::new(version, db.dovecot_db())
    })
    .await;
    let mut held = dovecot
        .imaps_login("127.0.61.1", "alice@example.org", PHONE)
        .await
        .unwrap_or_else(|e| panic!("login: {e}\n{}", dovecot.log()));
    db.revoke(phone).await;
    if version == DovecotVersion::V2_3 {
        assert!(
            dovecot
                .auth_test("alice@example.org", PHONE, "imap", "10.0.0.2")
                .await
                .ok,
            "expected the cached answer before the flush"
        );
    }
    // The base URL form, with the version learned from the API (no setting).
    let client = Doveadm::new(
        &dovecot.doveadm_base_url.parse().unwrap(),
        &secrecy::SecretString::from(dovecot.doveadm_api_key.clone()),
        None,
    )
    .unwrap();
    let probe = client.probe().await.expect("probe");
    assert_eq!(probe.detected, Some(version));
    let user = mailkeys::domain::Username::parse("alice@example.org").unwrap();
    assert_eq!(client.end_sessions(&user, true).await, SessionSync::Ended);
    dovecot.wait_until_closed(&mut held).await;
    assert!(
        !dovecot
            .auth_test("alice@example.org", PHONE, "imap", "10.0.0.3")
            .await
            .ok,
        "revoked password accepted after Mailkeys' call\n{}",
        dovecot.log()
    );
    // The doveadm server is still there, and nothing crashed.
    assert_eq!(client.end_sessions(&user, true).await, SessionSync::Ended);
    let log = dovecot.log();
    assert!(
        !log.contains("Panic") && !log.contains("killed with signal"),
        "{log}"
    );
}
each_version!(mailkeys_kicks_on_both_versions_and_flushes_only_on_2_3);

/// Why Mailkeys never sends `authCacheFlush` to 2.4.1: its doveadm server dies on it, and a
/// kick behind it in the same request would never run. If a later 2.4 fixes this, this test
/// fails and `DovecotVersion::can_flush_auth_cache` can be revisited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dovecot_2_4_doveadm_dies_on_an_auth_cache_flush() {
    let db = TestDb::new(DovecotVersion::V2_4, false).await;
    alice(&db).await;
    let dovecot = Dovecot::start(DovecotOptions::new(DovecotVersion::V2_4, db.dovecot_db())).await;
    let answer = reqwest::Client::new()
        .post(&dovecot.doveadm_url)
        .header("Authorization", dovecot.doveadm_authorization())
        .json(&json!([
            ["authCacheFlush", {"user": ["alice@example.org"]}, "f1"],
            ["kick", {"mask": ["alice@example.org"]}, "k1"]
        ]))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(answer.is_err(), "2.4 answered a cache flush: {answer:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = dovecot.log_with("Panic").await;
    assert!(log.contains("Panic"), "{log}");
}

async fn logins_stay_fast_when_the_policy_server_is_down(version: DovecotVersion) {
    let db = TestDb::new(version, false).await;
    alice(&db).await;
    let closed = StdTcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/dovecot/auth-policy",
        closed.local_addr().unwrap()
    );
    drop(closed);
    let dovecot = Dovecot::start(DovecotOptions {
        policy_url: Some(url),
        policy_secret: Some("closed-test-policy-secret-0123456789".into()),
        ..DovecotOptions::new(version, db.dovecot_db())
    })
    .await;
    for _ in 0..3 {
        let started = Instant::now();
        dovecot
            .imap_login("alice@example.org", PHONE)
            .await
            .expect("login");
        let took = started.elapsed();
        assert!(
            took < Duration::from_millis(1000),
            "login took {took:?}\n{}",
            dovecot.log()
        );
    }
    let log = dovecot.log_with("Policy server HTTP error").await;
    assert!(log.contains("Policy server HTTP error"), "{log}");
}
each_version!(logins_stay_fast_when_the_policy_server_is_down);

async fn instances_run_side_by_side(version: DovecotVersion) {
    let dbs = [
        TestDb::new(version, false).await,
        TestDb::new(version, false).await,
        TestDb::new(version, true).await,
    ];
    for db in &dbs {
        alice(db).await;
    }
    let (a, b, c) = tokio::join!(
        Dovecot::start(DovecotOptions::new(version, dbs[0].dovecot_db())),
        Dovecot::start(DovecotOptions::new(version, dbs[1].dovecot_db())),
        Dovecot::start(DovecotOptions::new(version, dbs[2].dovecot_db())),
    );
    for dovecot in [&a, &b, &c] {
        dovecot
            .imap_login("alice@example.org", PHONE)
            .await
            .expect("login");
        assert!(dovecot.ca_cert_pem.exists());
    }
}
each_version!(instances_run_side_by_side);

/// The first line a plaintext client reads from `address:port`, connecting from 127.0.0.1.
async fn greeting(address: Ipv4Addr, port: u16) -> String {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(([127, 0, 0, 1], 0).into()).unwrap();
    let stream = socket.connect((address, port).into()).await.unwrap();
    let mut line = String::new();
    tokio::time::timeout(
        Duration::from_secs(5),
        BufReader::new(stream).read_line(&mut line),
    )
    .await
    .expect("a greeting within 5 s")
    .unwrap();
    line
}

async fn loopback_to_loopback_is_secured_even_with_ssl_required_but_another_address_is_not(
    version: DovecotVersion,
) {
    let db = TestDb::new(version, false).await;
    alice(&db).await;
    let (same, other) = tokio::join!(
        Dovecot::start(DovecotOptions {
            ssl_required: true,
            ..DovecotOptions::new(version, db.dovecot_db())
        }),
        Dovecot::start(DovecotOptions {
            ssl_required: true,
            listen_address: Ipv4Addr::new(127, 0, 0, 2),
            ..DovecotOptions::new(version, db.dovecot_db())
        }),
    );
    // 127.0.0.1 -> 127.0.0.1: Dovecot 2.3 counts it as secured, ssl = required or not.
    let hello = greeting(same.address, same.imap_port).await;
    assert!(hello.contains("AUTH=PLAIN"), "{hello}");
    assert!(!hello.contains("LOGINDISABLED"), "{hello}");
    same.imap_login("alice@example.org", PHONE)
        .await
        .expect("plaintext login from 127.0.0.1 to 127.0.0.1");

    // 127.0.0.1 -> 127.0.0.2: not secured, as for a remote client.
    assert_eq!(other.address, Ipv4Addr::new(127, 0, 0, 2));
    let hello = greeting(other.address, other.imap_port).await;
    assert!(hello.contains("LOGINDISABLED"), "{hello}");
    assert!(hello.contains("STARTTLS"), "{hello}");
    assert!(!hello.contains("AUTH="), "{hello}");
    let refused = other.imap_login("alice@example.org", PHONE).await;
    assert!(refused.is_err(), "plaintext login before TLS accepted");
    other
        .imaps_login("127.0.0.1", "alice@example.org", PHONE)
        .await
        .unwrap_or_else(|e| panic!("IMAPS on 127.0.0.2: {e}\n{}", other.log()));
}
each_version!(loopback_to_loopback_is_secured_even_with_ssl_required_but_another_address_is_not);

async fn a_baseline_instance_authenticates_from_its_passwd_file_only(version: DovecotVersion) {
    let db = TestDb::new(version, false).await;
    alice(&db).await;
    let users = vec![
        (
            "bench1@example.org".to_owned(),
            "bench one password".to_owned(),
        ),
        (
            "bench2@example.org".to_owned(),
            "bench two password".to_owned(),
        ),
    ];
    let dovecot = Dovecot::start(DovecotOptions {
        baseline_passwd_file: Some(users),
        // Ignored by a baseline: Mailkeys' users must not log in.
        ..DovecotOptions::new(version, db.dovecot_db())
    })
    .await;
    let config = std::fs::read_to_string(dovecot.config_path()).unwrap();
    assert!(config.contains("90-baseline.conf"), "{config}");
    assert!(!config.contains("90-mailkeys.conf"), "{config}");
    dovecot
        .imap_login("bench1@example.org", "bench one password")
        .await
        .unwrap_or_else(|e| panic!("baseline login: {e}\n{}", dovecot.log()));
    dovecot
        .imaps_login("127.0.0.1", "Bench2@Example.org", "bench two password")
        .await
        .unwrap_or_else(|e| panic!("baseline IMAPS login: {e}\n{}", dovecot.log()));
    assert!(dovecot
        .imap_login("bench1@example.org", "bench two password")
        .await
        .is_err());
    assert!(
        dovecot
            .imap_login("alice@example.org", PHONE)
            .await
            .is_err(),
        "the baseline must not read Mailkeys' database"
    );
    let test = dovecot
        .auth_test(
            "bench2@example.org",
            "bench two password",
            "imap",
            "10.0.0.1",
        )
        .await;
    assert!(test.ok, "{}", test.output);

    let plain = DovecotOptions::baseline(version, vec![("b@example.org".into(), "pw".into())]);
    let dovecot = Dovecot::start(plain).await;
    dovecot
        .imap_login("b@example.org", "pw")
        .await
        .expect("DovecotOptions::baseline logs in");
}
each_version!(a_baseline_instance_authenticates_from_its_passwd_file_only);
