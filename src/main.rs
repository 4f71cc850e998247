use std::process::ExitCode;

use clap::Parser;
use kconnect::cli::{Cli, Command};
use kconnect::embedded_broker::EmbeddedBroker;
use kconnect::standalone::{Standalone, StandaloneConfig};
use std::sync::Arc;

use kconnect::rest::LogControl;

/// Waits for SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let logs = kconnect::logging::init(cli.log_level.as_deref());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(run(cli.command, logs))
}

async fn run(command: Command, logs: Arc<LogControl>) -> ExitCode {
    match command {
        Command::Standalone {
            worker_config,
            connector_configs,
        } => {
            let config = match StandaloneConfig::load(
                &worker_config,
                &connector_configs,
                std::env::vars(),
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
            use kconnect::distributed::{Distributed, DistributedWorkerConfig};
            let config = match DistributedWorkerConfig::load(&worker_config, std::env::vars()) {
                Ok(c) => c,
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
        Command::Cluster(args) => kconnect::cluster::run(args, shutdown_signal()).await,
        Command::Ctl(args) => kconnect::ctl::run(*args).await,
        Command::Bench(args) => kconnect::bench::run(args).await,
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
