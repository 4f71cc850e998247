//! `ConnectorActor`: runs a connector plugin. It starts it, asks it for task configs and hands
//! them to its supervisor, and again whenever the plugin requests a reconfiguration.

use std::sync::Arc;

use kconnect_connectors::api::{Connector, ConnectorContext, ConnectorEvent, ConnectorKind};
use kconnect_connectors::error::ConnectError;
use kconnect_connectors::registry::ConnectorPlugin;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::sync::mpsc;

use super::supervisor::SupervisorMsg;
use crate::config::ConnectorConfig;
use crate::context::WorkerContext;
use crate::status::State;

pub enum ConnectorMsg {
    Start,
    Event(ConnectorEvent),
    /// The target state became PAUSED (`true`) or STARTED (`false`): report it, now if
    /// started, else once started. A connector instance keeps running while paused, as in
    /// Connect; only its status changes.
    Pause(bool),
    Stop(RpcReplyPort<()>),
}

pub struct ConnectorActor;

/// Why a connector instance stopped with an error; its text is the status trace the supervisor
/// records.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorFailure {
    #[error("connector start failed: {0}")]
    Start(ConnectError),
    #[error("task_configs failed: {0}")]
    TaskConfigs(ConnectError),
    /// The plugin called `ConnectorContext::raise_error`.
    #[error("connector raised an error: {0}")]
    Raised(ConnectError),
}

pub struct ConnectorArgs {
    pub worker: Arc<WorkerContext>,
    pub config: Arc<ConnectorConfig>,
    pub plugin: ConnectorPlugin,
    pub supervisor: ActorRef<SupervisorMsg>,
    pub restarts: u32,
    /// The connector's target state is PAUSED: report PAUSED once started (later changes come
    /// as [`ConnectorMsg::Pause`]).
    pub paused: bool,
}

pub struct ConnectorState {
    args: ConnectorArgs,
    connector: Option<Box<dyn Connector>>,
    span: tracing::Span,
}

impl ConnectorState {
    fn send_task_configs(&self) -> Result<(), ActorProcessingErr> {
        let c = self.connector.as_ref().expect("started");
        let mut configs = c
            .task_configs(self.args.config.tasks_max)
            .map_err(ConnectorFailure::TaskConfigs)?;
        // What Connect's worker adds to every task config (Worker.connectorTaskConfigs): the
        // task class, without which a Java worker refuses to start the task, and for sinks the
        // connector's topic subscription. Stored configs then read the same whichever kind of
        // worker wrote them, so a mixed cluster or a handover runs the same tasks.
        let task_class = self.args.plugin.task_class();
        let sink = self.args.plugin.kind == ConnectorKind::Sink;
        let props = &self.args.config.props;
        for config in &mut configs {
            config.insert("task.class".into(), task_class.clone());
            if sink {
                for key in ["topics", "topics.regex"] {
                    if let Some(v) = props.get(key) {
                        config.insert(key.into(), v.clone());
                    }
                }
            }
        }
        self.args
            .supervisor
            .send_message(SupervisorMsg::TaskConfigs(configs))?;
        Ok(())
    }
}

impl Actor for ConnectorActor {
    type Msg = ConnectorMsg;
    type State = ConnectorState;
    type Arguments = ConnectorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: ConnectorArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        myself.send_message(ConnectorMsg::Start)?;
        Ok(ConnectorState {
            span: tracing::info_span!("connector", connector = %args.config.name),
            args,
            connector: None,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let _e = state.span.clone().entered();
        match msg {
            ConnectorMsg::Start => {
                let mut c = state.args.plugin.create();
                let (tx, mut rx) = mpsc::unbounded_channel();
                // Forward the plugin's requests into this actor's mailbox.
                let me = myself.clone();
                tokio::spawn(async move {
                    while let Some(ev) = rx.recv().await {
                        if me.send_message(ConnectorMsg::Event(ev)).is_err() {
                            break;
                        }
                    }
                });
                c.start(ConnectorContext::new(tx), &state.args.config.props)
                    .map_err(ConnectorFailure::Start)?;
                state.connector = Some(c);
                let name = &state.args.config.name;
                // A connector started while its target state is PAUSED (created paused,
                // restarted or reconfigured while paused, a worker taking over a paused
                // connector) reports PAUSED, as Connect's workers do.
                state.args.worker.status.set_connector(
                    name,
                    State::running(state.args.paused),
                    None,
                    state.args.restarts,
                );
                tracing::info!(class = %state.args.config.class, "connector started");
                state.send_task_configs()?;
            }
            ConnectorMsg::Event(ConnectorEvent::RequestTaskReconfiguration) => {
                if state.connector.is_some() {
                    state.send_task_configs()?;
                }
            }
            ConnectorMsg::Pause(paused) => {
                state.args.paused = paused;
                if state.connector.is_some() {
                    let name = &state.args.config.name;
                    state.args.worker.status.set_connector(
                        name,
                        State::running(paused),
                        None,
                        state.args.restarts,
                    );
                }
            }
            ConnectorMsg::Event(ConnectorEvent::RaiseError(e)) => {
                return Err(ConnectorFailure::Raised(e).into());
            }
            ConnectorMsg::Stop(reply) => {
                if let Some(mut c) = state.connector.take() {
                    if let Err(e) = c.stop() {
                        tracing::warn!("connector stop failed: {e}");
                    }
                }
                let _ = reply.send(());
                myself.stop(None);
            }
        }
        Ok(())
    }
}
