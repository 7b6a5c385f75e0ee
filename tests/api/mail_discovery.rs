//! How mail apps find the servers by themselves: Thunderbird's autoconfig file (validated
//! against its schema with lxml, and read with ElementTree) and the DNS SRV records on the
//! admin's page.

use reqwest::StatusCode;
use serde_json::Value;

use crate::both_backends;
use crate::mail_setup::{fixture, run, smtp_starttls, PYTHON};
use mailkeys_test_support::prelude::*;

/// Validates `xml` against the schema and returns what a client reads from it.
fn read_autoconfig(xml: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config-v1.1.xml");
    std::fs::write(&file, xml).unwrap();
    let read = run(
        PYTHON,
        &[
            fixture("read_autoconfig.py").to_str().unwrap(),
            fixture("autoconfig-v1.1.xsd").to_str().unwrap(),
            file.to_str().unwrap(),
        ],
    );
    let read: Value = serde_json::from_str(&read).unwrap();
    assert_eq!(read["valid"], true, "schema errors: {read}");
    read
}

async fn thunderbird_autoconfig_is_valid_and_names_servers_only(backend: Backend) {
    let app = spawn_app_with(backend, smtp_starttls).await;
    let browser = app.signed_in(ALICE).await;
    let created = browser.create_app_password("Laptop").await;
    let visitor = app.browser();
    for path in [
        "/.well-known/autoconfig/mail/config-v1.1.xml",
        "/mail/config-v1.1.xml",
    ] {
        let response = visitor
            .get(&format!("{path}?emailaddress=alice%40example.org"))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/xml"));
        let xml = response.text().await.unwrap();
        assert!(!xml.contains(&created.plaintext[7..]));
        let read = read_autoconfig(&xml);
        assert_eq!(read["version"], "1.1");
        assert_eq!(read["id"], "example.org");
        assert_eq!(read["domains"], serde_json::json!(["example.org"]));
        let incoming = &read["incoming"][0];
        assert_eq!(incoming["type"], "imap");
        assert_eq!(incoming["hostname"], "mail.example.org");
        assert_eq!(incoming["port"], "993");
        assert_eq!(incoming["socketType"], "SSL");
        assert_eq!(incoming["username"], "%EMAILADDRESS%");
        assert_eq!(incoming["authentication"], "password-cleartext");
        let outgoing = &read["outgoing"][0];
        assert_eq!(outgoing["type"], "smtp");
        assert_eq!(outgoing["hostname"], "smtp.example.org");
        assert_eq!(outgoing["port"], "587");
        assert_eq!(outgoing["socketType"], "STARTTLS");
        assert_eq!(outgoing["username"], "%EMAILADDRESS%");
        let tags = read["tags"].as_array().unwrap();
        assert!(!tags.contains(&Value::from("password")), "never a password");
    }
    // The README's command, on the test's address.
    let readme = "http://127.0.0.1:8080/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=alice@example.org";
    let url = readme.replace("http://127.0.0.1:8080", &app.url(""));
    let read = read_autoconfig(&run("curl", &["-s", &url]));
    assert_eq!(read["id"], "example.org");
    assert_eq!(read["incoming"][0]["hostname"], "mail.example.org");
    // Without an address (or with nonsense), the provider is named after the IMAP host.
    let xml = visitor
        .get_text("/mail/config-v1.1.xml?emailaddress=%3Cscript%3E")
        .await;
    assert_eq!(read_autoconfig(&xml)["id"], "mail.example.org");
}
both_backends!(thunderbird_autoconfig_is_valid_and_names_servers_only);

async fn the_admin_sees_srv_records_for_each_mail_domain(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("root@example.org", PASSWORD, true).await;
    app.add_user("bob@example.net", PASSWORD, false).await;
    let admin = app.browser();
    admin.sign_in("root@example.org", PASSWORD).await;
    assert!(admin
        .get_text("/admin")
        .await
        .contains(r#"<a href="/admin/mail-setup">DNS records for mail apps</a>"#));
    let page = admin.get_text("/admin/mail-setup").await;
    for record in [
        "_imaps._tcp.example.org. 3600 IN SRV 0 1 993 mail.example.org.",
        "_imap._tcp.example.org. 3600 IN SRV 0 0 0 .",
        "_submissions._tcp.example.org. 3600 IN SRV 0 1 465 mail.example.org.",
        "_submission._tcp.example.org. 3600 IN SRV 0 0 0 .",
        "_imaps._tcp.example.net. 3600 IN SRV 0 1 993 mail.example.org.",
    ] {
        assert!(page.contains(record), "{record} in\n{page}");
    }
    assert!(page.contains("/.well-known/autoconfig/mail/config-v1.1.xml"));
    let bob = app.browser();
    bob.sign_in("bob@example.net", PASSWORD).await;
    assert_eq!(
        bob.get_status("/admin/mail-setup").await,
        StatusCode::NOT_FOUND
    );
}
both_backends!(the_admin_sees_srv_records_for_each_mail_domain);
