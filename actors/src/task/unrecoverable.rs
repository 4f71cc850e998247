//! Failures that a restart cannot cure.
//!
//! The supervisor restarts a failed task with backoff because most failures pass (a broker that
//! was away, a bug hit once). Some never pass by themselves: records the broker dropped before a
//! sink read them are gone, and restarting the task would only make it start at what is left,
//! turning a loud refusal into a silent skip. A task fails with [`Unrecoverable`] for those, and
//! the supervisor marks it FAILED at once with the cause. A user's explicit restart (REST) runs
//! the same checks again, so it fails again until the user decides (for example by allowing an
//! offset reset).

use thiserror::Error;

/// What made the task give up for good.
#[derive(Debug, Error)]
pub enum Unrecoverable {
    /// Records a sink had not read yet are no longer on the broker.
    #[error(
        "the broker no longer has records this sink had not yet read ({}). They were dropped \
         by retention (the embedded broker keeps only the last 5 MB or 100,000 messages of each \
         partition). kconnect does not skip data silently: set \
         consumer.override.auto.offset.reset=earliest (or latest) on the connector to allow a \
         reset",
        .0.join("; ")
    )]
    RecordsDropped(Vec<String>),
}

/// Whether a task's failure is one a restart cannot cure.
pub fn is_unrecoverable(err: &(dyn std::error::Error + 'static)) -> bool {
    err.downcast_ref::<Unrecoverable>().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_the_box_an_actor_failure_travels_in() {
        let boxed: ractor::ActorProcessingErr =
            Box::new(Unrecoverable::RecordsDropped(vec!["t-0: gone".into()]));
        assert!(is_unrecoverable(boxed.as_ref()));
        assert!(boxed.to_string().contains("t-0: gone"));
        let other: ractor::ActorProcessingErr = "a passing failure".into();
        assert!(!is_unrecoverable(other.as_ref()));
    }
}
