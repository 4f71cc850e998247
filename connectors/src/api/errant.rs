//! KIP-610's errant record reporter: how a sink task hands the runtime a record it could not
//! write, so that the runtime's error handling (`errors.tolerance`, the error log, the dead
//! letter queue, the error metrics) deals with it as with a record that failed conversion.
//!
//! A sink task gets one from [`SinkTaskContext::errant_record_reporter`](super::SinkTaskContext::errant_record_reporter),
//! which is `None` unless the connector configures a dead letter queue or `errors.log.enable`
//! (Connect's condition). A task that wants to run on older runtimes too falls back to failing
//! `put` when it gets `None`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::oneshot;

use crate::error::{ConnectError, ConnectResult};
use crate::record::SinkRecord;

/// Reports records a sink task failed to write.
pub trait ErrantRecordReporter: Send + Sync {
    /// Reports `record`, one handed to `put` (or a record the task made itself), as failed with
    /// `error`.
    ///
    /// `Err` when `errors.tolerance=none`: the task must fail, and does by returning that
    /// error from `put` (the runtime fails it after `put` all the same). Otherwise the report
    /// is under way; the returned future completes once it was written (to the dead letter
    /// queue, where there is one). Awaiting it is optional: the runtime commits the record's
    /// offset only after the report completed, whatever the task does.
    fn report(&self, record: &SinkRecord, error: ConnectError)
        -> ConnectResult<ErrantRecordFuture>;
}

/// Completes once a reported record was written where the runtime reports errors.
#[derive(Debug)]
pub struct ErrantRecordFuture {
    state: State,
}

#[derive(Debug)]
enum State {
    Done(Option<ConnectResult<()>>),
    Pending(oneshot::Receiver<ConnectResult<()>>),
}

impl ErrantRecordFuture {
    /// A report already complete (nothing to write, or written synchronously).
    pub fn completed(result: ConnectResult<()>) -> Self {
        ErrantRecordFuture {
            state: State::Done(Some(result)),
        }
    }

    /// A report completed by whoever holds the sender (the runtime, once its write is
    /// acknowledged).
    pub fn pending(receiver: oneshot::Receiver<ConnectResult<()>>) -> Self {
        ErrantRecordFuture {
            state: State::Pending(receiver),
        }
    }
}

impl Future for ErrantRecordFuture {
    type Output = ConnectResult<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            State::Done(result) => Poll::Ready(result.take().unwrap_or(Ok(()))),
            State::Pending(rx) => Pin::new(rx).poll(cx).map(|r| {
                r.unwrap_or_else(|_| {
                    Err(ConnectError::other(
                        "the errant record report was abandoned (the task is stopping)",
                    ))
                })
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_future_completes_with_what_the_runtime_sends_or_fails_when_abandoned() {
        assert_eq!(ErrantRecordFuture::completed(Ok(())).await, Ok(()));
        let (tx, rx) = oneshot::channel();
        let f = ErrantRecordFuture::pending(rx);
        tx.send(Err(ConnectError::other("no"))).unwrap();
        assert_eq!(f.await, Err(ConnectError::other("no")));
        let (tx, rx) = oneshot::channel::<ConnectResult<()>>();
        drop(tx);
        let e = ErrantRecordFuture::pending(rx).await.unwrap_err();
        assert!(e.to_string().contains("abandoned"), "{e}");
    }
}
