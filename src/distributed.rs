//! `kconnect distributed WORKER_CONFIG`: a worker of a Connect cluster, as connect-distributed
//! runs it. Workers with the same `group.id` share connectors, offsets and statuses through the
//! three internal topics and split the work among themselves.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use kconnect_actors::config::WorkerConfig;
use kconnect_actors::distributed::config::DistributedConfig;
use kconnect_actors::distributed::herder::{GroupControl, HerderActor, HerderArgs, HerderMsg};
use kconnect_actors::distributed::{member, status_writer, ClusterView, DistributedHerder};
use kconnect_actors::status::StatusStore;
use kconnect_actors::storage::kafka::{
    KafkaConfigStore, KafkaLogConfig, KafkaOffsetStore, KafkaStatusStore,
};
use kconnect_actors::{Herder, OffsetStore, TopicAdmin, Worker, WorkerContext};
use kconnect_connectors::api::Props;
use kconnect_connectors::registry::PluginRegistry;
use ractor::{Actor, ActorRef};
use thiserror::Error;

use crate::config_files::{apply_env_overrides, load_props, ConfigFileError};
use crate::config_keys::{unknown_worker_keys, warn_unknown_keys, ConfigKind};
use crate::embedded_broker::{EmbeddedBroker, EmbeddedBrokerError};
use crate::rest::{self, LogControl, RestState};

#[derive(Debug, Error)]
pub enum DistributedError {
    #[error(transparent)]
    File(#[from] ConfigFileError),
    #[error("worker config {file}: {source}")]
    Worker {
        file: PathBuf,
        #[source]
        source: Box<WorkerStartError>,
    },
    #[error(transparent)]
    Broker(#[from] EmbeddedBrokerError),
}

/// Why a distributed worker could not start, under [`DistributedError::Worker`].
#[derive(Debug, Error)]
pub enum WorkerStartError {
    #[error(transparent)]
    Config(#[from] kconnect_connectors::ConnectError),
    #[error(transparent)]
    Rest(#[from] rest::BindError),
    #[error(transparent)]
    Credentials(#[from] kconnect_actors::cluster::probe::CredentialsError),
    #[error(transparent)]
    CredentialsFile(#[from] rest::security::CredentialsError),
    #[error(transparent)]
    Stores(#[from] StoresError),
    #[error(transparent)]
    Worker(#[from] kconnect_actors::WorkerError),
    #[error(transparent)]
    Spawn(#[from] ractor::SpawnErr),
    #[error(transparent)]
    Join(#[from] tokio::task::JoinError),
    #[error(transparent)]
    Thread(#[from] std::io::Error),
    /// The group membership refused the config's security settings.
    #[error(transparent)]
    Group(#[from] kconnect_actors::cluster::security::SecurityError),
    /// The workers' REST client cannot be built (header value, trust store).
    #[error(transparent)]
    RestClient(#[from] kconnect_actors::distributed::RestClientError),
}

/// `exactly.once.source.support=enabled` on the embedded broker, found when the config is
/// loaded or, for a `kconnect broker` in another process, by its cluster id at start.
#[derive(Debug, Error)]
#[error(
    "exactly.once.source.support=enabled needs a Kafka cluster that honours transactions; \
     the embedded broker (librdkafka's mock cluster) writes no transaction markers, so \
     read_committed readers would never see the records. Set bootstrap.servers to a real \
     Kafka cluster, or set exactly.once.source.support to disabled"
)]
pub struct EmbeddedRefusesExactlyOnce;

/// The internal topics could not be created or read.
#[derive(Debug, Error)]
pub enum StoresError {
    #[error(transparent)]
    Topics(#[from] InternalTopicError),
    #[error(transparent)]
    ExactlyOnce(#[from] EmbeddedRefusesExactlyOnce),
    /// `key` names the worker setting of the topic (`config.storage.topic`, …).
    #[error("{key}: {source}")]
    Open {
        key: &'static str,
        #[source]
        source: Box<kconnect_actors::storage::kafka::KafkaLogError>,
    },
}

/// A worker config file, loaded and checked.
pub struct DistributedWorkerConfig {
    pub file: PathBuf,
    pub worker: WorkerConfig,
    pub cluster: DistributedConfig,
    /// The plugins the worker runs with: the built-in ones unless [`with_plugins`] says
    /// otherwise.
    ///
    /// [`with_plugins`]: DistributedWorkerConfig::with_plugins
    pub plugins: Arc<PluginRegistry>,
}

impl DistributedWorkerConfig {
    pub fn load(
        file: &Path,
        env: impl Iterator<Item = (String, String)>,
    ) -> Result<Self, DistributedError> {
        let mut props = load_props(file)?;
        let from_env = apply_env_overrides(&mut props, env);
        for key in &from_env {
            tracing::info!("worker config key {key} set from the environment");
        }
        warn_unknown_keys(
            ConfigKind::Worker,
            file,
            &unknown_worker_keys(&props),
            &from_env,
        );
        Self::from_props(file, props)
    }

    pub fn from_props(file: &Path, props: Props) -> Result<Self, DistributedError> {
        let error = |source: kconnect_connectors::ConnectError| DistributedError::Worker {
            file: file.to_path_buf(),
            source: Box::new(source.into()),
        };
        // The worker config first: it resolves the file's `${provider:…}` variables, which
        // the distributed keys may use too.
        let worker = WorkerConfig::parse(props).map_err(error)?;
        let cluster = if worker.uses_embedded_broker() {
            DistributedConfig::parse(&embedded_group_timing(&worker.props)).map_err(error)?
        } else {
            DistributedConfig::parse(&worker.props).map_err(error)?
        };
        if worker.uses_embedded_broker()
            && cluster.exactly_once_source_support.tasks_transactional()
        {
            return Err(error(kconnect_connectors::ConnectError::Config(
                EmbeddedRefusesExactlyOnce.to_string(),
            )));
        }
        Ok(DistributedWorkerConfig {
            file: file.to_path_buf(),
            worker,
            cluster,
            plugins: Arc::new(PluginRegistry::builtin()),
        })
    }

    /// This config with `plugins` in place of the built-in ones (see [`crate::run_with`]).
    pub fn with_plugins(mut self, plugins: Arc<PluginRegistry>) -> Self {
        self.plugins = plugins;
        self
    }
}

/// `session.timeout.ms` when a worker runs its own embedded broker and the config sets none.
pub const EMBEDDED_SESSION_TIMEOUT_MS: u64 = 3000;
/// `heartbeat.interval.ms` then, unless the config sets one: a sixth of the session, so that a
/// worker on a loaded machine misses several heartbeats before it is dropped (the tests on the
/// embedded broker run with these two values).
pub const EMBEDDED_HEARTBEAT_INTERVAL_MS: u64 = 500;

/// The worker config the group keys of a worker on its own embedded broker are read from:
/// `props` with a 3 s session (and 500 ms heartbeats) unless it sets `session.timeout.ms`.
///
/// librdkafka's mock coordinator elects a leader only when its rebalance timer fires, after
/// session.timeout.ms − 1 s, however few members it waits for. With Connect's 10 s session a
/// new connector's tasks started ~18 s after the create (one rebalance assigns the connector,
/// the next its tasks), so a user trying `kconnect distributed` locally saw nothing move. A
/// session set in the file is kept, and so is a heartbeat; a heartbeat of 3 s or more keeps
/// Connect's session too, since the heartbeat must stay below it.
fn embedded_group_timing(props: &Props) -> Props {
    use kconnect_actors::distributed::config::{HEARTBEAT_INTERVAL_MS, SESSION_TIMEOUT_MS};
    let mut out = props.clone();
    if props.contains_key(SESSION_TIMEOUT_MS) {
        return out;
    }
    let heartbeat_ms = match props.get(HEARTBEAT_INTERVAL_MS) {
        // Not a number: left to DistributedConfig::parse, which names the key.
        Some(v) => v.trim().parse::<u64>().ok(),
        None => Some(EMBEDDED_HEARTBEAT_INTERVAL_MS),
    };
    if heartbeat_ms.is_some_and(|h| h < EMBEDDED_SESSION_TIMEOUT_MS) {
        out.entry(HEARTBEAT_INTERVAL_MS.to_string())
            .or_insert_with(|| EMBEDDED_HEARTBEAT_INTERVAL_MS.to_string());
        out.insert(
            SESSION_TIMEOUT_MS.to_string(),
            EMBEDDED_SESSION_TIMEOUT_MS.to_string(),
        );
        tracing::info!(
            "embedded broker: session.timeout.ms defaults to {EMBEDDED_SESSION_TIMEOUT_MS} \
             (Connect: 10000), since its coordinator ends every rebalance only after \
             session.timeout.ms - 1 s; set session.timeout.ms to choose"
        );
    }
    out
}

/// A running distributed worker.
pub struct Distributed {
    pub herder: DistributedHerder,
    pub broker: Option<Arc<EmbeddedBroker>>,
    /// Stopped (its clients closed) after the tasks and the REST API, before the broker goes.
    offsets: Arc<KafkaOffsetStore>,
    pub rest_addr: SocketAddr,
    pub rest_url: String,
    rest_stop: tokio::sync::oneshot::Sender<()>,
    rest_task: tokio::task::JoinHandle<()>,
}

/// librdkafka settings of the internal topics' clients: the worker's client settings.
fn internal_client_props(worker: &WorkerConfig, bootstrap: &str) -> Vec<(String, String)> {
    let mut out = kconnect_actors::config::worker_client_props(worker, bootstrap);
    // The internal topics are read back after every write; librdkafka's 500 ms fetch wait
    // would be paid on each (and on the mock broker every fetch waits that long).
    out.push(("fetch.wait.max.ms".into(), "20".into()));
    out
}

/// Creates the internal topics: through the mock's own API on an in-process broker, through
/// CreateTopics on a real cluster. A broker that cannot create them (a `kconnect broker`
/// elsewhere) must already have them; the stores fail with the topic's name if not.
fn create_internal_topics(
    cluster: &DistributedConfig,
    broker: Option<&EmbeddedBroker>,
    client: &[(String, String)],
) -> Result<(), InternalTopicError> {
    if let Some(b) = broker {
        for (topic, partitions, _) in cluster.internal_topics() {
            b.ensure_topic(topic, partitions)?;
        }
        return Ok(());
    }
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let mut cc = rdkafka::ClientConfig::new();
    for (k, v) in client {
        cc.set(k, v);
    }
    // Only missing topics are created: a broker without CreateTopics (a `kconnect broker`
    // elsewhere) would otherwise keep the request waiting until it times out.
    let probe: BaseConsumer = cc.create().map_err(InternalTopicError::Client)?;
    let metadata = probe
        .fetch_metadata(None, Duration::from_secs(30))
        .map_err(InternalTopicError::Metadata)?;
    let existing: std::collections::BTreeSet<String> = metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .map(|t| t.name().to_string())
        .collect();
    let topics: Vec<(String, i32, i16)> = cluster
        .internal_topics()
        .iter()
        .filter(|(t, _, _)| !existing.contains(*t))
        .map(|(t, p, r)| (t.to_string(), *p, *r))
        .collect();
    if !topics.is_empty() {
        create_topics(&cc, &topics)?;
    }
    // A topic another worker created a moment ago may have no partition leader yet; reading it
    // then fails the stores (NOT_LEADER_FOR_PARTITION), so wait for every leader first.
    let names: Vec<&str> = cluster
        .internal_topics()
        .iter()
        .map(|(t, _, _)| *t)
        .collect();
    wait_for_leaders(&probe, &names, Duration::from_secs(30))
}

/// The internal topics did not become usable.
#[derive(Debug, Error)]
pub enum InternalTopicError {
    #[error(transparent)]
    Embedded(#[from] EmbeddedBrokerError),
    #[error(transparent)]
    Client(rdkafka::error::KafkaError),
    #[error("cannot read the cluster's metadata: {0}")]
    Metadata(rdkafka::error::KafkaError),
    #[error("topic {topic} has a partition without a leader after {waited:?} ({state})")]
    NoLeader {
        topic: String,
        waited: Duration,
        state: String,
    },
    #[error("cannot create the admin client: {0}")]
    Admin(#[from] rdkafka::error::KafkaError),
    #[error("cannot start the admin client's runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

/// Waits until every partition of every topic in `topics` has a leader.
fn wait_for_leaders(
    probe: &rdkafka::consumer::BaseConsumer,
    topics: &[&str],
    timeout: Duration,
) -> Result<(), InternalTopicError> {
    use rdkafka::consumer::Consumer;
    let deadline = std::time::Instant::now() + timeout;
    for topic in topics {
        loop {
            let state = match probe.fetch_metadata(Some(topic), Duration::from_secs(5)) {
                Ok(md) => match md.topics().first() {
                    Some(t) if t.error().is_none() && !t.partitions().is_empty() => {
                        let leaderless: Vec<i32> = t
                            .partitions()
                            .iter()
                            .filter(|p| p.leader() < 0 || p.error().is_some())
                            .map(|p| p.id())
                            .collect();
                        if leaderless.is_empty() {
                            break;
                        }
                        format!("partitions without a leader: {leaderless:?}")
                    }
                    Some(t) => format!("metadata error {:?}", t.error()),
                    None => "not in the metadata".to_string(),
                },
                Err(e) => e.to_string(),
            };
            if std::time::Instant::now() >= deadline {
                return Err(InternalTopicError::NoLeader {
                    topic: topic.to_string(),
                    waited: timeout,
                    state,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(())
}

/// Creates `topics` (name, partitions, replication) compacted, with CreateTopics. One that
/// exists already (another worker won the race) is fine; other failures are logged, since a
/// cluster that refuses CreateTopics may still have the topics.
fn create_topics(
    cc: &rdkafka::ClientConfig,
    topics: &[(String, i32, i16)],
) -> Result<(), InternalTopicError> {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    let admin: AdminClient<DefaultClientContext> = cc.create()?;
    let new: Vec<NewTopic> = topics
        .iter()
        .map(|(t, p, r)| {
            let replication = TopicReplication::Fixed(i32::from(*r));
            // As Connect: the internal topics keep the latest record per key.
            NewTopic::new(t, *p, replication).set("cleanup.policy", "compact")
        })
        .collect();
    let opts = AdminOptions::new()
        .operation_timeout(Some(Duration::from_secs(30)))
        .request_timeout(Some(Duration::from_secs(10)));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match rt.block_on(admin.create_topics(new.iter(), &opts)) {
        Ok(results) => {
            for r in results {
                match r {
                    Ok(t) => tracing::info!(topic = %t, "internal topic created"),
                    Err((t, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {
                        tracing::debug!(topic = %t, "internal topic exists")
                    }
                    Err((t, e)) => tracing::warn!(
                        topic = %t,
                        "cannot create internal topic ({e}); it must exist already"
                    ),
                }
            }
        }
        Err(e) => tracing::warn!(
            "the cluster cannot create topics ({e}); the internal topics must exist already"
        ),
    }
    Ok(())
}

impl Distributed {
    /// Binds the REST API, reads the internal topics to their end, starts the worker and joins
    /// the group. Work arrives with the first assignment.
    pub async fn start(
        config: DistributedWorkerConfig,
        logs: Option<Arc<LogControl>>,
    ) -> Result<Distributed, DistributedError> {
        // Before any work is assigned: tasks take their metric handles at start.
        let metrics = crate::metrics::prometheus();
        let file = config.file.clone();
        let error = |source: WorkerStartError| DistributedError::Worker {
            file: file.clone(),
            source: Box::new(source),
        };
        let wc = config.worker;
        let cc = config.cluster;
        let plugins = config.plugins;
        let (listener, rest_addr, worker_id) =
            rest::bind_worker(&wc).await.map_err(|e| error(e.into()))?;
        let scheme = if listener.is_https() { "https" } else { "http" };
        let rest_url = format!("{scheme}://{worker_id}");

        let broker = if wc.uses_embedded_broker() {
            Some(Arc::new(EmbeddedBroker::start()?))
        } else {
            None
        };
        let bootstrap = broker
            .as_ref()
            .map(|b| b.bootstrap_servers().to_string())
            .unwrap_or_else(|| wc.bootstrap_servers.clone());
        let client = internal_client_props(&wc, &bootstrap);
        if broker.is_none() {
            // librdkafka retries a refused login until the metadata read times out (30 s) with
            // "broker transport failure"; this names the setting at once.
            kconnect_actors::cluster::probe::check_worker_credentials(&wc.props, &bootstrap)
                .await
                .map_err(|e| error(e.into()))?;
        }

        // Everything below blocks on Kafka: off the async threads.
        let stores = {
            let cc = cc.clone();
            let broker = broker.clone();
            let client = client.clone();
            let worker_id = worker_id.clone();
            tokio::task::spawn_blocking(move || {
                // A `kconnect broker` in another process is the same mock cluster.
                if cc.exactly_once_source_support.tasks_transactional()
                    && coordinator_is_embedded(broker.as_deref(), &client) == Some(true)
                {
                    return Err(EmbeddedRefusesExactlyOnce.into());
                }
                open_stores(&cc, broker.as_deref(), &client, &worker_id)
            })
            .await
            .map_err(|e| error(e.into()))?
            .map_err(|e| error(e.into()))?
        };
        let (configs, offsets, statuses, updates) = stores;

        let herder_ref: Arc<OnceLock<ActorRef<HerderMsg>>> = Arc::new(OnceLock::new());
        let sink_ref = herder_ref.clone();
        let status_writer = status_writer::StatusWriter::start(statuses.clone());
        let ctx = WorkerContext {
            status: StatusStore::new(worker_id.clone()).with_listener(status_writer.listener()),
            worker_id: worker_id.clone(),
            bootstrap_servers: bootstrap.clone(),
            broker_health: kconnect_actors::broker_health::BrokerHealth::new(&bootstrap),
            offsets: offsets.clone() as Arc<dyn OffsetStore>,
            plugins,
            topic_admin: broker.clone().map(|b| b as Arc<dyn TopicAdmin>),
            task_configs_sink: Some(Arc::new(move |connector: &str, configs| {
                if let Some(h) = sink_ref.get() {
                    let _ = h.send_message(HerderMsg::TaskConfigs(connector.to_string(), configs));
                }
            })),
            live_clients: Default::default(),
            exactly_once: cc
                .exactly_once_source_support
                .tasks_transactional()
                .then(|| kconnect_actors::exactly_once::ExactlyOnceWorker {
                    group_id: cc.group_id.clone(),
                    offsets_topic: cc.offset_topic.clone(),
                    offsets_partitions: offsets.partition_count(),
                    offset_partitions_new: cc.offset_partitions,
                    offset_replication_new: cc.offset_replication,
                    client_props: client.clone(),
                }),
            config: wc,
        };
        let plugins = ctx.plugins.clone();
        let worker = Worker::start(ctx).await.map_err(|e| error(e.into()))?;
        let view = Arc::new(ClusterView {
            configs,
            statuses,
            url: rest_url.clone(),
            membership: Mutex::new(Default::default()),
            assigned_shape: Mutex::new(Default::default()),
            status_writer,
            membership_changed: tokio::sync::watch::channel(0).0,
            // The first join can take the broker's initial delay plus a rebalance.
            first_join_timeout: cc.rebalance_timeout.min(cc.session_timeout * 3),
        });
        let authorization = match worker
            .context()
            .config
            .props
            .get(rest::security::CREDENTIALS_FILE)
        {
            Some(f) => rest::security::Credentials::load(Path::new(f))
                .map_err(|e| error(e.into()))?
                .worker_authorization(),
            None => None,
        };
        let (commands, command_rx) = tokio::sync::mpsc::unbounded_channel();
        let group: Arc<dyn GroupControl> = Arc::new(member::Commands(commands.clone()));
        let (actor, _) = Actor::spawn(
            Some(kconnect_actors::actor_names::herder(&worker_id)),
            HerderActor,
            HerderArgs {
                worker: worker.clone(),
                view: view.clone(),
                group,
                authorization,
            },
        )
        .await
        .map_err(|e| error(e.into()))?;
        let _ = herder_ref.set(actor.clone());
        // Config changes read from now on go to the herder; cluster-wide log levels are
        // applied here (they concern the process, not its connectors).
        {
            let actor = actor.clone();
            let logs = logs.clone();
            std::thread::Builder::new()
                .name("kconnect-config-updates".into())
                .spawn(move || {
                    for update in updates {
                        if let kconnect_actors::storage::kafka::ConfigUpdate::LoggerLevel {
                            namespace,
                            level,
                        } = &update
                        {
                            apply_cluster_level(logs.as_deref(), namespace, level);
                            continue;
                        }
                        if actor
                            .send_message(HerderMsg::ConfigUpdated(update))
                            .is_err()
                        {
                            break;
                        }
                    }
                })
                .map_err(|e| error(e.into()))?;
        }
        let group_config =
            member::group_config(&cc, &bootstrap, &worker_id, &worker.context().config.props)
                .map_err(|e| error(e.into()))?;
        let member = member::start(
            group_config,
            &cc,
            view.clone(),
            actor.clone(),
            command_rx,
            commands,
        );
        let herder = DistributedHerder {
            actor,
            worker,
            view,
            leave: Arc::new(move || {
                let member = member.clone();
                Box::pin(async move { member.leave().await })
            }),
        };
        let state = RestState {
            herder: Arc::new(herder.clone()) as Arc<dyn Herder>,
            plugins,
            logs,
            kafka_cluster_id: crate::standalone::cluster_id(client.clone()).await,
            broker: broker.clone(),
            metrics,
            // Forwarded requests carry the caller's own credentials.
            peers: Some(
                kconnect_actors::distributed::rest_client(
                    &herder.worker.context().config.props,
                    None,
                )
                .map_err(|e| error(e.into()))?,
            ),
        };
        let (rest_stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let rest_task = tokio::spawn(rest::serve(listener, state, async move {
            let _ = stopped.await;
        }));
        tracing::info!(worker = %worker_id, group = %cc.group_id, "distributed worker started");
        Ok(Distributed {
            herder,
            broker,
            offsets,
            rest_addr,
            rest_url,
            rest_stop,
            rest_task,
        })
    }

    /// Stops the tasks (they commit their offsets), leaves the group, then stops the REST API
    /// and closes the internal topics' clients (the herder closes the config and status ones),
    /// and only then the embedded broker: a client still connected when it goes reports every
    /// broker down.
    pub async fn stop(self) {
        self.herder.shutdown().await;
        let _ = self.rest_stop.send(());
        let _ = self.rest_task.await;
        let offsets = self.offsets;
        let _ = tokio::task::spawn_blocking(move || offsets.stop()).await;
        drop(self.broker);
    }
}

/// Whether the cluster is the embedded broker (librdkafka's mock): known for an in-process
/// broker, else told by the cluster id (`mockCluster…`), which also recognises a
/// `kconnect broker` in another process. `None` when the cluster id cannot be read.
fn coordinator_is_embedded(
    broker: Option<&EmbeddedBroker>,
    client: &[(String, String)],
) -> Option<bool> {
    if broker.is_some() {
        return Some(true);
    }
    let mut cc = rdkafka::ClientConfig::new();
    for (k, v) in client {
        cc.set(k, v);
    }
    let probe: rdkafka::consumer::BaseConsumer = cc.create().ok()?;
    let id = rdkafka::consumer::Consumer::client(&probe).fetch_cluster_id(Duration::from_secs(10));
    let embedded = id
        .as_deref()
        .map(kconnect_actors::context::is_embedded_cluster);
    tracing::info!(cluster_id = ?id, ?embedded, "cluster identified");
    embedded
}

type Stores = (
    Arc<KafkaConfigStore>,
    Arc<KafkaOffsetStore>,
    Arc<KafkaStatusStore>,
    std::sync::mpsc::Receiver<kconnect_actors::storage::kafka::ConfigUpdate>,
);

fn open_stores(
    cc: &DistributedConfig,
    broker: Option<&EmbeddedBroker>,
    client: &[(String, String)],
    worker_id: &str,
) -> Result<Stores, StoresError> {
    create_internal_topics(cc, broker, client)?;
    let log = |topic: &str, role: &str| {
        KafkaLogConfig::new(topic, "")
            .with_props(client.iter().cloned())
            .with_client_id(format!("kconnect-{worker_id}-{role}"))
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let configs = KafkaConfigStore::start(log(&cc.config_topic, "configs"), move |u| {
        let _ = tx.send(u.clone());
    })
    .map_err(|source| StoresError::Open {
        key: kconnect_actors::distributed::config::CONFIG_TOPIC,
        source: Box::new(source),
    })?;
    // Under exactly-once source support tasks write offsets in their transactions: only
    // committed ones may be read.
    let read_committed = cc.exactly_once_source_support.tasks_transactional();
    let offsets_log = log(&cc.offset_topic, "offsets").with_read_committed(read_committed);
    let offsets = KafkaOffsetStore::start(offsets_log).map_err(|source| StoresError::Open {
        key: kconnect_actors::distributed::config::OFFSET_TOPIC,
        source: Box::new(source),
    })?;
    let statuses =
        KafkaStatusStore::start(log(&cc.status_topic, "statuses")).map_err(|source| {
            StoresError::Open {
                key: kconnect_actors::distributed::config::STATUS_TOPIC,
                source: Box::new(source),
            }
        })?;
    Ok((Arc::new(configs), Arc::new(offsets), Arc::new(statuses), rx))
}

/// A `logger-cluster-<namespace>` record read from the config topic: every worker sets the
/// level, as Connect's workers do.
fn apply_cluster_level(logs: Option<&LogControl>, namespace: &str, level: &str) {
    let Some(logs) = logs else { return };
    match crate::rest::loggers::parse_level(level) {
        Some(level) => {
            if let Err(e) = logs.set_level(namespace, level) {
                tracing::warn!(namespace, level, "cannot apply a cluster log level: {e}");
            }
        }
        None => tracing::warn!(
            namespace,
            level,
            "ignoring a cluster log level that is not one"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_key_typo_is_named_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("worker.properties");
        std::fs::write(
            &file,
            "bootstrap.servers=localhost:9092\ngroup.id=g\nconfig.storage.topic=c\n\
             offset.storage.topic=o\nstatus.storage.topic=s\nsession.timeout=5000\n\
             plugin.path=/opt/connectors\n",
        )
        .unwrap();
        let (loaded, warnings) = crate::config_keys::warnings_of(|| {
            DistributedWorkerConfig::load(&file, [].into_iter())
        });
        loaded.unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert!(
            warnings[0].contains(&format!(
                "worker config {}: unknown key session.timeout is ignored (did you mean \
                 session.timeout.ms?)",
                file.display()
            )),
            "{}",
            warnings[0]
        );
    }

    fn loaded(extra: &str) -> DistributedConfig {
        let text = format!(
            "group.id=g\nconfig.storage.topic=c\noffset.storage.topic=o\n\
             status.storage.topic=s\n{extra}"
        );
        let props: Props = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        DistributedWorkerConfig::from_props(Path::new("w.properties"), props)
            .unwrap()
            .cluster
    }

    /// On its own embedded broker a worker's rebalances last session.timeout.ms − 1 s: with
    /// no session set it takes 3 s (500 ms heartbeats), so new work starts in seconds.
    #[test]
    fn on_its_own_embedded_broker_a_worker_uses_a_short_session_unless_one_is_set() {
        let c = loaded("");
        assert_eq!(c.session_timeout, Duration::from_millis(3000));
        assert_eq!(c.heartbeat_interval, Duration::from_millis(500));

        let c = loaded("heartbeat.interval.ms=1000\n");
        assert_eq!(c.session_timeout, Duration::from_millis(3000));
        assert_eq!(c.heartbeat_interval, Duration::from_millis(1000));

        let c = loaded("session.timeout.ms=8000\n");
        assert_eq!(c.session_timeout, Duration::from_millis(8000));
        assert_eq!(c.heartbeat_interval, Duration::from_millis(3000));

        // A heartbeat too long for a 3 s session keeps Connect's session.
        let c = loaded("heartbeat.interval.ms=4000\n");
        assert_eq!(c.session_timeout, Duration::from_millis(10000));
        assert_eq!(c.heartbeat_interval, Duration::from_millis(4000));
    }

    /// A real cluster gets Connect's defaults.
    #[test]
    fn with_bootstrap_servers_the_session_is_connect_s_default() {
        let c = loaded("bootstrap.servers=localhost:9092\n");
        assert_eq!(c.session_timeout, Duration::from_millis(10000));
        assert_eq!(c.heartbeat_interval, Duration::from_millis(3000));
    }
}
