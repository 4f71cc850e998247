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
use kconnect_actors::topic_creation::{NewTopicSpec, TopicAdminError, TopicCreated};
use kconnect_actors::{TargetState, TopicAdmin, Worker, WorkerContext};
use kconnect_connectors::api::Props;
use kconnect_connectors::registry::PluginRegistry;
use thiserror::Error;

use crate::config_files::{
    apply_env_overrides, load_connector_file, load_props, ConfigFileError, ConnectorFile,
};
use crate::config_keys::{
    unknown_connector_keys, unknown_worker_keys, warn_unknown_keys, ConfigKind,
};
use crate::embedded_broker::{EmbeddedBroker, EmbeddedBrokerError};
use crate::rest::{self, LogControl, RestState};
use kconnect_actors::broker_health::BrokerHealth;

/// Why standalone mode could not start. Each names the file and, where there is one, the key.
#[derive(Debug, Error)]
pub enum StartError {
    #[error(transparent)]
    File(#[from] ConfigFileError),
    #[error("worker config {file}: {source}")]
    Worker {
        file: PathBuf,
        #[source]
        source: Box<WorkerStartError>,
    },
    #[error("connector config {file}: {source}")]
    Connector {
        file: PathBuf,
        #[source]
        source: Box<kconnect_actors::WorkerError>,
    },
    #[error("connector config {file}: a connector named {name} is already defined in {first}")]
    DuplicateName {
        file: PathBuf,
        name: String,
        first: PathBuf,
    },
    #[error(transparent)]
    Broker(#[from] EmbeddedBrokerError),
}

/// Why the worker of a worker config could not start.
#[derive(Debug, Error)]
pub enum WorkerStartError {
    #[error(transparent)]
    Config(#[from] kconnect_connectors::ConnectError),
    #[error(
        "Missing required configuration \"offset.storage.file.filename\" which has no default value."
    )]
    NoOffsetFile,
    #[error("offset.storage.file.filename: {0}")]
    OffsetStore(#[from] kconnect_actors::storage::OffsetStoreError),
    #[error(transparent)]
    Rest(#[from] rest::BindError),
    #[error(transparent)]
    Credentials(#[from] kconnect_actors::cluster::probe::CredentialsError),
    #[error(transparent)]
    Worker(#[from] kconnect_actors::WorkerError),
}

/// A worker config file and its connector config files, loaded and checked.
pub struct StandaloneConfig {
    pub worker_file: PathBuf,
    pub worker: WorkerConfig,
    pub connectors: Vec<ConnectorFile>,
    /// The plugins the worker runs with; the connectors' own keys were checked against them.
    pub plugins: Arc<PluginRegistry>,
}

impl StandaloneConfig {
    /// Loads the files for a worker with the built-in plugins; the worker config takes
    /// `CONNECT_*` overrides from `env`.
    pub fn load(
        worker_file: &Path,
        connector_files: &[PathBuf],
        env: impl Iterator<Item = (String, String)>,
    ) -> Result<Self, StartError> {
        Self::load_with_plugins(
            worker_file,
            connector_files,
            env,
            Arc::new(PluginRegistry::builtin()),
        )
    }

    /// Loads the files for a worker with `plugins` (see [`crate::run_with`]); the worker config
    /// takes `CONNECT_*` overrides from `env`.
    pub fn load_with_plugins(
        worker_file: &Path,
        connector_files: &[PathBuf],
        env: impl Iterator<Item = (String, String)>,
        plugins: Arc<PluginRegistry>,
    ) -> Result<Self, StartError> {
        let mut props = load_props(worker_file)?;
        let from_env = apply_env_overrides(&mut props, env);
        for key in &from_env {
            tracing::info!("worker config key {key} set from the environment");
        }
        // Before parsing: a typo is worth knowing about even when the file has an error too.
        warn_unknown_keys(
            ConfigKind::Worker,
            worker_file,
            &unknown_worker_keys(&props),
            &from_env,
        );
        let wfile = worker_file.to_path_buf();
        let worker = WorkerConfig::parse(props).map_err(|e| StartError::Worker {
            file: wfile.clone(),
            source: Box::new(e.into()),
        })?;
        if worker.offset_file.is_none() {
            return Err(StartError::Worker {
                file: wfile,
                source: Box::new(WorkerStartError::NoOffsetFile),
            });
        }
        let mut connectors = Vec::new();
        let mut names: BTreeMap<String, PathBuf> = BTreeMap::new();
        for f in connector_files {
            let connector = load_connector_file(f)?;
            warn_unknown_keys(
                ConfigKind::Connector,
                f,
                &unknown_connector_keys(&connector.props, &plugins),
                &[],
            );
            if let Some(name) = connector.props.get("name") {
                if let Some(first) = names.get(name) {
                    return Err(StartError::DuplicateName {
                        file: f.clone(),
                        name: name.clone(),
                        first: first.clone(),
                    });
                }
                names.insert(name.clone(), f.clone());
            }
            connectors.push(connector);
        }
        Ok(StandaloneConfig {
            worker_file: worker_file.to_path_buf(),
            worker,
            connectors,
            plugins,
        })
    }
}

/// The mock has no CreateTopics: the runtime creates every topic through its API. It has no
/// broker defaults either: -1 partitions (no group configured, or a group asking for the
/// broker's default) is one partition, as a broker with Kafka's default `num.partitions`; the
/// replication factor and topic configs mean nothing to it.
#[kconnect_actors::topic_creation::async_trait]
impl TopicAdmin for EmbeddedBroker {
    async fn create_topic(&self, spec: &NewTopicSpec) -> Result<TopicCreated, TopicAdminError> {
        let partitions = if spec.partitions > 0 {
            spec.partitions
        } else {
            1
        };
        EmbeddedBroker::ensure_topic(self, &spec.name, partitions)
            .map(|()| TopicCreated::Created)
            .map_err(|e| TopicAdminError::Create {
                topic: spec.name.clone(),
                detail: e.to_string(),
            })
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
        let worker_error = |source: WorkerStartError| StartError::Worker {
            file: config.worker_file.clone(),
            source: Box::new(source),
        };
        let (listener, rest_addr, worker_id) = rest::bind_worker(&wc)
            .await
            .map_err(|e| worker_error(e.into()))?;
        let broker = if wc.uses_embedded_broker() {
            Some(Arc::new(EmbeddedBroker::start()?))
        } else {
            None
        };
        let bootstrap = broker
            .as_ref()
            .map(|b| b.bootstrap_servers().to_string())
            .unwrap_or_else(|| wc.bootstrap_servers.clone());
        if broker.is_none() {
            // A refused login would otherwise only show as clients retrying for ever.
            kconnect_actors::cluster::probe::check_worker_credentials(&wc.props, &bootstrap)
                .await
                .map_err(|e| worker_error(e.into()))?;
        }
        // The worker's own client settings (security included) for GET /'s cluster id.
        let rest_client = kconnect_actors::config::worker_client_props(&wc, &bootstrap);
        let plugins = config.plugins.clone();
        let worker = start_worker(wc, broker.clone(), plugins.clone(), worker_id)
            .await
            .map_err(worker_error)?;
        for connector in config.connectors {
            let target = connector.initial_state.unwrap_or(TargetState::Started);
            if let Err(e) = worker.create_connector(connector.props, target).await {
                worker.shutdown().await;
                return Err(StartError::Connector {
                    file: connector.path,
                    source: Box::new(e),
                });
            }
        }
        let state = RestState {
            herder: Arc::new(worker.clone()),
            plugins,
            logs,
            kafka_cluster_id: cluster_id(rest_client).await,
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
) -> Result<Worker, WorkerStartError> {
    let offset_path = config
        .offset_file
        .clone()
        .ok_or(WorkerStartError::NoOffsetFile)?;
    let store = FileOffsetStore::open(PathBuf::from(offset_path))?;
    let bootstrap_servers = broker
        .as_ref()
        .map(|b| b.bootstrap_servers().to_string())
        .unwrap_or_else(|| config.bootstrap_servers.clone());
    let ctx = WorkerContext {
        status: StatusStore::new(worker_id.clone()),
        worker_id,
        broker_health: BrokerHealth::new(&bootstrap_servers),
        bootstrap_servers,
        offsets: Arc::new(FileOffsets::new(Arc::new(store))),
        plugins,
        topic_admin: broker.clone().map(|b| b as Arc<dyn TopicAdmin>),
        task_configs_sink: None,
        live_clients: Default::default(),
        exactly_once: None,
        config,
    };
    Ok(Worker::start(ctx).await?)
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
pub async fn cluster_id(client: Vec<(String, String)>) -> Option<String> {
    tokio::task::spawn_blocking(move || {
        let mut config = rdkafka::ClientConfig::new();
        for (k, v) in client {
            config.set(k, v);
        }
        let c: rdkafka::consumer::BaseConsumer = config.create().ok()?;
        rdkafka::consumer::Consumer::client(&c).fetch_cluster_id(std::time::Duration::from_secs(5))
    })
    .await
    .ok()
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap();
        path
    }

    fn worker_file(dir: &Path) -> PathBuf {
        write(
            dir,
            "worker.properties",
            &format!(
                "offset.storage.file.filename={}\n",
                dir.join("offsets").display()
            ),
        )
    }

    fn quickstart(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("config")
            .join(name)
    }

    #[test]
    fn a_bootstrap_server_typo_warns_once_about_the_embedded_broker() {
        let dir = tempfile::tempdir().unwrap();
        let worker = write(
            dir.path(),
            "worker.properties",
            &format!(
                "bootstrap.server=broker:9092\noffset.storage.file.filename={}\n",
                dir.path().join("offsets").display()
            ),
        );
        let connectors = [
            quickstart("connect-file-source.properties"),
            quickstart("connect-file-sink.properties"),
        ];
        let (loaded, warnings) = crate::config_keys::warnings_of(|| {
            StandaloneConfig::load(&worker, &connectors, [].into_iter())
        });
        let config = loaded.unwrap();
        assert!(config.worker.uses_embedded_broker());
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        let w = &warnings[0];
        assert!(w.contains("WARN"), "{w}");
        assert!(w.contains(&worker.display().to_string()), "{w}");
        assert!(w.contains("unknown key bootstrap.server "), "{w}");
        assert!(w.contains("did you mean bootstrap.servers?"), "{w}");
        assert!(w.contains("embedded"), "{w}");
    }

    #[test]
    fn the_quickstart_configs_load_without_warnings() {
        let connectors = [
            quickstart("connect-file-source.properties"),
            quickstart("connect-file-sink.properties"),
        ];
        let (loaded, warnings) = crate::config_keys::warnings_of(|| {
            StandaloneConfig::load(
                &quickstart("connect-standalone.properties"),
                &connectors,
                [].into_iter(),
            )
        });
        assert_eq!(loaded.unwrap().connectors.len(), 2);
        assert_eq!(warnings, Vec::<String>::new());
    }

    #[test]
    fn connector_and_environment_typos_are_named_with_their_source() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker_file(dir.path());
        let source = write(
            dir.path(),
            "source.json",
            r#"{"name": "s", "config": {"connector.class": "FileStreamSource", "topic": "t",
                "fiel": "in.txt"}}"#,
        );
        let env = [("CONNECT_OFFSET_FLUSH_INTERVAL".to_string(), "5".to_string())];
        let (loaded, warnings) = crate::config_keys::warnings_of(|| {
            StandaloneConfig::load(&worker, std::slice::from_ref(&source), env.into_iter())
        });
        loaded.unwrap();
        assert_eq!(warnings.len(), 2, "{warnings:#?}");
        assert!(
            warnings[0].contains(&format!(
                "worker config {} (set from the environment): unknown key offset.flush.interval ",
                worker.display()
            )),
            "{}",
            warnings[0]
        );
        assert!(
            warnings[1].contains(&format!(
                "connector config {}: unknown key fiel is ignored (did you mean file?)",
                source.display()
            )),
            "{}",
            warnings[1]
        );
    }

    #[test]
    fn connect_json_connector_files_load_in_both_shapes() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker_file(dir.path());
        let nested = write(
            dir.path(),
            "nested.json",
            r#"{"name": "nested", "config": {"connector.class": "FileStreamSource",
                "topic": "t", "file": "in.txt"}, "initial_state": "PAUSED"}"#,
        );
        let flat = write(
            dir.path(),
            "flat.json",
            r#"{"name": "flat", "connector.class": "FileStreamSink", "topics": "t",
                "file": "out.txt"}"#,
        );
        let config =
            StandaloneConfig::load(&worker, &[nested.clone(), flat.clone()], [].into_iter())
                .unwrap();
        let loaded: Vec<_> = config
            .connectors
            .iter()
            .map(|c| {
                (
                    c.path.clone(),
                    c.props.get("name").cloned(),
                    c.props.get("connector.class").cloned(),
                    c.initial_state,
                )
            })
            .collect();
        assert_eq!(
            loaded,
            vec![
                (
                    nested,
                    Some("nested".into()),
                    Some("FileStreamSource".into()),
                    Some(TargetState::Paused)
                ),
                (
                    flat,
                    Some("flat".into()),
                    Some("FileStreamSink".into()),
                    None
                ),
            ]
        );
    }

    #[test]
    fn a_nested_json_file_whose_names_differ_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker_file(dir.path());
        let c = write(
            dir.path(),
            "c.json",
            r#"{"name": "a", "config": {"name": "b", "connector.class": "FileStreamSource"}}"#,
        );
        let err = match StandaloneConfig::load(&worker, std::slice::from_ref(&c), [].into_iter()) {
            Ok(_) => panic!("differing names were accepted"),
            Err(e) => e,
        };
        assert!(
            matches!(err, StartError::File(ConfigFileError::NameMismatch { .. })),
            "{err:?}"
        );
        assert!(err.to_string().contains(&c.display().to_string()), "{err}");
    }

    #[test]
    fn nested_and_flat_files_with_one_name_are_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker_file(dir.path());
        let a = write(
            dir.path(),
            "a.json",
            r#"{"name": "same", "config": {"connector.class": "FileStreamSource"}}"#,
        );
        let b = write(
            dir.path(),
            "b.properties",
            "name=same\nconnector.class=FileStreamSource\n",
        );
        let err = match StandaloneConfig::load(&worker, &[a, b], [].into_iter()) {
            Ok(_) => panic!("a duplicate name was accepted"),
            Err(e) => e,
        };
        assert!(matches!(err, StartError::DuplicateName { .. }), "{err:?}");
    }
}
