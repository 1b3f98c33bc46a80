//! The OpenAPI document, generated from the code, against a reviewed snapshot.

use crate::helpers::*;

const SNAPSHOT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/it/openapi.snapshot.json"
);

#[tokio::test]
async fn the_openapi_document_matches_its_snapshot() {
    let app = TestApp::spawn().await;
    let doc = json(
        app.client
            .get(app.url("/api/v1/openapi.json"))
            .send()
            .await
            .expect("r"),
    )
    .await;
    let paths: Vec<&String> = doc["paths"].as_object().expect("paths").keys().collect();
    for p in [
        "/api/v1/health",
        "/api/v1/session",
        "/api/v1/session/password",
        "/api/v1/users",
        "/api/v1/departments",
    ] {
        assert!(paths.iter().any(|x| *x == p), "{p} is documented");
    }
    let pretty = serde_json::to_string_pretty(&doc).expect("json") + "\n";
    if std::env::var("UPDATE_SNAPSHOTS").is_ok() {
        std::fs::write(SNAPSHOT, &pretty).expect("write snapshot");
    }
    let expected = std::fs::read_to_string(SNAPSHOT).unwrap_or_default();
    assert!(
        expected == pretty,
        "the OpenAPI document changed; review it and run with UPDATE_SNAPSHOTS=1"
    );
}
