//! `kconnect ctl` against a running worker: the commands scripts use, their output and their
//! exit codes.

mod common;

use std::process::Output;
use std::time::Duration;

use common::*;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_kconnect");

async fn ctl(url: &str, args: &[&str]) -> Output {
    ctl_with(&[], &["--url", url], args).await
}

/// `kconnect ctl` with `env` and `args`; no ambient `KCONNECT_*` variable nor config file.
async fn ctl_with(env: &[(&str, &str)], global: &[&str], args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(BIN);
    command
        .arg("ctl")
        .args(global)
        .args(args)
        .env("RUST_LOG", "off")
        .env("KCONNECT_CONFIG", "/nonexistent/kconnect/ctl.toml")
        .env_remove("KCONNECT_URL")
        .env_remove("KCONNECT_USER")
        .env_remove("KCONNECT_CONTEXT");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().await.unwrap()
}

fn stdout(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stderr: {}\nstdout: {}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
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
    assert_eq!(stdout(&o), "Created connector src\n");
    let o = ctl(&url, &["-o", "json", "list"]).await;
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json_out(&o), serde_json::json!(["src"]));
    let o = ctl(&url, &["-o", "json", "status", "src"]).await;
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json_out(&o)["name"], "src");
    let o = ctl(&url, &["pause", "src"]).await;
    assert_eq!(o.status.code(), Some(0));
    let o = ctl(&url, &["plugins", "-o", "json"]).await;
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
    let o = ctl(&url, &["list", "--output", "json"]).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ctl_shows_tables_one_view_of_a_connector_and_applies_files() {
    let dir = tempfile::tempdir().unwrap();
    let running = standalone_worker(dir.path(), &[]).await;
    let url = format!("http://{}", running.rest_addr);
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "x\n").unwrap();
    let file = dir.path().join("src.properties");
    let config = format!(
        "name=src\nconnector.class=FileStreamSource\ntopic=t\nfile={}\n",
        input.display()
    );
    std::fs::write(&file, &config).unwrap();
    let file_arg = file.to_str().unwrap();

    // apply: creates, leaves an identical config alone, updates a changed one.
    let out = stdout(&ctl(&url, &["apply", "-f", file_arg]).await);
    assert_eq!(out, "Created connector src\n");
    let out = stdout(&ctl(&url, &["apply", "-f", file_arg]).await);
    assert_eq!(out, "Connector src unchanged\n");
    std::fs::write(&file, format!("{config}batch.size=10\n")).unwrap();
    let out = stdout(&ctl(&url, &["apply", "-f", file_arg]).await);
    assert_eq!(out, "Updated connector src\n");
    let o = ctl(&url, &["config", "src", "-o", "json"]).await;
    assert_eq!(json_out(&o)["batch.size"], "10");
    let o = ctl(&url, &["apply", "-f", "/nonexistent/c.properties"]).await;
    assert_eq!(o.status.code(), Some(2));

    let status = &running.worker.context().status;
    assert!(status.wait_running("src", 1, Duration::from_secs(30)).await);
    let out = stdout(&ctl(&url, &["list"]).await);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(header, ["NAME", "TYPE", "STATE", "TASKS"], "{out}");
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(row, ["src", "source", "RUNNING", "1", "RUNNING"], "{out}");

    let out = stdout(&ctl(&url, &["describe", "src"]).await);
    for expected in [
        "Name:       src",
        "Type:       source",
        "State:      RUNNING",
        "Config:",
        "batch.size",
        "Tasks:",
    ] {
        assert!(out.contains(expected), "{expected:?} in:\n{out}");
    }
    let task_row = out
        .lines()
        .skip_while(|l| !l.starts_with("Tasks:"))
        .nth(2)
        .unwrap_or_default();
    assert!(
        task_row.split_whitespace().take(2).eq(["0", "RUNNING"]),
        "{out}"
    );
    let o = ctl(&url, &["describe", "src", "-o", "json"]).await;
    let view = json_out(&o);
    assert_eq!(view["name"], "src");
    assert_eq!(view["type"], "source");
    assert_eq!(view["state"], "RUNNING");
    assert_eq!(view["config"]["topic"], "t");
    assert_eq!(view["tasks"][0]["state"], "RUNNING");
    assert!(view["topics"].is_array(), "{view}");
    let o = ctl(&url, &["describe", "nope"]).await;
    assert_eq!(o.status.code(), Some(1));

    let out = stdout(&ctl(&url, &["info"]).await);
    assert!(
        out.starts_with("VERSION") && out.contains("mockCluster"),
        "{out}"
    );
    let o = ctl(&url, &["info", "-o", "json"]).await;
    assert!(json_out(&o)["version"].is_string());
    let out = stdout(&ctl(&url, &["tasks", "src"]).await);
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().eq(["0", "topic", "t"])),
        "{out}"
    );

    // A word of confirmation for each action.
    for (args, said) in [
        (&["pause", "src"][..], "Paused connector src"),
        (&["resume", "src"], "Resumed connector src"),
        (&["restart", "src"], "Restarted connector src"),
        (
            &["restart-task", "src", "0"],
            "Restarted task 0 of connector src",
        ),
        (&["stop", "src"], "Stopped connector src"),
        (&["delete", "src"], "Deleted connector src"),
    ] {
        let out = stdout(&ctl(&url, args).await);
        assert_eq!(out.lines().next(), Some(said), "{args:?}: {out}");
    }
    let o = ctl(&url, &["-o", "json", "list"]).await;
    assert_eq!(json_out(&o), serde_json::json!([]));
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ctl_contexts_name_workers_and_their_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users.properties");
    std::fs::write(&users, "admin: s3cret,admin\n").unwrap();
    let running = standalone_worker(
        dir.path(),
        &[("rest.basic.auth.credentials.file", users.to_str().unwrap())],
    )
    .await;
    let url = format!("http://{}", running.rest_addr);
    let config = dir.path().join("ctl.toml");
    std::fs::write(
        &config,
        format!(
            "# the team's workers\n[contexts.secured]\nurl = \"{url}\"\nuser = \"admin\"\n\
             password = \"s3cret\"\n\n[contexts.wrong]\nurl = \"{url}\"\nuser = \"admin\"\n\
             password = \"guess\"\n"
        ),
    )
    .unwrap();
    let env = [("KCONNECT_CONFIG", config.to_str().unwrap())];
    let json = ["-o", "json"];

    let out = stdout(&ctl_with(&env, &[], &["context", "list"]).await);
    assert!(
        out.contains("secured") && out.contains("wrong") && !out.contains('*'),
        "{out}"
    );
    assert!(
        !out.contains("s3cret"),
        "passwords stay out of the list: {out}"
    );
    let o = ctl_with(&env, &["--context", "secured"], &["list"]).await;
    assert_eq!(stdout(&o), "NAME  TYPE  STATE  TASKS\n");
    let o = ctl_with(&env, &["--context", "wrong"], &["list"]).await;
    assert_eq!(
        o.status.code(),
        Some(1),
        "a wrong password: the worker's 401"
    );
    let o = ctl_with(&env, &["--context", "missing"], &["list"]).await;
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing"));

    let out = stdout(&ctl_with(&env, &[], &["context", "use", "secured"]).await);
    assert_eq!(out, "Switched to context secured\n");
    let o = ctl_with(&env, &json, &["list"]).await;
    assert_eq!(json_out(&o), serde_json::json!([]), "the current context");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains("# the team's workers\n[contexts.secured]"),
        "the file keeps its comments: {text}"
    );

    // KCONNECT_URL beats the current context (without its credentials: a 401); --context
    // beats KCONNECT_URL.
    let with_url = [env[0], ("KCONNECT_URL", url.as_str())];
    let o = ctl_with(&with_url, &json, &["list"]).await;
    assert_eq!(o.status.code(), Some(1));
    let o = ctl_with(
        &with_url,
        &["--context", "secured", "-o", "json"],
        &["list"],
    )
    .await;
    assert_eq!(json_out(&o), serde_json::json!([]));

    // A context made from the command line.
    let out = stdout(
        &ctl_with(
            &env,
            &["--url", &url, "--user", "admin:s3cret"],
            &["context", "set", "made"],
        )
        .await,
    );
    assert!(out.starts_with("Saved context made"), "{out}");
    let o = ctl_with(&env, &["--context", "made", "-o", "json"], &["list"]).await;
    assert_eq!(json_out(&o), serde_json::json!([]));
    let o = ctl_with(&env, &json, &["context", "list"]).await;
    let contexts = json_out(&o);
    let current: Vec<&str> = contexts
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["current"] == true)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(current, ["secured"]);
    running.stop().await;
}

/// `logger NAME OFF`, as its help says, on a worker process (the REST log control is the
/// process's own log): the logger goes quiet, and speaks again at INFO.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ctl_turns_a_logger_off_and_on() {
    use common::procs::LoggedProc;
    let dir = tempfile::tempdir().unwrap();
    let worker = dir.path().join("worker.properties");
    std::fs::write(
        &worker,
        format!(
            "listeners=http://127.0.0.1:0\noffset.storage.file.filename={}\n",
            dir.path().join("offsets").display()
        ),
    )
    .unwrap();
    let mut command = std::process::Command::new(BIN);
    command
        .arg("standalone")
        .arg(&worker)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1");
    let p = LoggedProc::spawn(command);
    let line = p.wait_line(Duration::from_secs(30), |l| {
        l.contains("running") && l.contains("rest=")
    });
    let addr = line
        .split("rest=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let url = format!("http://{addr}");
    let connector = |name: &str| {
        let path = dir.path().join(format!("{name}.properties"));
        std::fs::write(
            &path,
            format!(
                "name={name}\nconnector.class=FileStreamSource\ntopic=t\nfile={}\n",
                dir.path().join("in.txt").display()
            ),
        )
        .unwrap();
        path
    };

    let out = stdout(&ctl(&url, &["logger", "kconnect_actors", "OFF"]).await);
    assert_eq!(out, "Set logger kconnect_actors to OFF\n");
    // A logger is known once it has a level or code logged under it (as log4j's exist once
    // created): the namespace itself has one now.
    let o = ctl(&url, &["logger", "kconnect_actors", "-o", "json"]).await;
    assert_eq!(json_out(&o)["level"], "OFF");
    let quiet = connector("quiet");
    stdout(&ctl(&url, &["create", quiet.to_str().unwrap()]).await);
    let out = stdout(&ctl(&url, &["logger", "kconnect_actors", "info"]).await);
    // A namespace also resets the loggers under it that code has logged under by now (Connect's
    // semantics), and ctl names them.
    assert!(
        out.starts_with("Set logger kconnect_actors to INFO"),
        "{out}"
    );
    let loud = connector("loud");
    stdout(&ctl(&url, &["create", loud.to_str().unwrap()]).await);
    p.wait_line(Duration::from_secs(30), |l| {
        l.contains("connector added") && l.contains("connector=loud")
    });
    let said_quiet = p
        .lines()
        .iter()
        .any(|l| l.contains("connector added") && l.contains("connector=quiet"));
    assert!(!said_quiet, "{:#?}", p.lines());
    let out = stdout(&ctl(&url, &["loggers"]).await);
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().take(2).eq(["kconnect_actors", "INFO"])),
        "{out}"
    );
}
