//! `kconnect ctl` against a running worker: the commands scripts use, their output and their
//! exit codes.

mod common;

use std::process::Output;

use common::*;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_kconnect");

async fn ctl(url: &str, args: &[&str]) -> Output {
    tokio::process::Command::new(BIN)
        .arg("ctl")
        .args(["--url", url])
        .args(args)
        .env("RUST_LOG", "off")
        .output()
        .await
        .unwrap()
}

fn json_out(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&o.stdout)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ctl_drives_a_running_worker_with_exit_codes_scripts_can_trust() {
    let dir = tempfile::tempdir().unwrap();
    let running = standalone_worker(dir.path(), &[]).await;
    let url = format!("http://{}", running.rest_addr);
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "x\n").unwrap();
    let file = dir.path().join("src.properties");
    std::fs::write(
        &file,
        format!(
            "name=src\nconnector.class=FileStreamSource\ntopic=t\nfile={}\n",
            input.display()
        ),
    )
    .unwrap();

    let o = ctl(&url, &["create", file.to_str().unwrap()]).await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(json_out(&o)["name"], "src");
    let o = ctl(&url, &["list"]).await;
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json_out(&o), serde_json::json!(["src"]));
    let o = ctl(&url, &["status", "src"]).await;
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json_out(&o)["name"], "src");
    let o = ctl(&url, &["pause", "src"]).await;
    assert_eq!(o.status.code(), Some(0));
    let o = ctl(&url, &["plugins"]).await;
    assert_eq!(o.status.code(), Some(0));
    assert!(json_out(&o).as_array().unwrap().len() >= 4);

    // Faults fire from the command line too.
    let o = ctl(
        &url,
        &["fault", "task-panic", "--connector", "src", "--task", "0"],
    )
    .await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = ctl(&url, &["fault", "meteor"]).await;
    assert_eq!(o.status.code(), Some(1));

    // The worker answers an error: exit 1 and Connect's message on stderr.
    let o = ctl(&url, &["status", "nope"]).await;
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("error 404") && err.contains("nope"), "{err}");
    let o = ctl(&url, &["create", file.to_str().unwrap()]).await;
    assert_eq!(o.status.code(), Some(1), "a second create conflicts");
    // An invalid config fails validation: exit 1.
    let bad = dir.path().join("bad.properties");
    std::fs::write(
        &bad,
        "name=bad\nconnector.class=FileStreamSink\nfile=/tmp/x\n",
    )
    .unwrap();
    let o = ctl(&url, &["validate", bad.to_str().unwrap()]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("topics"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    let o = ctl(&url, &["delete", "src"]).await;
    assert_eq!(o.status.code(), Some(0));
    let o = ctl(&url, &["list"]).await;
    assert_eq!(json_out(&o), serde_json::json!([]));
    running.stop().await;

    // Nobody listens any more: exit 3.
    let o = ctl(&url, &["list"]).await;
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A usage error: exit 2.
    let o = ctl(&url, &["frobnicate"]).await;
    assert_eq!(o.status.code(), Some(2));
}
