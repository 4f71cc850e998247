//! `Herder`: what the REST API asks of a worker, whatever its mode (Connect's `Herder`).
//! Standalone mode answers from its one [`Worker`]; distributed mode answers reads from the
//! internal topics and sends writes to the leader (or, for one task, to the worker running it).

use std::sync::Arc;

use async_trait::async_trait;
use kconnect_connectors::api::{ConnectorKind, Props};

use crate::connector::supervisor::TargetState;
use crate::context::WorkerContext;
use crate::offsets::ConnectorOffset;
use crate::status::ConnectorStatus;
use crate::task::faults::FaultKind;
use crate::worker::{Worker, WorkerError};

/// A connector as the cluster knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorInfo {
    pub props: Props,
    pub kind: ConnectorKind,
    pub target: TargetState,
}

/// A `PATCH /connectors/{c}/config` body: keys to set, and keys to remove (given as JSON null).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigPatch {
    pub set: Props,
    pub remove: Vec<String>,
}

impl ConfigPatch {
    /// The stored config with this patch applied.
    pub fn apply(&self, mut props: Props) -> Props {
        for k in &self.remove {
            props.remove(k);
        }
        props.extend(self.set.iter().map(|(k, v)| (k.clone(), v.clone())));
        props
    }
}

#[async_trait]
pub trait Herder: Send + Sync + 'static {
    /// The local worker's shared context (config, plugins, offset store).
    fn context(&self) -> &Arc<WorkerContext>;
    async fn connectors(&self) -> Vec<String>;
    async fn connector(&self, name: &str) -> Result<ConnectorInfo, WorkerError>;
    async fn task_configs(&self, name: &str) -> Result<Vec<Props>, WorkerError>;
    async fn create_connector(
        &self,
        props: Props,
        target: TargetState,
    ) -> Result<String, WorkerError>;
    /// Replaces (or creates) a connector's config; `Ok(true)` when it created it.
    async fn put_config(&self, name: &str, props: Props) -> Result<bool, WorkerError>;
    /// `PATCH /connectors/{c}/config`: applies `patch` to the stored config where config writes
    /// are serialized (the worker actor; the distributed leader's herder), so that two patches
    /// never lose each other's keys.
    async fn patch_config(&self, name: &str, patch: ConfigPatch) -> Result<(), WorkerError>;
    async fn delete_connector(&self, name: &str) -> Result<(), WorkerError>;
    async fn set_target(&self, name: &str, target: TargetState) -> Result<(), WorkerError>;
    /// Connect's `POST /connectors/{c}/restart`: answers the restart plan, the connector's
    /// status with everything the restart restarts shown as RESTARTING.
    async fn restart_connector(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<ConnectorStatus, WorkerError>;
    async fn restart_task(&self, name: &str, task: u32) -> Result<(), WorkerError>;
    async fn status(&self, name: &str) -> Option<ConnectorStatus>;
    async fn offsets(&self, name: &str) -> Result<Vec<ConnectorOffset>, WorkerError>;
    async fn change_offsets(
        &self,
        name: &str,
        offsets: Option<Vec<ConnectorOffset>>,
    ) -> Result<(), WorkerError>;
    async fn inject_task_fault(
        &self,
        name: &str,
        task: u32,
        kind: FaultKind,
    ) -> Result<(), WorkerError>;
    async fn reset_topics(&self, name: &str) -> Result<(), WorkerError>;
    /// Connect's internal `POST /connectors/{c}/tasks`: task configs a connector generated on
    /// another worker, sent to the leader to store. `body` and `signature` are the request as
    /// received, checked when the group runs `sessioned`.
    async fn put_task_configs(
        &self,
        name: &str,
        configs: Vec<Props>,
        body: &[u8],
        signature: crate::distributed::signature::RequestSignature<'_>,
    ) -> Result<(), WorkerError> {
        let _ = (configs, body, signature);
        Err(WorkerError::BadRequest(format!(
            "connector {name}: task configs can only be written in distributed mode"
        )))
    }
    /// Connect's internal `PUT /connectors/{c}/fence` (KIP-618): the leader fences the
    /// previous generation of a source connector's tasks and writes its task count record.
    /// `body` and `signature` are the request as received, checked when the group runs
    /// `sessioned`. Standalone mode has no exactly-once source support (Connect throws there).
    async fn fence_zombies(
        &self,
        name: &str,
        body: &[u8],
        signature: crate::distributed::signature::RequestSignature<'_>,
    ) -> Result<(), WorkerError> {
        let _ = (name, body, signature);
        Err(WorkerError::BadRequest(
            "Kafka Connect in standalone mode does not support exactly-once source connectors."
                .into(),
        ))
    }
    /// Connect's `setClusterLoggerLevel`: `Ok(true)` when the level was written for every
    /// worker to apply (distributed: a `logger-cluster-<namespace>` record on the config topic,
    /// which each worker, this one included, applies as it reads it); `Ok(false)` when this
    /// worker is the whole cluster (standalone) and the caller applies it here.
    async fn set_cluster_logger_level(
        &self,
        namespace: &str,
        level: &str,
    ) -> Result<bool, WorkerError> {
        let _ = (namespace, level);
        Ok(false)
    }
    /// What runs in this process (`GET /admin/worker`).
    async fn local_work(&self) -> Vec<crate::worker::LocalWork> {
        Vec::new()
    }
    /// Cluster facts for `GET /admin/worker`: generation, leader, leader URL (distributed).
    fn cluster_info(&self) -> Option<serde_json::Value> {
        None
    }
    async fn shutdown(&self);
}

#[async_trait]
impl Herder for Worker {
    fn context(&self) -> &Arc<WorkerContext> {
        Worker::context(self)
    }
    async fn connectors(&self) -> Vec<String> {
        Worker::connectors(self).await
    }
    async fn connector(&self, name: &str) -> Result<ConnectorInfo, WorkerError> {
        let e = Worker::connector(self, name).await?;
        Ok(ConnectorInfo {
            props: e.props,
            kind: e.kind,
            target: e.target,
        })
    }
    async fn task_configs(&self, name: &str) -> Result<Vec<Props>, WorkerError> {
        Worker::task_configs(self, name).await
    }
    async fn create_connector(
        &self,
        props: Props,
        target: TargetState,
    ) -> Result<String, WorkerError> {
        Worker::create_connector(self, props, target).await
    }
    async fn put_config(&self, name: &str, props: Props) -> Result<bool, WorkerError> {
        Worker::put_config(self, name, props).await
    }
    async fn patch_config(&self, name: &str, patch: ConfigPatch) -> Result<(), WorkerError> {
        Worker::patch_config(self, name, patch).await
    }
    async fn delete_connector(&self, name: &str) -> Result<(), WorkerError> {
        Worker::delete_connector(self, name).await
    }
    async fn set_target(&self, name: &str, target: TargetState) -> Result<(), WorkerError> {
        Worker::set_target(self, name, target).await
    }
    async fn restart_connector(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<ConnectorStatus, WorkerError> {
        Worker::restart_connector(self, name, include_tasks, only_failed).await
    }
    async fn restart_task(&self, name: &str, task: u32) -> Result<(), WorkerError> {
        Worker::restart_task(self, name, task).await
    }
    async fn status(&self, name: &str) -> Option<ConnectorStatus> {
        Worker::status(self, name)
    }
    async fn offsets(&self, name: &str) -> Result<Vec<ConnectorOffset>, WorkerError> {
        Worker::offsets(self, name).await
    }
    async fn change_offsets(
        &self,
        name: &str,
        offsets: Option<Vec<ConnectorOffset>>,
    ) -> Result<(), WorkerError> {
        Worker::change_offsets(self, name, offsets).await
    }
    async fn inject_task_fault(
        &self,
        name: &str,
        task: u32,
        kind: FaultKind,
    ) -> Result<(), WorkerError> {
        Worker::inject_task_fault(self, name, task, kind).await
    }
    async fn reset_topics(&self, name: &str) -> Result<(), WorkerError> {
        Worker::connector(self, name).await?;
        self.context().status.reset_topics(name);
        Ok(())
    }
    async fn local_work(&self) -> Vec<crate::worker::LocalWork> {
        Worker::local_work(self).await
    }
    async fn shutdown(&self) {
        Worker::shutdown(self).await
    }
}
