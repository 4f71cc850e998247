//! Statuses this worker sets go to the status topic from a thread of their own: writing waits for
//! the broker's acknowledgement, which no actor should wait on.
//!
//! Each status carries the generation the worker was in when it set it. UNASSIGNED and FAILED,
//! the states a worker reports when it lets work go, are safe writes: they never replace a status
//! another worker wrote in a newer generation, so a stale worker cannot overwrite what the new
//! owner reports. The owner's own states (RUNNING, PAUSED, RESTARTING, STOPPED) are written
//! unconditionally, as Connect does, so statuses recover when the group's generations start
//! over (Kafka deletes an empty group).

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use crate::status::{State, StatusChange, StatusListener};
use crate::storage::kafka::{KafkaStatusStore, Status, StatusRecord, TopicStatus};

enum Job {
    Write(StatusChange, i32),
    Flush(mpsc::Sender<()>),
}

/// The writer thread's handle: a listener for the [`StatusStore`](crate::status::StatusStore),
/// and a flush for shutdown, so the last statuses (UNASSIGNED) are written before the worker
/// goes.
pub struct StatusWriter {
    tx: Mutex<mpsc::Sender<Job>>,
    generation: AtomicI32,
}

impl StatusWriter {
    /// Starts the writer thread. It ends when the writer and every listener are dropped.
    pub fn start(store: Arc<KafkaStatusStore>) -> Arc<StatusWriter> {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("kconnect-status-writer".into())
            .spawn(move || {
                for job in rx {
                    match job {
                        Job::Write(change, generation) => write(&store, &change, generation),
                        Job::Flush(done) => {
                            let _ = done.send(());
                        }
                    }
                }
            })
            .expect("spawn the status writer thread");
        Arc::new(StatusWriter {
            tx: Mutex::new(tx),
            generation: AtomicI32::new(-1),
        })
    }

    /// The group generation this worker is in (statuses set from now on carry it).
    pub fn set_generation(&self, generation: i32) {
        self.generation.store(generation, Ordering::SeqCst);
    }

    fn send(&self, job: Job) {
        let _ = self.tx.lock().unwrap_or_else(|e| e.into_inner()).send(job);
    }

    pub fn listener(self: &Arc<Self>) -> StatusListener {
        let me = self.clone();
        Arc::new(move |change| {
            // The generation of the moment the status changed, not of the moment it is written.
            let g = me.generation.load(Ordering::SeqCst);
            me.send(Job::Write(change, g));
        })
    }

    /// Waits (at most `timeout`) until every status set so far was written.
    pub fn flush(&self, timeout: std::time::Duration) {
        let (done, wait) = mpsc::channel();
        self.send(Job::Flush(done));
        let _ = wait.recv_timeout(timeout);
    }
}

fn write(store: &KafkaStatusStore, change: &StatusChange, generation: i32) {
    let (connector, task, record, safe) = match change {
        StatusChange::State {
            connector,
            task,
            status,
        } => {
            let safe = matches!(status.state, State::Unassigned | State::Failed);
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
            (connector, *task, record, safe)
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
            (connector, Some(*task), record, false)
        }
    };
    let written = if safe {
        store.put_safe(&record)
    } else {
        store.put(&record).map(|()| true)
    };
    match written {
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
