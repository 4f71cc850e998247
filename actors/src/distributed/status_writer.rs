//! Statuses this worker sets go to the status topic from a thread of their own: writing waits for
//! the broker's acknowledgement, which no actor should wait on.
//!
//! As Connect's `AbstractHerder` does, UNASSIGNED and FAILED are written safely (never over a
//! status another worker wrote in a newer generation); the others always are.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use crate::status::{State, StatusChange, StatusListener};
use crate::storage::kafka::{KafkaStatusStore, Status, StatusRecord};

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
    let status = Some(Status {
        state: change.status.state,
        trace: change.status.trace.clone(),
        worker_id: change.status.worker_id.clone(),
        generation,
    });
    let record = match change.task {
        None => StatusRecord::Connector {
            connector: change.connector.clone(),
            status,
        },
        Some(task) => StatusRecord::Task {
            connector: change.connector.clone(),
            task,
            status,
        },
    };
    let safe = matches!(change.status.state, State::Unassigned | State::Failed);
    let result = if safe {
        store.put_safe(&record).map(|_| ())
    } else {
        store.put(&record)
    };
    if let Err(e) = result {
        tracing::warn!(connector = %change.connector, task = ?change.task, "cannot write status: {e}");
    }
}
