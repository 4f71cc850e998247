//! `kconnect standalone`: one worker, connectors from files, offsets in a local file — as
//! connect-standalone does. The embedded broker starts when `bootstrap.servers` is absent or
//! `embedded`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kconnect_actors::config::WorkerConfig;
use kconnect_actors::context::FileOffsets;
use kconnect_actors::status::StatusStore;
use kconnect_actors::storage::FileOffsetStore;
use kconnect_actors::{TopicAdmin, Worker, WorkerContext};
use kconnect_connectors::api::Props;
use kconnect_connectors::registry::PluginRegistry;
use thiserror::Error;

use crate::config_files::{apply_env_overrides, load_props, ConfigFileError};
use crate::embedded_broker::{EmbeddedBroker, EmbeddedBrokerError};
use crate::rest::{self, LogControl, RestState};

/// Why standalone mode could not start. Each names the file and, where there is one, the key.
#[derive(Debug, Error)]
pub enum StartError {
    #[error(transparent)]
    File(#[from] ConfigFileError),
    #[error("worker config {file}: {message}")]
    Worker { file: PathBuf, message: String },
    #[error("connector config {file}: {message}")]
    Connector { file: PathBuf, message: String },
    #[error("connector config {file}: a connector named {name} is already defined in {first}")]
    DuplicateName {
        file: PathBuf,
        name: String,
        first: PathBuf,
    },
    #[error(transparent)]
    Broker(#[from] EmbeddedBrokerError),
}

/// A worker config file and its connector config files, loaded and checked.
pub struct StandaloneConfig {
    pub worker_file: PathBuf,
    pub worker: WorkerConfig,
    pub connectors: Vec<(PathBuf, Props)>,
}

impl StandaloneConfig {
    /// Loads the files; the worker config takes `CONNECT_*` overrides from `env`.
    pub fn load(
        worker_file: &Path,
        connector_files: &[PathBuf],
        env: impl Iterator<Item = (String, String)>,
    ) -> Result<Self, StartError> {
        let mut props = load_props(worker_file)?;
        for key in apply_env_overrides(&mut props, env) {
            tracing::info!("worker config key {key} set from the environment");
        }
        let wfile = worker_file.to_path_buf();
        let worker = WorkerConfig::parse(props).map_err(|e| StartError::Worker {
            file: wfile.clone(),
            message: e.to_string(),
        })?;
        if worker.offset_file.is_none() {
            return Err(StartError::Worker {
                file: wfile,
                message: "Missing required configuration \"offset.storage.file.filename\" \
                          which has no default value."
                    .into(),
            });
        }
        let mut connectors = Vec::new();
        let mut names: BTreeMap<String, PathBuf> = BTreeMap::new();
        for f in connector_files {
            let props = load_props(f)?;
            if let Some(name) = props.get("name") {
                if let Some(first) = names.get(name) {
                    return Err(StartError::DuplicateName {
                        file: f.clone(),
                        name: name.clone(),
                        first: first.clone(),
                    });
                }
                names.insert(name.clone(), f.clone());
            }
            connectors.push((f.clone(), props));
        }
        Ok(StandaloneConfig {
            worker_file: worker_file.to_path_buf(),
            worker,
            connectors,
        })
    }
}

impl TopicAdmin for EmbeddedBroker {
    fn ensure_topic(&self, topic: &str, partitions: i32) -> Result<(), String> {
        EmbeddedBroker::ensure_topic(self, topic, partitions).map_err(|e| e.to_string())
    }
}

/// A running standalone worker (and the embedded broker, if it started one).
pub struct Standalone {
    pub worker: Worker,
    pub broker: Option<Arc<EmbeddedBroker>>,
    /// Where the REST API listens.
    pub rest_addr: SocketAddr,
    rest_stop: tokio::sync::oneshot::Sender<()>,
    rest_task: tokio::task::JoinHandle<()>,
}

impl Standalone {
    /// Starts the worker and every connector. A connector that fails validation stops
    /// everything already started and names its file.
    pub async fn start(
        config: StandaloneConfig,
        logs: Option<Arc<LogControl>>,
    ) -> Result<Standalone, StartError> {
        // Before any connector starts: its tasks take their metric handles at start.
        let metrics = crate::metrics::prometheus();
        let wc = config.worker;
        let worker_error = |message: String| StartError::Worker {
            file: config.worker_file.clone(),
            message,
        };
        let (listener, rest_addr, worker_id) =
            rest::bind_worker(&wc).await.map_err(worker_error)?;
        let broker = if wc.uses_embedded_broker() {
            Some(Arc::new(EmbeddedBroker::start()?))
        } else {
            None
        };
        let bootstrap = broker
            .as_ref()
            .map(|b| b.bootstrap_servers().to_string())
            .unwrap_or_else(|| wc.bootstrap_servers.clone());
        let bootstrap_for_rest = bootstrap.clone();
        let plugins = Arc::new(PluginRegistry::builtin());
        let worker = start_worker(wc, broker.clone(), plugins.clone(), worker_id)
            .await
            .map_err(worker_error)?;
        for (file, props) in config.connectors {
            if let Err(e) = worker.add_connector(props).await {
                worker.shutdown().await;
                return Err(StartError::Connector {
                    file,
                    message: e.to_string(),
                });
            }
        }
        let state = RestState {
            herder: Arc::new(worker.clone()),
            plugins,
            logs,
            kafka_cluster_id: cluster_id(&bootstrap_for_rest).await,
            broker: broker.clone(),
            metrics,
            peers: None,
        };
        let (rest_stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let rest_task = tokio::spawn(rest::serve(listener, state, async move {
            let _ = stopped.await;
        }));
        Ok(Standalone {
            worker,
            broker,
            rest_addr,
            rest_stop,
            rest_task,
        })
    }

    /// Stops the REST API, every connector (cleanly), then the embedded broker.
    pub async fn stop(self) {
        let _ = self.rest_stop.send(());
        let _ = self.rest_task.await;
        self.worker.shutdown().await;
        drop(self.broker);
    }
}

/// Starts a worker (no REST API, no connectors) with the file offset store of
/// `offset.storage.file.filename`, on `broker` when given, else on `bootstrap.servers`.
/// Standalone mode, the tests and the benchmarks all start workers through it.
pub async fn start_worker(
    config: WorkerConfig,
    broker: Option<Arc<EmbeddedBroker>>,
    plugins: Arc<PluginRegistry>,
    worker_id: String,
) -> Result<Worker, String> {
    let offset_path = config
        .offset_file
        .clone()
        .ok_or("Missing required configuration \"offset.storage.file.filename\" which has no default value.")?;
    let store = FileOffsetStore::open(PathBuf::from(offset_path)).map_err(|e| e.to_string())?;
    let ctx = WorkerContext {
        status: StatusStore::new(worker_id.clone()),
        worker_id,
        bootstrap_servers: broker
            .as_ref()
            .map(|b| b.bootstrap_servers().to_string())
            .unwrap_or_else(|| config.bootstrap_servers.clone()),
        offsets: Arc::new(FileOffsets(Arc::new(store))),
        plugins,
        topic_admin: broker.clone().map(|b| b as Arc<dyn TopicAdmin>),
        embedded_broker: broker.is_some(),
        task_configs_sink: None,
        live_clients: Default::default(),
        config,
    };
    Worker::start(ctx).await.map_err(|e| e.to_string())
}

/// `host:port` others reach this worker at: `rest.advertised.host.name` and
/// `rest.advertised.port` where set, else the address the REST listener bound.
pub fn worker_id(props: &Props, bound: SocketAddr) -> String {
    let host = props
        .get("rest.advertised.host.name")
        .cloned()
        .unwrap_or_else(|| match bound.ip() {
            ip if ip.is_unspecified() => "127.0.0.1".to_string(),
            ip => ip.to_string(),
        });
    let port = props
        .get("rest.advertised.port")
        .cloned()
        .unwrap_or_else(|| bound.port().to_string());
    format!("{host}:{port}")
}

/// The Kafka cluster id for `GET /`, if the cluster answers within a few seconds.
pub async fn cluster_id(bootstrap: &str) -> Option<String> {
    let bootstrap = bootstrap.to_string();
    tokio::task::spawn_blocking(move || {
        let c: rdkafka::consumer::BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .create()
            .ok()?;
        rdkafka::consumer::Consumer::client(&c).fetch_cluster_id(std::time::Duration::from_secs(5))
    })
    .await
    .ok()
    .flatten()
}
