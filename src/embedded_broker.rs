//! The embedded broker: librdkafka's mock cluster, hosted on a thread of its own because its
//! handle is `!Send`. It speaks the Kafka protocol on 127.0.0.1 with a kernel-chosen port.
//!
//! Its limits (measured against librdkafka's mock) are logged once at start so nobody mistakes
//! it for a real broker: data lives in memory only, each partition keeps only its last 5 MB or
//! 100,000 messages, transactions write no markers, and it has no CreateTopics API (topics are
//! created here through the mock's own API).
//!
//! Errors keep the mock's `KafkaError`, so callers tell what happened by its code
//! ([`EmbeddedBrokerError::code`]), never by its text.

use std::sync::mpsc;
use std::thread::JoinHandle;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::mocking::MockCluster;
use thiserror::Error;

/// What the mock retains per partition; older records are dropped without notice.
pub const RETAINED_BYTES_PER_PARTITION: usize = 5 * 1024 * 1024;
pub const RETAINED_MESSAGES_PER_PARTITION: usize = 100_000;

#[derive(Debug, Error)]
pub enum EmbeddedBrokerError {
    #[error("cannot start the embedded broker: {0}")]
    Start(#[source] KafkaError),
    #[error("cannot start the embedded broker: {0}")]
    Thread(#[source] std::io::Error),
    #[error("embedded broker: cannot create topic {topic}: {source}")]
    CreateTopic {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error("embedded broker: {0}")]
    Command(#[source] KafkaError),
    #[error("the embedded broker thread is gone")]
    Gone,
}

impl EmbeddedBrokerError {
    /// The mock's error code, when the mock answered with one.
    pub fn code(&self) -> Option<RDKafkaErrorCode> {
        match self {
            EmbeddedBrokerError::Start(e)
            | EmbeddedBrokerError::CreateTopic { source: e, .. }
            | EmbeddedBrokerError::Command(e) => e.rdkafka_error_code(),
            EmbeddedBrokerError::Thread(_) | EmbeddedBrokerError::Gone => None,
        }
    }
}

type Cluster = MockCluster<'static, rdkafka::producer::DefaultProducerContext>;
type Job = Box<dyn FnOnce(&Cluster) -> Result<(), EmbeddedBrokerError> + Send>;

/// Work for the broker's thread: a closure run against the mock cluster, or stop.
enum Command {
    Run(Job, mpsc::Sender<Result<(), EmbeddedBrokerError>>),
    Stop,
}

/// A running embedded broker. Dropping it stops the broker (and loses its data).
pub struct EmbeddedBroker {
    bootstrap_servers: String,
    commands: mpsc::Sender<Command>,
    thread: Option<JoinHandle<()>>,
}

/// The mock's single broker's id.
const BROKER_ID: i32 = 1;

impl EmbeddedBroker {
    /// Starts a one-broker mock cluster and waits until it listens.
    pub fn start() -> Result<Self, EmbeddedBrokerError> {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (cmd_tx, cmd_rx) = mpsc::channel::<Command>();
        let thread = std::thread::Builder::new()
            .name("embedded-broker".into())
            .spawn(move || {
                let cluster = match MockCluster::new(1) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = ready_tx.send(Err(EmbeddedBrokerError::Start(e)));
                        return;
                    }
                };
                // The mock advertises JoinGroup v6, SyncGroup v4 and LeaveGroup v3+ but parses
                // them with older layouts: advertise only what it reads correctly, so kconnect's
                // own group client (distributed mode) negotiates versions that work.
                use rdkafka::types::RDKafkaApiKey;
                for (api, max) in [
                    (RDKafkaApiKey::JoinGroup, 5),
                    (RDKafkaApiKey::SyncGroup, 3),
                    (RDKafkaApiKey::LeaveGroup, 2),
                ] {
                    if let Err(e) = cluster.apiversion(api, Some(0), Some(max)) {
                        let _ = ready_tx.send(Err(EmbeddedBrokerError::Start(e)));
                        return;
                    }
                }
                let _ = ready_tx.send(Ok(cluster.bootstrap_servers()));
                for cmd in cmd_rx {
                    match cmd {
                        Command::Run(job, reply) => {
                            let _ = reply.send(job(&cluster));
                        }
                        Command::Stop => break,
                    }
                }
                drop(cluster);
            })
            .map_err(EmbeddedBrokerError::Thread)?;
        let bootstrap_servers = ready_rx.recv().map_err(|_| EmbeddedBrokerError::Gone)??;
        tracing::warn!(
            bootstrap.servers = %bootstrap_servers,
            "embedded broker started: librdkafka's in-memory mock cluster. Its data is lost when \
             this process exits; each partition keeps only its last {} MB or {} messages and \
             drops older ones; transactions are not honoured. Set bootstrap.servers to use a \
             real Kafka cluster.",
            RETAINED_BYTES_PER_PARTITION / (1024 * 1024),
            RETAINED_MESSAGES_PER_PARTITION
        );
        Ok(EmbeddedBroker {
            bootstrap_servers,
            commands: cmd_tx,
            thread: Some(thread),
        })
    }

    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap_servers
    }

    /// Creates a topic. Creating one that exists is an error from the mock; callers that only
    /// need the topic to exist use [`EmbeddedBroker::ensure_topic`].
    pub fn create_topic(&self, topic: &str, partitions: i32) -> Result<(), EmbeddedBrokerError> {
        let topic = topic.to_string();
        self.run(move |c| {
            c.create_topic(&topic, partitions, 1).map_err(|source| {
                EmbeddedBrokerError::CreateTopic {
                    topic: topic.clone(),
                    source,
                }
            })
        })
    }

    /// Creates the topic unless it exists already (with whatever partition count it has).
    pub fn ensure_topic(&self, topic: &str, partitions: i32) -> Result<(), EmbeddedBrokerError> {
        match self.create_topic(topic, partitions) {
            Err(e @ EmbeddedBrokerError::CreateTopic { .. })
                if e.code() == Some(RDKafkaErrorCode::TopicAlreadyExists) =>
            {
                Ok(())
            }
            other => other,
        }
    }

    /// Takes the broker down: clients see it as unreachable until [`EmbeddedBroker::broker_up`].
    pub fn broker_down(&self) -> Result<(), EmbeddedBrokerError> {
        self.run(|c| c.broker_down(BROKER_ID).map_err(command_error))
    }

    pub fn broker_up(&self) -> Result<(), EmbeddedBrokerError> {
        self.run(|c| c.broker_up(BROKER_ID).map_err(command_error))
    }

    /// Delays every response of the broker by `delay` (zero removes the delay).
    pub fn set_latency(&self, delay: std::time::Duration) -> Result<(), EmbeddedBrokerError> {
        self.run(move |c| {
            c.broker_round_trip_time(BROKER_ID, delay)
                .map_err(command_error)
        })
    }

    /// The next requests of `api` fail with `errors`, one error per request, in order.
    pub fn push_request_errors(
        &self,
        api: rdkafka::types::RDKafkaApiKey,
        errors: Vec<rdkafka::types::RDKafkaRespErr>,
    ) -> Result<(), EmbeddedBrokerError> {
        self.run(move |c| {
            c.request_errors(api, &errors);
            Ok(())
        })
    }

    fn run(
        &self,
        job: impl FnOnce(&Cluster) -> Result<(), EmbeddedBrokerError> + Send + 'static,
    ) -> Result<(), EmbeddedBrokerError> {
        let (tx, rx) = mpsc::channel();
        self.commands
            .send(Command::Run(Box::new(job), tx))
            .map_err(|_| EmbeddedBrokerError::Gone)?;
        rx.recv().map_err(|_| EmbeddedBrokerError::Gone)?
    }
}

fn command_error(e: KafkaError) -> EmbeddedBrokerError {
    EmbeddedBrokerError::Command(e)
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creating_a_topic_twice_is_told_by_its_code_and_ensure_topic_accepts_it() {
        let broker = EmbeddedBroker::start().unwrap();
        broker.create_topic("t", 2).unwrap();
        let e = broker.create_topic("t", 2).unwrap_err();
        assert!(
            matches!(&e, EmbeddedBrokerError::CreateTopic { topic, .. } if topic == "t"),
            "{e:?}"
        );
        assert_eq!(e.code(), Some(RDKafkaErrorCode::TopicAlreadyExists));
        broker.ensure_topic("t", 2).unwrap();
        broker.ensure_topic("u", 1).unwrap();
        // A failure of another kind (a name the mock's C API cannot take) is not taken for an
        // existing topic.
        let e = broker.ensure_topic("a\0b", 1).unwrap_err();
        assert!(
            matches!(&e, EmbeddedBrokerError::CreateTopic { .. }),
            "{e:?}"
        );
        assert_eq!(e.code(), None);
    }
}
