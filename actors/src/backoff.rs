//! Exponential backoff with jitter, the one way kconnect paces retries: the supervisors'
//! restarts (`restart.rs`), the group member's coordinator lookups and failed requests
//! (`cluster/group.rs`), and the retries of a failed record operation (`task/errors`).
//!
//! Attempt `n` (1-based) waits `initial × 2ⁿ⁻¹`, capped at `max`, then varied by up to
//! `jitter` of itself either way and capped at `max` again, as the Java client's
//! `ExponentialBackoff` does (multiplier 2). Connect's record retries vary differently (see
//! [`ExponentialBackoff::doubled_or_random_below_max`]): the same shape, drawn its own way.
//! Pure: the caller passes the random source, so tests can pin it.

use std::time::Duration;

use rand::Rng;

/// The shape of a backoff: where it starts, where it stops growing, how much it varies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExponentialBackoff {
    pub initial: Duration,
    pub max: Duration,
    /// 0.0..=1.0: the delay varies by up to this fraction either way; 0 for none.
    pub jitter: f64,
}

impl ExponentialBackoff {
    /// The delay before attempt `n` (1-based; 0 counts as 1) without jitter.
    pub fn base(&self, n: u32) -> Duration {
        // 2³⁰ × any initial worth having is beyond every cap; the shift must not overflow.
        let exp = n.saturating_sub(1).min(30);
        self.initial.saturating_mul(1u32 << exp).min(self.max)
    }

    /// The delay before attempt `n` (1-based), jitter drawn from `rng`.
    pub fn delay(&self, n: u32, rng: &mut impl Rng) -> Duration {
        let base = self.base(n);
        if self.jitter <= 0.0 || base.is_zero() {
            return base;
        }
        let factor = 1.0 + rng.random_range(-self.jitter..=self.jitter);
        base.mul_f64(factor.max(0.0)).min(self.max)
    }
}

impl ExponentialBackoff {
    /// The delay before attempt `n` (1-based; 0 counts as 1) as Connect's
    /// `RetryWithToleranceOperator` draws it: `initial × 2ⁿ⁻¹` while that stays within `max`,
    /// else a uniform random delay below `max` (zero when `max` is). `jitter` is not used.
    pub fn doubled_or_random_below_max(&self, n: u32, rng: &mut impl Rng) -> Duration {
        // Unlike `base`, the doubling is not capped: passing `max` is what switches to random.
        let doubled = 1u32
            .checked_shl(n.saturating_sub(1))
            .and_then(|f| self.initial.checked_mul(f));
        match doubled {
            Some(d) if d <= self.max => d,
            _ if self.max.is_zero() => Duration::ZERO,
            _ => rng.random_range(Duration::ZERO..self.max),
        }
    }
}

/// Attempts counted against one [`ExponentialBackoff`]: each failure waits longer, a
/// success starts over.
#[derive(Debug, Clone)]
pub struct Backoff {
    shape: ExponentialBackoff,
    /// Failures since the last reset.
    attempts: u32,
}

impl Backoff {
    pub fn new(shape: ExponentialBackoff) -> Self {
        Self { shape, attempts: 0 }
    }

    /// The wait after one more failure.
    pub fn next_delay(&mut self, rng: &mut impl Rng) -> Duration {
        self.attempts = self.attempts.saturating_add(1);
        self.shape.delay(self.attempts, rng)
    }

    /// After a success: the next failure waits the initial delay again.
    pub fn reset(&mut self) {
        self.attempts = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn shape(jitter: f64) -> ExponentialBackoff {
        ExponentialBackoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(1000),
            jitter,
        }
    }

    fn ms(d: Duration) -> u128 {
        d.as_millis()
    }

    #[test]
    fn doubles_from_the_initial_delay_up_to_the_cap() {
        let b = shape(0.0);
        let mut rng = StdRng::seed_from_u64(1);
        let got: Vec<u128> = (1..=6).map(|n| ms(b.delay(n, &mut rng))).collect();
        assert_eq!(got, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(ms(b.base(0)), 100, "attempt 0 counts as the first");
    }

    #[test]
    fn huge_attempt_counts_stay_at_the_cap() {
        let b = shape(0.0);
        assert_eq!(b.base(40), Duration::from_millis(1000));
        assert_eq!(b.base(u32::MAX), Duration::from_millis(1000));
        let unbounded = ExponentialBackoff {
            max: Duration::MAX,
            ..b
        };
        // 100 ms × 2³⁰: the shift stops growing instead of overflowing.
        assert_eq!(
            unbounded.base(u32::MAX),
            Duration::from_millis(100) * (1 << 30)
        );
    }

    #[test]
    fn jitter_stays_within_its_fraction_and_under_the_cap() {
        let b = shape(0.5);
        let mut rng = StdRng::seed_from_u64(7);
        let first: Vec<u128> = (0..500).map(|_| ms(b.delay(1, &mut rng))).collect();
        assert!(first.iter().all(|d| (50..=150).contains(d)), "{first:?}");
        // It does vary: members that failed together do not retry in lockstep.
        assert!(first.iter().any(|d| *d < 90) && first.iter().any(|d| *d > 110));
        let capped: Vec<u128> = (0..500).map(|_| ms(b.delay(5, &mut rng))).collect();
        assert!(
            capped.iter().all(|d| (500..=1000).contains(d)),
            "{capped:?}"
        );
    }

    #[test]
    fn a_zero_initial_delay_never_waits() {
        let b = ExponentialBackoff {
            initial: Duration::ZERO,
            ..shape(0.5)
        };
        let mut rng = StdRng::seed_from_u64(3);
        assert_eq!(b.delay(1, &mut rng), Duration::ZERO);
        assert_eq!(b.delay(9, &mut rng), Duration::ZERO);
    }

    #[test]
    fn connect_s_record_retries_double_then_draw_below_the_cap() {
        let b = ExponentialBackoff {
            initial: Duration::from_millis(300),
            max: Duration::from_millis(1000),
            jitter: 0.0,
        };
        let mut rng = StdRng::seed_from_u64(11);
        assert_eq!(ms(b.doubled_or_random_below_max(1, &mut rng)), 300);
        assert_eq!(ms(b.doubled_or_random_below_max(2, &mut rng)), 600);
        // 1200 ms would pass the cap: random below it, for every later attempt too.
        let drawn: Vec<u128> = [3, 4, 40, 500]
            .into_iter()
            .chain(std::iter::repeat_n(3, 200))
            .map(|n| ms(b.doubled_or_random_below_max(n, &mut rng)))
            .collect();
        assert!(drawn.iter().all(|d| *d < 1000), "{drawn:?}");
        assert!(drawn.iter().any(|d| *d < 300), "drawn from zero: {drawn:?}");
        // A doubling exactly at the cap is kept, not drawn.
        let at_cap = ExponentialBackoff {
            max: Duration::from_millis(600),
            ..b
        };
        assert_eq!(ms(at_cap.doubled_or_random_below_max(2, &mut rng)), 600);
        let no_delay = ExponentialBackoff {
            max: Duration::ZERO,
            ..b
        };
        assert_eq!(
            no_delay.doubled_or_random_below_max(1, &mut rng),
            Duration::ZERO
        );
        assert_eq!(
            no_delay.doubled_or_random_below_max(9, &mut rng),
            Duration::ZERO
        );
    }

    #[test]
    fn counted_attempts_grow_and_start_over_after_a_reset() {
        let mut b = Backoff::new(shape(0.0));
        let mut rng = StdRng::seed_from_u64(5);
        let got: Vec<u128> = (0..5).map(|_| ms(b.next_delay(&mut rng))).collect();
        assert_eq!(got, vec![100, 200, 400, 800, 1000]);
        b.reset();
        assert_eq!(ms(b.next_delay(&mut rng)), 100);
        assert_eq!(ms(b.next_delay(&mut rng)), 200);
    }
}
