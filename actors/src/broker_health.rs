//! Whether this worker reaches its Kafka brokers, told once and shown where users look.
//!
//! librdkafka retries lost connections by itself and reports each failed attempt, from every
//! client, as an error: a worker with a wrong `bootstrap.servers` logged about 8 ERROR lines a
//! second that never named the setting, while every task reported RUNNING. Instead:
//!
//! - every rdkafka client of the worker's tasks uses a [`KafkaClientContext`], which turns
//!   connection errors into a report to the worker's [`BrokerHealth`] (logged at DEBUG only);
//! - [`BrokerHealth`] logs one ERROR line naming `bootstrap.servers` and its value when the
//!   brokers become unreachable, and one INFO line when they answer again;
//! - a [`BrokerWatch`] asks the cluster for its metadata at start, then every
//!   [`WATCH_INTERVAL`] while reachable and every [`RETRY_INTERVAL`] while not, so recovery is
//!   noticed even by a worker with no busy client;
//! - REST shows the condition in `/health` (503) and in the trace of this worker's running tasks.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use tokio::sync::watch;

/// How often a reachable cluster is asked for its metadata.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(10);
/// How often an unreachable cluster is asked again.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// How long one metadata request may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// What the worker knows of its brokers.
#[derive(Debug, Clone, PartialEq)]
pub enum Reachability {
    /// Not asked yet.
    Unknown,
    Reachable,
    Unreachable {
        reason: String,
    },
}

/// The worker's view of its brokers, shared by its clients' contexts, its watch and REST.
pub struct BrokerHealth {
    bootstrap_servers: String,
    state: watch::Sender<Reachability>,
    /// librdkafka's words for the last failed connection ("Connection refused", …), to tell
    /// the user why; written only when a connection fails.
    last_failure: std::sync::Mutex<Option<String>>,
}

impl BrokerHealth {
    pub fn new(bootstrap_servers: impl Into<String>) -> Arc<Self> {
        Arc::new(BrokerHealth {
            bootstrap_servers: bootstrap_servers.into(),
            state: watch::channel(Reachability::Unknown).0,
            last_failure: std::sync::Mutex::new(None),
        })
    }

    /// The brokers answered.
    pub fn reached(&self) {
        let was_unreachable = self.state.send_if_modified(|s| {
            let changed = *s != Reachability::Reachable;
            let was = matches!(s, Reachability::Unreachable { .. });
            *s = Reachability::Reachable;
            changed && was
        });
        if was_unreachable {
            tracing::info!(
                "Kafka answers again at bootstrap.servers={}",
                self.bootstrap_servers
            );
        }
    }

    /// A connection attempt failed; `detail` says why.
    pub fn connection_failed(&self, detail: &str) {
        *self.last_failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(detail.to_string());
    }

    /// No broker could be reached; logged once per outage.
    pub fn unreachable(&self, reason: &str) {
        let last = self
            .last_failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let reason = match last {
            Some(detail) => format!("{reason}; last attempt: {detail}"),
            None => reason.to_string(),
        };
        let newly = self.state.send_if_modified(|s| {
            if matches!(s, Reachability::Unreachable { .. }) {
                return false;
            }
            *s = Reachability::Unreachable {
                reason: reason.clone(),
            };
            true
        });
        if newly {
            tracing::error!(
                "cannot reach Kafka at bootstrap.servers={} ({reason}); check the worker's \
                 bootstrap.servers. Tasks keep retrying quietly, and their status and /health \
                 show it until a broker answers",
                self.bootstrap_servers
            );
        }
    }

    /// The condition to show to users, while the brokers are unreachable.
    pub fn problem(&self) -> Option<String> {
        match &*self.state.borrow() {
            Reachability::Unreachable { reason } => Some(format!(
                "cannot reach Kafka at bootstrap.servers={}: {reason}",
                self.bootstrap_servers
            )),
            _ => None,
        }
    }

    pub fn subscribe(&self) -> watch::Receiver<Reachability> {
        self.state.subscribe()
    }
}

/// Whether a client error means no broker can be reached (as opposed to a failed request).
fn is_connectivity(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::AllBrokersDown
            | RDKafkaErrorCode::BrokerTransportFailure
            | RDKafkaErrorCode::Resolve
            | RDKafkaErrorCode::BrokerNotAvailable
    )
}

/// The callbacks of every rdkafka client a task creates: connection trouble goes to the
/// worker's [`BrokerHealth`] instead of the log.
#[derive(Clone)]
pub struct KafkaClientContext {
    pub health: Arc<BrokerHealth>,
}

impl KafkaClientContext {
    pub fn new(health: Arc<BrokerHealth>) -> Self {
        KafkaClientContext { health }
    }
}

/// librdkafka's log facilities of a failed connection attempt; they repeat on every retry.
const CONNECTION_FACILITIES: &[&str] = &["FAIL", "ERROR", "BROKERFAIL"];

/// Logs a librdkafka line, quietly when it is about connections: a failed attempt repeats on
/// every retry, and the outage itself is [`BrokerHealth`]'s to tell (once).
fn log_librdkafka(health: &BrokerHealth, level: RDKafkaLogLevel, fac: &str, msg: &str) {
    if CONNECTION_FACILITIES.contains(&fac) {
        health.connection_failed(msg);
        tracing::debug!(target: "librdkafka", "{fac} {msg}");
        return;
    }
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => tracing::error!(target: "librdkafka", "{fac} {msg}"),
        RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", "{fac} {msg}"),
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
            tracing::info!(target: "librdkafka", "{fac} {msg}")
        }
        RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", "{fac} {msg}"),
    }
}

/// Reports a librdkafka error callback: connectivity to [`BrokerHealth`], the rest logged.
fn report_librdkafka_error(health: &BrokerHealth, error: &KafkaError, reason: &str) {
    match error.rdkafka_error_code() {
        Some(code) if is_connectivity(code) => {
            // One broker of several failing is not an outage; all of them is.
            // (librdkafka's own words, "1/1 brokers are down", read as a count of the living.)
            if code == RDKafkaErrorCode::AllBrokersDown {
                health.unreachable("no broker answers");
            }
            tracing::debug!(target: "librdkafka", "{error}: {reason}");
        }
        _ => tracing::error!(target: "librdkafka", "{error}: {reason}"),
    }
}

impl ClientContext for KafkaClientContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, msg: &str) {
        log_librdkafka(&self.health, level, fac, msg);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        report_librdkafka_error(&self.health, &error, reason);
    }
}

impl ConsumerContext for KafkaClientContext {}

/// Asks the cluster for its metadata now and then, and tells [`BrokerHealth`].
pub struct BrokerWatch {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl BrokerWatch {
    /// Starts watching with a client built from `client` (bootstrap and security settings).
    pub fn start(
        health: Arc<BrokerHealth>,
        client: &ClientConfig,
    ) -> Result<BrokerWatch, KafkaError> {
        let probe: Arc<BaseConsumer<KafkaClientContext>> =
            Arc::new(client.create_with_context(KafkaClientContext::new(health.clone()))?);
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut changes = health.subscribe();
            loop {
                let p = probe.clone();
                let answer =
                    tokio::task::spawn_blocking(move || p.fetch_metadata(None, PROBE_TIMEOUT))
                        .await;
                match answer {
                    Ok(Ok(_)) => health.reached(),
                    Ok(Err(e)) => health.unreachable(&e.to_string()),
                    Err(_) => return,
                }
                let wait = if health.problem().is_some() {
                    RETRY_INTERVAL
                } else {
                    WATCH_INTERVAL
                };
                changes.borrow_and_update();
                tokio::select! {
                    _ = &mut stopped => return,
                    _ = tokio::time::sleep(wait) => {}
                    // A client saw the brokers go: ask at once whether they are really gone.
                    _ = changes.changed() => {}
                }
            }
        });
        Ok(BrokerWatch {
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Stops watching (and drops the probe client).
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_reported_once_and_cleared_by_an_answer() {
        let h = BrokerHealth::new("127.0.0.1:1");
        assert_eq!(h.problem(), None);
        h.connection_failed("Connect to ipv4#127.0.0.1:1 failed: Connection refused");
        h.unreachable("no broker answers");
        let p = h.problem().unwrap();
        assert!(p.contains("bootstrap.servers=127.0.0.1:1"), "{p}");
        assert!(p.contains("Connection refused"), "{p}");
        // Later reports keep the first reason: the condition, not each retry, is news.
        h.unreachable("something else");
        assert!(h.problem().unwrap().contains("Connection refused"));
        h.reached();
        assert_eq!(h.problem(), None);
    }

    #[test]
    fn only_all_brokers_down_is_an_outage() {
        let h = BrokerHealth::new("b:9092");
        let one = KafkaError::Global(RDKafkaErrorCode::BrokerTransportFailure);
        report_librdkafka_error(&h, &one, "b:9092/1: Connection refused");
        assert_eq!(h.problem(), None);
        let all = KafkaError::Global(RDKafkaErrorCode::AllBrokersDown);
        report_librdkafka_error(&h, &all, "1/1 brokers are down");
        assert!(h.problem().is_some());
    }
}
