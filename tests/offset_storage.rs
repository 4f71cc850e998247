//! The standalone offset file must be writable: a path that is not stops the worker at start
//! with the key's name, and one that stops being writable fails the tasks that need it.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::plugins::registry;
use common::*;
use kconnect_actors::status::State;

#[test]
fn an_offset_file_in_a_missing_directory_stops_the_worker_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let offsets = dir.path().join("missing").join("connect.offsets");
    let worker = dir.path().join("worker.properties");
    std::fs::write(
        &worker,
        format!(
            "listeners=http://127.0.0.1:0\noffset.storage.file.filename={}\n",
            offsets.display()
        ),
    )
    .unwrap();
    let source = dir.path().join("source.properties");
    std::fs::write(
        &source,
        "name=seq\nconnector.class=VerifiableSource\ntopic=seq\n",
    )
    .unwrap();
    let log = dir.path().join("worker.log");
    let child = Command::new(env!("CARGO_BIN_EXE_kconnect"))
        .arg("standalone")
        .arg(&worker)
        .arg(&source)
        .stdin(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut worker = common::procs::Proc(child);
    // A worker that starts anyway would run forever: the wait is bounded.
    let status = worker.wait_exit(Duration::from_secs(30));
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("offset.storage.file.filename"), "{stderr}");
    assert!(stderr.contains(&offsets.display().to_string()), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_offset_file_that_becomes_unwritable_fails_the_source_task() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("offsets");
    std::fs::create_dir(&sub).unwrap();
    let offsets = sub.join("connect.offsets");
    let w = TestWorker::start(
        &[("offset.storage.file.filename", offsets.to_str().unwrap())],
        registry(),
    )
    .await;
    w.worker
        .add_connector(props(&[
            ("name", "seq"),
            ("connector.class", "VerifiableSource"),
            ("topic", "seq"),
            ("throughput", "1000"),
            ("task.restart.max.restarts", "0"),
        ]))
        .await
        .unwrap();
    w.wait_running("seq", 1).await;
    // The first commit proves the file was writable while the directory existed.
    assert!(eventually(Duration::from_secs(30), || offsets.exists()).await);
    std::fs::remove_dir_all(&sub).unwrap();

    let failed = w
        .status()
        .wait_until(Duration::from_secs(30), |m| {
            m.get("seq")
                .and_then(|c| c.tasks.get(&0))
                .is_some_and(|t| t.state == State::Failed)
        })
        .await;
    let status = w.status().get("seq");
    assert!(failed, "{status:?}");
    let trace = status.unwrap().tasks[&0].trace.clone().unwrap();
    assert!(trace.contains("cannot commit source offsets"), "{trace}");
    assert!(trace.contains(&offsets.display().to_string()), "{trace}");
    w.worker.shutdown().await;
}
