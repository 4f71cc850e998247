//! `kconnect cluster --workers N`: a local Connect cluster without any other software. The
//! embedded broker runs in this process; each worker is a `kconnect distributed` child process
//! with its own REST port on loopback, coordinating with the others only through the broker.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, ExitCode, Stdio};

use kconnect_actors::distributed::config::{self as keys, DistributedConfig};
use kconnect_connectors::api::Props;

use crate::config_files::load_props;
use crate::embedded_broker::EmbeddedBroker;

#[derive(Debug, clap::Args)]
pub struct ClusterArgs {
    /// How many worker processes to start.
    #[arg(long, default_value_t = 3)]
    pub workers: usize,
    /// A worker config to start every worker with (bootstrap.servers and listeners are
    /// replaced). Without it: group.id kconnect-cluster, topics connect-configs,
    /// connect-offsets and connect-status, session.timeout.ms 4000.
    #[arg(long)]
    pub worker_config: Option<PathBuf>,
    /// Where the generated worker configs are written (default: a new folder under the
    /// system's temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// The worker config `kconnect cluster` uses when none is given.
pub fn default_worker_props() -> Props {
    [
        (keys::GROUP_ID, "kconnect-cluster"),
        (keys::CONFIG_TOPIC, "connect-configs"),
        (keys::OFFSET_TOPIC, "connect-offsets"),
        (keys::STATUS_TOPIC, "connect-status"),
        // The embedded broker ends every rebalance only after session.timeout.ms − 1 s: a short
        // session keeps rebalances quick on one machine.
        (keys::SESSION_TIMEOUT_MS, "4000"),
        (keys::HEARTBEAT_INTERVAL_MS, "1000"),
        ("offset.flush.interval.ms", "1000"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// A started worker process.
pub struct WorkerProcess {
    pub child: Child,
    pub config: PathBuf,
    pub rest_url: String,
}

/// Why a worker process did not come up.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("cannot start {}: {source}", exe.display())]
    Start {
        exe: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no stdout")]
    NoStdout,
    #[error("{0}")]
    Wait(#[source] std::io::Error),
    #[error("worker with config {} exited before listening ({status})", config.display())]
    Exited {
        config: PathBuf,
        status: std::process::ExitStatus,
    },
}

/// Starts `kconnect distributed CONFIG` and waits for the REST URL it prints.
pub fn spawn_worker(
    exe: &std::path::Path,
    config: &std::path::Path,
) -> Result<WorkerProcess, SpawnError> {
    let mut child = Command::new(exe)
        .arg("distributed")
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|source| SpawnError::Start {
            exe: exe.to_path_buf(),
            source,
        })?;
    let stdout: ChildStdout = child.stdout.take().ok_or(SpawnError::NoStdout)?;
    let mut lines = BufReader::new(stdout).lines();
    match lines.next() {
        Some(Ok(url)) => {
            // Keep draining stdout so the worker never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            Ok(WorkerProcess {
                child,
                config: config.to_path_buf(),
                rest_url: url.trim().to_string(),
            })
        }
        _ => {
            let status = child.wait().map_err(SpawnError::Wait)?;
            Err(SpawnError::Exited {
                config: config.to_path_buf(),
                status,
            })
        }
    }
}

/// Stops a worker as Ctrl-C would: SIGTERM, then waits for it to exit.
pub fn stop_worker(w: &mut WorkerProcess) {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let _ = kill(Pid::from_raw(w.child.id() as i32), Signal::SIGTERM);
    let _ = w.child.wait();
}

pub async fn run(args: ClusterArgs, shutdown: impl std::future::Future<Output = ()>) -> ExitCode {
    let fail = |e: String| {
        eprintln!("kconnect cluster: {e}");
        ExitCode::from(1)
    };
    let mut props = match &args.worker_config {
        Some(f) => match load_props(f) {
            Ok(p) => p,
            Err(e) => return fail(e.to_string()),
        },
        None => default_worker_props(),
    };
    let cluster = match DistributedConfig::parse(&props) {
        Ok(c) => c,
        Err(e) => {
            let file = args
                .worker_config
                .as_ref()
                .map(|f| f.display().to_string())
                .unwrap_or_default();
            return fail(format!("worker config {file}: {e}"));
        }
    };
    let broker = match EmbeddedBroker::start() {
        Ok(b) => b,
        Err(e) => return fail(e.to_string()),
    };
    for (topic, partitions, _) in cluster.internal_topics() {
        if let Err(e) = broker.ensure_topic(topic, partitions) {
            return fail(e.to_string());
        }
    }
    props.insert(
        "bootstrap.servers".into(),
        broker.bootstrap_servers().into(),
    );
    props.insert("listeners".into(), "http://127.0.0.1:0".into());
    let dir = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("kconnect-cluster-{}", std::process::id()))
    });
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return fail(format!("{}: {e}", dir.display()));
    }
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return fail(e.to_string()),
    };
    let file = dir.join("worker.properties");
    let text: String = props.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    if let Err(e) = std::fs::write(&file, text) {
        return fail(format!("{}: {e}", file.display()));
    }
    println!("broker: {}", broker.bootstrap_servers());
    println!("worker config: {}", file.display());
    let mut workers = Vec::new();
    for i in 0..args.workers {
        match spawn_worker(&exe, &file) {
            Ok(w) => {
                println!("worker {i}: {} (pid {})", w.rest_url, w.child.id());
                workers.push(w);
            }
            Err(e) => {
                workers.iter_mut().for_each(stop_worker);
                return fail(e.to_string());
            }
        }
    }
    println!(
        "more workers: kconnect distributed {} (it takes a free REST port)",
        file.display()
    );
    shutdown.await;
    eprintln!("kconnect cluster: stopping {} workers", workers.len());
    let stopping: Vec<_> = workers
        .into_iter()
        .map(|mut w| std::thread::spawn(move || stop_worker(&mut w)))
        .collect();
    for t in stopping {
        let _ = t.join();
    }
    // Every worker has exited (and written its last statuses): the broker can go.
    drop(broker);
    ExitCode::SUCCESS
}
