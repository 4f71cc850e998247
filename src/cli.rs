//! The command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "kconnect",
    version,
    about = "Kafka Connect, rebuilt in Rust as an actor-model supervision runtime"
)]
pub struct Cli {
    /// Log level (error, warn, info, debug, trace) or a tracing filter such as
    /// `info,kconnect_actors=debug`. Overrides RUST_LOG.
    #[arg(long, global = true)]
    pub log_level: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a standalone worker, like connect-standalone: a worker config, then any number of
    /// connector configs (.properties, .toml, .yaml or .json). With none, the worker starts
    /// empty and connectors are created over its REST API (as Connect allows since 3.x).
    Standalone {
        worker_config: PathBuf,
        connector_configs: Vec<PathBuf>,
    },
    /// Run a distributed worker, like connect-distributed: workers with the same group.id share
    /// connectors, offsets and statuses through Kafka and split the work. Prints the worker's
    /// REST URL on stdout once it listens.
    Distributed { worker_config: PathBuf },
    /// Run a local cluster: the embedded broker and N distributed worker processes on loopback,
    /// each with its own REST port. Ctrl-C stops them all.
    Cluster(crate::cluster::ClusterArgs),
    /// Talk to a Kafka Connect (or kconnect) worker's REST API: list, describe, apply, status,
    /// create, update, delete, pause, resume, stop, restart, offsets, plugins, validate,
    /// loggers; named contexts for workers and their credentials.
    Ctl(Box<crate::ctl::CtlArgs>),
    /// Run the benchmarks (ratios against raw rdkafka measured in the same run) and write
    /// BENCHMARKS.md.
    Bench(crate::bench::BenchArgs),
    /// Run only the embedded broker (librdkafka's in-memory mock cluster) and print its address,
    /// so that workers can be started, killed and restarted against it.
    Broker {
        /// Topics to create first, as NAME or NAME:PARTITIONS.
        #[arg(long = "topic")]
        topics: Vec<String>,
    },
}
