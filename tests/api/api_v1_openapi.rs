//! The OpenAPI 3.1 document as served: public, listing every `/api/v1` route of the table
//! and nothing else, and valid by openapi-spec-validator (PyPI, in the venv scripts/test
//! makes); schemathesis driving the API from it; and the README's `curl` commands for the
//! API, run as written there.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::api_v1::{create_token, Api};
use crate::both_backends;
use mailkeys_test_support::prelude::*;

/// Where scripts/test installs openapi-spec-validator.
const VALIDATOR: &str = "/var/cache/mailkeys-test/py-venv/bin/openapi-spec-validator";

async fn the_served_document_is_valid_openapi_3_1_for_every_route(backend: Backend) {
    let app = spawn_app(backend).await;
    let document = Api::new(&app, None).get_json("/api/v1/openapi.json").await;
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        document["openapi"]
    );
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((path.clone(), method.to_uppercase()));
        }
    }
    let routed: BTreeSet<(String, String)> = mailkeys::web::routes::table()
        .into_iter()
        .filter(|(path, _)| path.starts_with("/api/v1/"))
        .flat_map(|(path, methods)| {
            methods
                .into_iter()
                .map(move |m| (path.to_owned(), m.as_str().to_owned()))
        })
        .collect();
    assert_eq!(documented, routed);
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );

    assert!(
        Path::new(VALIDATOR).exists(),
        "openapi-spec-validator is required at {VALIDATOR}: run scripts/test, which installs it"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, document.to_string()).unwrap();
    let out = std::process::Command::new(VALIDATOR)
        .arg(&file)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the validator refused it: {said}");
    assert!(said.contains("OK"), "{said}");
}
both_backends!(the_served_document_is_valid_openapi_3_1_for_every_route);

/// The `curl` lines of the README's "Scripting: the JSON API" section, exactly.
fn readme_curl_lines() -> Vec<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("Scripting: the JSON API"))
        .expect("the README's API section");
    let lines: Vec<String> = section
        .lines()
        .filter(|l| l.starts_with("curl "))
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    lines
}

async fn the_readmes_curl_commands_work_as_written(backend: Backend) {
    let (app, alice) = app_with_alice(backend).await;
    app.new_app_password(&alice, "Phone").await;
    let root = app.signed_in_admin().await;
    let token = create_token(&root, "README", "read-only", "").await;
    let write_token = create_token(&root, "README writer", "read-write", "").await;
    let dir = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    for line in readme_curl_lines() {
        assert!(line.contains("http://127.0.0.1:8080/api/v1/"), "{line}");
        let here = line.replace("http://127.0.0.1:8080", &app.url(""));
        let token = if line.contains("-d ") {
            &write_token
        } else {
            &token
        };
        let out = std::process::Command::new("sh")
            .args(["-c", &here])
            .current_dir(dir.path())
            .env("TOKEN", token)
            .output()
            .unwrap();
        assert!(out.status.success(), "{line}: {out:?}");
        outputs.push(String::from_utf8(out.stdout).unwrap());
    }
    let listed: Value = serde_json::from_str(&outputs[0]).unwrap();
    assert_eq!(listed["accounts"][0]["email"], ALICE);
    let preview: Value = serde_json::from_str(&outputs[1]).unwrap();
    assert_eq!(preview["total"], 1, "{preview}");
    assert_eq!(app.live_app_passwords().await, 1, "a dry run");
    let exported = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    let rows: Vec<Value> = exported
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(rows.iter().any(|r| r["event"] == "app_password_created"));
    let document: Value = serde_json::from_str(&outputs[3]).unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
}
both_backends!(the_readmes_curl_commands_work_as_written);

/// Where scripts/test installs schemathesis.
const SCHEMATHESIS: &str = "/var/cache/mailkeys-test/py-venv/bin/st";

/// A generic tool drives the API from its own document: schemathesis, a bounded number of
/// generated requests per operation with a read-write token, finds no server error and no
/// answer that contradicts the document (statuses, content types, body schemas, methods).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_drives_the_api_from_its_document_without_a_server_error() {
    let (app, alice) = app_with_alice(Backend::Sqlite).await;
    app.new_app_password(&alice, "Phone").await;
    let root = app.signed_in_admin().await;
    let token = create_token(&root, "Fuzzer", "read-write", "").await;
    assert!(
        Path::new(SCHEMATHESIS).exists(),
        "schemathesis is required at {SCHEMATHESIS}: run scripts/test, which installs it"
    );
    let dir = tempfile::tempdir().unwrap();
    let url = app.url("");
    let out = tokio::process::Command::new(SCHEMATHESIS)
        .current_dir(dir.path())
        .args([
            "run",
            &app.url("/api/v1/openapi.json"),
            "--url",
            &url,
            "--header",
            &format!("Authorization: Bearer {token}"),
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,unsupported_method",
            "--max-examples",
            "15",
            "--phases",
            "coverage,fuzzing",
            "--seed",
            "1",
            "--workers",
            "1",
            "--generation-database",
            "none",
            "--no-color",
        ])
        .output()
        .await
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(dir.path().join("said.txt"), &said).unwrap();
    assert!(out.status.success(), "schemathesis found problems:\n{said}");
}
