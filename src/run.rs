//! The command line's dispatch, shared by the `kconnect` binary and by binaries that add
//! plugins of their own ([`run_with`]).
//!
//! Deviation from Connect: Connect loads plugins from jars found on `plugin.path` when a worker
//! starts; Rust has no stable ABI to load them from, so kconnect's plugins are linked in. A
//! binary of one's own registers its plugins and calls [`run_with`]. No plugin is looked for
//! on `plugin.path`.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use kconnect_connectors::registry::PluginRegistry;

use crate::cli::{Cli, Command};
use crate::embedded_broker::EmbeddedBroker;
use crate::rest::LogControl;
use crate::standalone::{Standalone, StandaloneConfig};

/// Waits for SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Runs the `kconnect` command line (standalone, distributed, cluster, ctl, bench, broker) with
/// `plugins` as the worker's connectors, transforms and predicates: what the `kconnect` binary's
/// `main` does with [`PluginRegistry::builtin`], and what a binary of one's own calls with its
/// connectors registered on top. Parses the arguments of the process, starts logging and a
/// tokio runtime of its own, and returns the process's exit code.
///
/// ```no_run
/// use kconnect_connectors::registry::PluginRegistry;
///
/// fn main() -> std::process::ExitCode {
///     let mut plugins = PluginRegistry::builtin();
///     // plugins.register(…) for each connector of one's own.
///     kconnect::run_with(plugins)
/// }
/// ```
///
/// `kconnect cluster` starts its workers from this same executable, so they have the same
/// plugins.
pub fn run_with(plugins: PluginRegistry) -> ExitCode {
    let cli = Cli::parse();
    let logs = crate::logging::init(cli.log_level.as_deref());
    // A runtime that cannot start leaves nothing to run: the binary's edge, as in `main`.
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the tokio runtime: {e}")),
    };
    rt.block_on(run(cli.command, logs, Arc::new(plugins)))
}

async fn run(command: Command, logs: Arc<LogControl>, plugins: Arc<PluginRegistry>) -> ExitCode {
    match command {
        Command::Standalone {
            worker_config,
            connector_configs,
        } => {
            let config = match StandaloneConfig::load_with_plugins(
                &worker_config,
                &connector_configs,
                std::env::vars(),
                plugins,
            ) {
                Ok(c) => c,
                Err(e) => return fail(e),
            };
            let running = match Standalone::start(config, Some(logs)).await {
                Ok(r) => r,
                Err(e) => return fail(e),
            };
            tracing::info!(rest = %running.rest_addr, "kconnect standalone running; Ctrl-C or SIGTERM stops it");
            shutdown_signal().await;
            tracing::info!("stopping: tasks get task.shutdown.graceful.timeout.ms to finish");
            running.stop().await;
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Command::Distributed { worker_config } => {
            use crate::distributed::{Distributed, DistributedWorkerConfig};
            let config = match DistributedWorkerConfig::load(&worker_config, std::env::vars()) {
                Ok(c) => c.with_plugins(plugins),
                Err(e) => return fail(e),
            };
            let running = match Distributed::start(config, Some(logs)).await {
                Ok(r) => r,
                Err(e) => return fail(e),
            };
            // The REST URL on stdout, alone on its line, for scripts, tests and `kconnect cluster`.
            println!("{}", running.rest_url);
            tracing::info!(rest = %running.rest_url, "kconnect distributed worker running; Ctrl-C or SIGTERM stops it");
            shutdown_signal().await;
            tracing::info!("stopping: tasks finish and commit, then the worker leaves the group");
            running.stop().await;
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Command::Cluster(args) => crate::cluster::run(args, shutdown_signal()).await,
        Command::Ctl(args) => crate::ctl::run(*args).await,
        Command::Bench(args) => crate::bench::run(args).await,
        Command::Broker { topics } => {
            let broker = match EmbeddedBroker::start() {
                Ok(b) => b,
                Err(e) => return fail(e),
            };
            for t in topics {
                let (name, partitions) = match t.split_once(':') {
                    Some((n, p)) => match p.parse() {
                        Ok(p) => (n.to_string(), p),
                        Err(_) => return fail(format!("--topic {t}: partitions must be a number")),
                    },
                    None => (t.clone(), 1),
                };
                if let Err(e) = broker.ensure_topic(&name, partitions) {
                    return fail(e);
                }
            }
            // The address on stdout, alone on its line, for scripts and tests.
            println!("{}", broker.bootstrap_servers());
            shutdown_signal().await;
            ExitCode::SUCCESS
        }
    }
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("kconnect: {e}");
    ExitCode::from(1)
}
