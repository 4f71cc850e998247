//! Names of the actors a worker spawns, so that ractor's own messages (a panic, a failure, a
//! supervision event) and `GET /admin/worker` say which actor is which:
//! `worker@127.0.0.1:8083#1`, `connector:orders@127.0.0.1:8083#7`, `task:orders-0@…#9`,
//! `committer:orders-0@…#10`.
//!
//! ractor registers a named actor in a registry of the process and refuses a second actor of a
//! name still registered. One process may run several workers with one worker id (the tests,
//! `kconnect bench`), and a restarted task's new actor may start before its predecessor is
//! unregistered: so every name ends with a number of its own (`#n`), counted per process.

use std::sync::atomic::{AtomicU64, Ordering};

static NEXT: AtomicU64 = AtomicU64::new(1);

/// `{kind}:{what}@{worker}#{n}`; `what` is left out when empty.
fn name(kind: &str, what: &str, worker: &str) -> String {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    if what.is_empty() {
        format!("{kind}@{worker}#{n}")
    } else {
        format!("{kind}:{what}@{worker}#{n}")
    }
}

/// The worker's root actor.
pub fn worker(worker: &str) -> String {
    name("worker", "", worker)
}

/// A connector's supervisor.
pub fn supervisor(worker: &str, connector: &str) -> String {
    name("supervisor", connector, worker)
}

/// A connector instance.
pub fn connector(worker: &str, connector: &str) -> String {
    name("connector", connector, worker)
}

/// A task, named as Connect names it (`connector-id`).
pub fn task(worker: &str, connector: &str, id: u32) -> String {
    name("task", &format!("{connector}-{id}"), worker)
}

/// A source task's offset committer.
pub fn committer(worker: &str, connector: &str, id: u32) -> String {
    name("committer", &format!("{connector}-{id}"), worker)
}

/// The distributed herder.
pub fn herder(worker: &str) -> String {
    name("herder", "", worker)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_say_what_and_where_and_never_repeat() {
        let a = task("127.0.0.1:8083", "orders", 0);
        let b = task("127.0.0.1:8083", "orders", 0);
        assert!(a.starts_with("task:orders-0@127.0.0.1:8083#"), "{a}");
        assert_ne!(a, b, "a restarted task's actor gets a name of its own");
        assert!(worker("w:1").starts_with("worker@w:1#"));
        assert!(committer("w:1", "c", 2).starts_with("committer:c-2@w:1#"));
    }
}
