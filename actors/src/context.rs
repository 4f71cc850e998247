//! What every actor of a worker shares: its config, status, offset store, plugins and the Kafka
//! cluster it talks to.

use std::sync::Arc;

use kconnect_connectors::api::OffsetStorageReader;
use kconnect_connectors::record::OffsetMap;
use kconnect_connectors::registry::PluginRegistry;

use crate::config::WorkerConfig;
use crate::status::StatusStore;

/// Where source offsets are kept (a file in standalone mode).
pub trait OffsetStore: Send + Sync + 'static {
    /// Persists offsets of one connector (`None` removes a partition's offset) before returning.
    fn put(
        &self,
        connector: &str,
        entries: Vec<(OffsetMap, Option<OffsetMap>)>,
    ) -> Result<(), String>;
    /// A reader for the connector's tasks.
    fn reader(&self, connector: &str) -> Arc<dyn OffsetStorageReader>;
    /// Every stored (partition, offset) of the connector.
    fn all(&self, connector: &str) -> Vec<(OffsetMap, OffsetMap)>;
}

/// The standalone store: a file.
pub struct FileOffsets(pub Arc<crate::storage::FileOffsetStore>);

impl OffsetStore for FileOffsets {
    fn put(
        &self,
        connector: &str,
        entries: Vec<(OffsetMap, Option<OffsetMap>)>,
    ) -> Result<(), String> {
        self.0.put(connector, entries).map_err(|e| e.to_string())
    }
    fn reader(&self, connector: &str) -> Arc<dyn OffsetStorageReader> {
        self.0.reader(connector)
    }
    fn all(&self, connector: &str) -> Vec<(OffsetMap, OffsetMap)> {
        self.0.all(connector)
    }
}

/// Creates topics on clusters where the runtime must (the embedded broker has no CreateTopics).
pub trait TopicAdmin: Send + Sync + 'static {
    fn ensure_topic(&self, topic: &str, partitions: i32) -> Result<(), String>;
}

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
    pub topic_admin: Option<Arc<dyn TopicAdmin>>,
    /// The cluster is the embedded broker: every topic starts at offset 0, so a partition whose
    /// earliest offset is above 0 lost records to the mock's retention, never to a policy.
    pub embedded_broker: bool,
}
