//! The admin commands, run as the real binary.

use std::process::{Command, Stdio};

use reqwest::StatusCode;

use crate::helpers::*;

fn liandong(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_liandong"))
        .args(args)
        .env("LIANDONG_DATA_DIR", data_dir)
        .env("LIANDONG_LOG", "warn")
        .output()
        .expect("run liandong")
}

#[tokio::test]
async fn backup_while_serving_then_restore_and_verify() {
    let app = TestApp::spawn().await;
    let backup = app.dir.path().join("backup.sqlite3");
    let out = liandong(app.dir.path(), &["backup", backup.to_str().expect("utf8")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = liandong(app.dir.path(), &["backup", backup.to_str().expect("utf8")]);
    assert!(
        !out.status.success(),
        "an existing file is never overwritten"
    );

    let other = tempfile::tempdir().expect("tempdir");
    let out = liandong(other.path(), &["restore", backup.to_str().expect("utf8")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = liandong(other.path(), &["audit", "verify"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("哈希链完整"));

    let garbage = other.path().join("garbage.sqlite3");
    std::fs::write(&garbage, b"not a database").expect("write");
    let out = liandong(other.path(), &["restore", garbage.to_str().expect("utf8")]);
    assert!(!out.status.success(), "a damaged backup is refused");
}

#[tokio::test]
async fn audit_verify_names_the_first_tampered_entry() {
    let app = TestApp::spawn().await;
    let db = app.dir.path().join("liandong.sqlite3");
    let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("raw");
    sqlx::query("DROP TRIGGER audit_log_no_update")
        .execute(&raw)
        .await
        .expect("drop");
    sqlx::query("UPDATE audit_log SET after_json = '{}' WHERE id = 7")
        .execute(&raw)
        .await
        .expect("tamper");
    let out = liandong(app.dir.path(), &["audit", "verify"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("第 7 条记录"), "{err}");
}

#[tokio::test]
async fn a_damaged_database_stops_the_server_with_the_file_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("liandong.sqlite3"), vec![7_u8; 4096]).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_liandong"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("LIANDONG_DATA_DIR", dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("liandong.sqlite3") && !err.contains("panicked"),
        "{err}"
    );
}

#[tokio::test]
async fn user_commands_create_reset_lock_and_unlock() {
    let app = TestApp::spawn().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_liandong"))
        .args([
            "user",
            "add",
            "qianba",
            "--role",
            "department",
            "--unit",
            "县水利局",
            "--password-stdin",
        ])
        .env("LIANDONG_DATA_DIR", app.dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{GOOD_PASSWORD}\n").as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body = json(app.sign_in("qianba", GOOD_PASSWORD).await).await;
    assert_eq!(body["must_change_password"], true);
    assert_eq!(body["user"]["units"], serde_json::json!([5]));

    assert!(liandong(app.dir.path(), &["user", "lock", "qianba"])
        .status
        .success());
    assert_eq!(
        app.sign_in("qianba", GOOD_PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert!(liandong(app.dir.path(), &["user", "unlock", "qianba"])
        .status
        .success());
    assert_eq!(
        app.sign_in("qianba", GOOD_PASSWORD).await.status(),
        StatusCode::OK
    );
    let out = liandong(app.dir.path(), &["user", "passwd", "qianba"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("新密码"));
    assert_eq!(
        app.sign_in("qianba", GOOD_PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let out = liandong(
        app.dir.path(),
        &[
            "user",
            "add",
            "x",
            "--role",
            "department",
            "--unit",
            "不存在的局",
        ],
    );
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("不存在"));
}
