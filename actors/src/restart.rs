//! The restart policy of supervisors: exponential backoff with jitter, and an intensity limit
//! (at most `max_restarts` restarts within `window`) after which the child is marked FAILED.
//! The delays are `backoff.rs`'s, shared with the group member's retries.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rand::Rng;

use crate::backoff::ExponentialBackoff;

#[derive(Debug, Clone, PartialEq)]
pub struct RestartPolicy {
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// 0.0..=1.0: the delay varies by up to this fraction either way.
    pub jitter: f64,
    pub max_restarts: u32,
    pub window: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_secs(30),
            jitter: 0.2,
            max_restarts: 10,
            window: Duration::from_secs(300),
        }
    }
}

impl RestartPolicy {
    /// The delays between restarts.
    pub fn backoff(&self) -> ExponentialBackoff {
        ExponentialBackoff {
            initial: self.initial_backoff,
            max: self.max_backoff,
            jitter: self.jitter,
        }
    }
}

/// What to do after a failure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RestartDecision {
    RestartAfter(Duration),
    GiveUp,
}

/// The failures of one child within the policy's window.
#[derive(Debug, Default, Clone)]
pub struct RestartTracker {
    failures: VecDeque<Instant>,
    /// Restarts over the child's whole life, for its status.
    pub total_restarts: u32,
}

impl RestartTracker {
    /// Records a failure at `now` and decides.
    pub fn on_failure(&mut self, policy: &RestartPolicy, now: Instant) -> RestartDecision {
        while let Some(first) = self.failures.front() {
            if now.duration_since(*first) > policy.window {
                self.failures.pop_front();
            } else {
                break;
            }
        }
        self.failures.push_back(now);
        let recent = self.failures.len() as u32;
        if recent > policy.max_restarts {
            return RestartDecision::GiveUp;
        }
        self.total_restarts += 1;
        RestartDecision::RestartAfter(backoff(policy, recent, &mut rand::rng()))
    }
}

/// The delay before restart number `n` (1-based) within the window.
pub fn backoff(policy: &RestartPolicy, n: u32, rng: &mut impl Rng) -> Duration {
    policy.backoff().delay(n, rng)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RestartPolicy {
        RestartPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            jitter: 0.0,
            max_restarts: 3,
            window: Duration::from_secs(10),
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = policy();
        let mut rng = rand::rng();
        let got: Vec<u128> = (1..=6)
            .map(|n| backoff(&p, n, &mut rng).as_millis())
            .collect();
        assert_eq!(got, vec![100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn jitter_stays_within_its_fraction() {
        let p = RestartPolicy {
            jitter: 0.5,
            ..policy()
        };
        let mut rng = rand::rng();
        for _ in 0..200 {
            let d = backoff(&p, 1, &mut rng).as_millis();
            assert!((50..=150).contains(&d), "{d}");
        }
    }

    #[test]
    fn gives_up_after_max_restarts_within_the_window() {
        let p = policy();
        let mut t = RestartTracker::default();
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(matches!(
                t.on_failure(&p, t0 + Duration::from_millis(i)),
                RestartDecision::RestartAfter(_)
            ));
        }
        assert_eq!(
            t.on_failure(&p, t0 + Duration::from_millis(4)),
            RestartDecision::GiveUp
        );
        assert_eq!(t.total_restarts, 3);
    }

    #[test]
    fn failures_outside_the_window_are_forgotten() {
        let p = policy();
        let mut t = RestartTracker::default();
        let t0 = Instant::now();
        for i in 0..3 {
            t.on_failure(&p, t0 + Duration::from_millis(i));
        }
        // Eleven seconds later the old failures have left the window.
        let d = t.on_failure(&p, t0 + Duration::from_secs(11));
        assert_eq!(d, RestartDecision::RestartAfter(Duration::from_millis(100)));
    }
}
