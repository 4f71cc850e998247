//! Statuses this worker sets go to the status topic from a thread of their own: writing waits for
//! the broker's acknowledgement, which no actor should wait on.
//!
//! Every write is a safe write: it never replaces a status another worker wrote in a newer
//! generation, so a worker that fell out of the group cannot overwrite what the task's new owner
//! reports. (Connect writes only UNASSIGNED and FAILED safely; a new owner always has a newer or
//! equal generation, so making RUNNING, PAUSED and the others safe too loses nothing.)

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use crate::status::{StatusChange, StatusListener};
use crate::storage::kafka::{KafkaStatusStore, Status, StatusRecord, TopicStatus};

/// Starts the writer thread; the listener it returns feeds it. The thread ends when every clone
/// of the listener is dropped.
pub fn start(store: Arc<KafkaStatusStore>, generation: Arc<AtomicI32>) -> StatusListener {
    let (tx, rx) = mpsc::channel::<StatusChange>();
    std::thread::Builder::new()
        .name("kconnect-status-writer".into())
        .spawn(move || {
            for change in rx {
                write(&store, &change, generation.load(Ordering::SeqCst));
            }
        })
        .expect("spawn the status writer thread");
    let tx = std::sync::Mutex::new(tx);
    Arc::new(move |change| {
        let _ = tx.lock().unwrap_or_else(|e| e.into_inner()).send(change);
    })
}

fn write(store: &KafkaStatusStore, change: &StatusChange, generation: i32) {
    let (connector, task, record) = match change {
        StatusChange::State {
            connector,
            task,
            status,
        } => {
            let status = Some(Status {
                state: status.state,
                trace: status.trace.clone(),
                worker_id: status.worker_id.clone(),
                generation,
            });
            let record = match task {
                None => StatusRecord::Connector {
                    connector: connector.clone(),
                    status,
                },
                Some(task) => StatusRecord::Task {
                    connector: connector.clone(),
                    task: *task,
                    status,
                },
            };
            (connector, *task, record)
        }
        // Connect's active topics (`status-topic-<topic>:connector-<name>`).
        StatusChange::TopicUsed {
            connector,
            task,
            topic,
        } => {
            let discover_timestamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            let record = StatusRecord::Topic {
                topic: topic.clone(),
                connector: connector.clone(),
                status: Some(TopicStatus {
                    topic: topic.clone(),
                    connector: connector.clone(),
                    task: *task as i32,
                    discover_timestamp,
                }),
            };
            (connector, Some(*task), record)
        }
    };
    match store.put_safe(&record) {
        Ok(true) => {}
        Ok(false) => tracing::debug!(
            %connector,
            ?task,
            generation,
            "status not written: another worker reported it in a newer generation"
        ),
        Err(e) => tracing::warn!(%connector, ?task, "cannot write status: {e}"),
    }
}
