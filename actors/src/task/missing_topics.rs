//! A sink's listed `topics` that the cluster does not have (yet).
//!
//! Connect's sink consumer subscribes and waits, its client logging an
//! `UNKNOWN_TOPIC_OR_PARTITION` warning at every metadata refresh, while the task shows RUNNING
//! with nothing in its status. kconnect says it once instead: a WARN naming the topic and the
//! connector when a topic is first seen missing, an INFO when it appears, and, while any is
//! missing, a trace on the RUNNING task's status saying what it waits for. The task keeps
//! running and takes the topic's partitions at the next metadata refresh after it is created.
//!
//! `topics.regex` sinks are not covered: a regex matching nothing yet is not an error.

use std::collections::BTreeSet;

/// What changed at one metadata refresh.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Change {
    /// Topics missing now that were not before.
    pub gone: Vec<String>,
    /// Topics that were missing and now exist.
    pub appeared: Vec<String>,
}

impl Change {
    pub fn is_empty(&self) -> bool {
        self.gone.is_empty() && self.appeared.is_empty()
    }
}

/// The listed topics missing at the last metadata refresh.
#[derive(Debug, Default)]
pub struct MissingTopics {
    missing: BTreeSet<String>,
}

impl MissingTopics {
    /// Records which of `listed` are missing, given the topics the cluster has (`exists`).
    pub fn update<'a>(
        &mut self,
        listed: impl IntoIterator<Item = &'a String>,
        exists: impl Fn(&str) -> bool,
    ) -> Change {
        let now: BTreeSet<String> = listed.into_iter().filter(|t| !exists(t)).cloned().collect();
        let change = Change {
            gone: now.difference(&self.missing).cloned().collect(),
            appeared: self.missing.difference(&now).cloned().collect(),
        };
        self.missing = now;
        change
    }

    /// Whether every listed topic existed at the last refresh.
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty()
    }

    /// The status trace while topics are missing: what the task waits for.
    pub fn trace(&self, connector: &str) -> Option<String> {
        if self.missing.is_empty() {
            return None;
        }
        Some(waiting_message(
            &self.missing.iter().cloned().collect::<Vec<_>>(),
            connector,
        ))
    }
}

/// "Topic t does not exist: …", for the log and the status trace.
pub fn waiting_message(topics: &[String], connector: &str) -> String {
    let (noun, verb) = if topics.len() == 1 {
        ("Topic", "does")
    } else {
        ("Topics", "do")
    };
    format!(
        "{noun} {} {verb} not exist: sink connector {connector} is waiting for it and starts \
         consuming once it is created",
        topics.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reports_each_transition_once() {
        let topics = listed(&["a", "b"]);
        let mut m = MissingTopics::default();
        let c = m.update(&topics, |t| t == "a");
        assert_eq!(c.gone, ["b"]);
        assert!(c.appeared.is_empty());
        let trace = m.trace("s").unwrap();
        assert!(
            trace.starts_with("Topic b does not exist") && trace.contains("connector s"),
            "{trace}"
        );
        // Still missing: nothing new to say.
        assert!(m.update(&topics, |t| t == "a").is_empty());
        let c = m.update(&topics, |_| true);
        assert_eq!(c.appeared, ["b"]);
        assert_eq!(m.trace("s"), None);
        assert!(m.update(&topics, |_| true).is_empty());
    }

    #[test]
    fn names_every_missing_topic() {
        let mut m = MissingTopics::default();
        m.update(&listed(&["x", "y"]), |_| false);
        assert!(m
            .trace("s")
            .unwrap()
            .starts_with("Topics x, y do not exist"));
    }
}
