//! What every actor of a worker shares: its config, status, offset store, plugins and the Kafka
//! cluster it talks to.

use std::sync::Arc;

use futures::future::BoxFuture;

use kconnect_connectors::api::OffsetStorageReader;
use kconnect_connectors::record::OffsetMap;
use kconnect_connectors::registry::PluginRegistry;

use crate::config::WorkerConfig;
use crate::status::StatusStore;

/// Why an offset write failed.
#[derive(Debug, thiserror::Error)]
pub enum OffsetWriteError {
    #[error(transparent)]
    File(#[from] crate::storage::OffsetStoreError),
    #[error(transparent)]
    Kafka(#[from] crate::storage::kafka::KafkaLogError),
    /// A write of several committers' offsets at once failed: each of them gets the error.
    #[error(transparent)]
    FileBatch(Arc<crate::storage::OffsetStoreError>),
    #[error("the offset write was abandoned: {0}")]
    Abandoned(#[from] tokio::task::JoinError),
    #[error("the offset writer stopped before it answered")]
    WriterGone,
}

/// Where source offsets are kept (a file in standalone mode, a topic in distributed mode).
pub trait OffsetStore: Send + Sync + 'static {
    /// Persists offsets of one connector (`None` removes a partition's offset); the future
    /// completes once they are durable. It never blocks the thread that polls it (a write waits
    /// for an fsync or the broker's acknowledgement), so actors await it in their handlers.
    fn put(
        &self,
        connector: &str,
        entries: Vec<(OffsetMap, Option<OffsetMap>)>,
    ) -> BoxFuture<'static, Result<(), OffsetWriteError>>;
    /// A reader for the connector's tasks.
    fn reader(&self, connector: &str) -> Arc<dyn OffsetStorageReader>;
    /// Every stored (partition, offset) of the connector.
    fn all(&self, connector: &str) -> Vec<(OffsetMap, OffsetMap)>;
}

/// The standalone store: a file. Writes that arrive while one is under way are written
/// together next (group commit): each write rewrites and fsyncs the whole file, so 200
/// committers flushing at once (a shutdown) would otherwise queue 200 fsyncs.
pub struct FileOffsets {
    store: Arc<crate::storage::FileOffsetStore>,
    queue: Arc<std::sync::Mutex<WriteQueue>>,
}

type FileWrite = crate::storage::ConnectorWrite;
type FileWriteDone = tokio::sync::oneshot::Sender<Result<(), OffsetWriteError>>;

#[derive(Default)]
struct WriteQueue {
    pending: Vec<(FileWrite, FileWriteDone)>,
    /// A writer on the blocking pool is draining `pending`.
    writing: bool,
}

impl FileOffsets {
    pub fn new(store: Arc<crate::storage::FileOffsetStore>) -> FileOffsets {
        FileOffsets {
            store,
            queue: Arc::default(),
        }
    }

    /// The writer: takes everything pending, writes it in one go, answers each, until nothing
    /// is left.
    fn drain(store: &crate::storage::FileOffsetStore, queue: &std::sync::Mutex<WriteQueue>) {
        /// Should the write panic, later writes must not wait for a writer that is gone: they
        /// are answered (dropped: `WriterGone`) and the next put starts a new writer.
        struct OnPanic<'a>(&'a std::sync::Mutex<WriteQueue>);
        impl Drop for OnPanic<'_> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    let mut q = self.0.lock().unwrap_or_else(|e| e.into_inner());
                    q.pending.clear();
                    q.writing = false;
                }
            }
        }
        let _guard = OnPanic(queue);
        loop {
            let batch = {
                let mut q = queue.lock().unwrap_or_else(|e| e.into_inner());
                if q.pending.is_empty() {
                    q.writing = false;
                    return;
                }
                std::mem::take(&mut q.pending)
            };
            let (writes, waiters): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
            match store.put_many(writes) {
                Ok(()) => {
                    for w in waiters {
                        let _ = w.send(Ok(()));
                    }
                }
                Err(e) => {
                    let e = Arc::new(e);
                    for w in waiters {
                        let _ = w.send(Err(OffsetWriteError::FileBatch(e.clone())));
                    }
                }
            }
        }
    }
}

impl OffsetStore for FileOffsets {
    fn put(
        &self,
        connector: &str,
        entries: Vec<(OffsetMap, Option<OffsetMap>)>,
    ) -> BoxFuture<'static, Result<(), OffsetWriteError>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let start_writer = {
            let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            q.pending.push(((connector.to_string(), entries), tx));
            !std::mem::replace(&mut q.writing, true)
        };
        // The write ends in fsyncs: on the blocking pool, as tokio's own file I/O.
        let writer = start_writer.then(|| {
            let (store, queue) = (self.store.clone(), self.queue.clone());
            tokio::task::spawn_blocking(move || Self::drain(&store, &queue))
        });
        Box::pin(async move {
            let answer = rx.await;
            if let Some(w) = writer {
                // The writer's panic, if that is why there is no answer.
                w.await?;
            }
            answer.unwrap_or(Err(OffsetWriteError::WriterGone))
        })
    }
    fn reader(&self, connector: &str) -> Arc<dyn OffsetStorageReader> {
        self.store.reader(connector)
    }
    fn all(&self, connector: &str) -> Vec<(OffsetMap, OffsetMap)> {
        self.store.all(connector)
    }
}

pub use crate::topic_creation::TopicAdmin;

/// Everything a worker's actors share.
pub struct WorkerContext {
    pub config: WorkerConfig,
    /// `host:port` of this worker, as status reports show it.
    pub worker_id: String,
    /// The Kafka bootstrap servers actually used (the embedded broker's address if embedded).
    pub bootstrap_servers: String,
    pub status: StatusStore,
    pub offsets: Arc<dyn OffsetStore>,
    pub plugins: Arc<PluginRegistry>,
    /// Where the runtime itself creates every topic a task uses (the embedded broker, which has
    /// neither CreateTopics nor auto-creation the runtime can rely on). `None` on a real
    /// cluster: source tasks create their topics there through CreateTopics when the connector
    /// configures topic creation (KIP-158), and the broker's auto-creation decides otherwise.
    pub topic_admin: Option<Arc<dyn TopicAdmin>>,
    /// Whether the brokers answer; every client of the worker's tasks reports to it.
    pub broker_health: Arc<crate::broker_health::BrokerHealth>,
    /// Distributed mode: where the task configs a connector generates go (to the leader, who
    /// writes them to the config topic). `None` in standalone mode.
    pub task_configs_sink: Option<TaskConfigsSink>,
    /// The tasks' librdkafka clients still open; shutdown waits for none.
    pub live_clients: LiveClients,
    /// Set when this distributed worker runs `exactly.once.source.support=enabled`: source
    /// tasks then write transactionally (see [`crate::exactly_once`]).
    pub exactly_once: Option<crate::exactly_once::ExactlyOnceWorker>,
}

/// Counts open librdkafka clients. A client's state is dropped wherever its task's actor
/// state ends up (a failed task's at the end of its actor, a producer on a thread of its own),
/// later than the supervisor hears of the task's end; this is how a shutdown knows they are
/// all closed before it lets the embedded broker go.
#[derive(Clone)]
pub struct LiveClients(Arc<tokio::sync::watch::Sender<usize>>);

impl Default for LiveClients {
    fn default() -> Self {
        LiveClients(Arc::new(tokio::sync::watch::channel(0).0))
    }
}

impl LiveClients {
    /// Counts one client until the returned guard is dropped: keep it beside the client,
    /// dropped after it (a later field of the same struct is).
    pub fn register(&self) -> LiveClient {
        self.0.send_modify(|n| *n += 1);
        LiveClient(self.0.clone())
    }

    /// Waits until no client is open; on timeout, how many still are.
    pub async fn wait_closed(&self, timeout: std::time::Duration) -> Result<(), usize> {
        let mut rx = self.0.subscribe();
        let closed = tokio::time::timeout(timeout, rx.wait_for(|n| *n == 0))
            .await
            .is_ok_and(|r| r.is_ok());
        if closed {
            Ok(())
        } else {
            Err(*self.0.borrow())
        }
    }
}

/// One open client, counted in [`LiveClients`] until dropped.
pub struct LiveClient(Arc<tokio::sync::watch::Sender<usize>>);

impl Drop for LiveClient {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Receives `(connector, task configs)` generated by a connector running on this worker.
pub type TaskConfigsSink = Arc<dyn Fn(&str, Vec<kconnect_connectors::api::Props>) + Send + Sync>;

/// Whether a cluster id is that of librdkafka's mock cluster: the embedded broker, in this
/// process or in a `kconnect broker` process elsewhere.
///
/// The mock names itself `mockCluster<hex>` in its Metadata responses. It never deletes a topic's
/// records by policy, only by its fixed retention (5 MB / 100,000 messages per partition), so on
/// it every partition starts at offset 0 and an earliest offset above 0 means records were
/// dropped. Recognising it by its id, not by how the worker was started, keeps that rule for
/// workers pointed at a separate `kconnect broker`.
pub fn is_embedded_cluster(cluster_id: &str) -> bool {
    cluster_id.starts_with("mockCluster")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn live_clients_are_closed_once_every_guard_is_dropped() {
        let live = LiveClients::default();
        assert_eq!(live.wait_closed(Duration::ZERO).await, Ok(()));
        let a = live.register();
        let b = live.register();
        drop(a);
        assert_eq!(live.wait_closed(Duration::from_millis(10)).await, Err(1));
        // Closed on another thread, as a producer is, while the shutdown waits.
        let closer = std::thread::spawn(move || drop(b));
        assert_eq!(live.wait_closed(Duration::from_secs(10)).await, Ok(()));
        closer.join().unwrap();
    }
}
