//! socket.io-client's reconnection delay (the `backo2` formula), with saturating arithmetic.

use std::time::Duration;

/// Exponential backoff with jitter, exactly as socket.io-client computes it:
/// `delay = min · 2^attempt`, then a deviation `floor(r · jitter · delay)` subtracted when `floor(10r)`
/// is even and added when it is odd, then capped at `max`. The arithmetic saturates, so attempt 10 000
/// still yields `max` (never 0, never a wrap-around).
#[derive(Debug, Clone)]
pub struct ReconnectBackoff {
    min_ms: u64,
    max_ms: u64,
    jitter: f64,
    attempts: u32,
}

impl ReconnectBackoff {
    /// `jitter` is clamped to [0, 1].
    pub fn new(min_ms: u64, max_ms: u64, jitter: f64) -> Self {
        let jitter = if jitter.is_finite() { jitter.clamp(0.0, 1.0) } else { 0.0 };
        Self { min_ms, max_ms, jitter, attempts: 0 }
    }

    /// Attempts counted since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    pub fn reset(&mut self) {
        self.attempts = 0;
    }

    /// The delay before the next attempt, counting that attempt. `random` is uniform in [0, 1).
    pub fn next_delay(&mut self, random: f64) -> Duration {
        let delay = delay_ms(self.min_ms, self.max_ms, self.jitter, self.attempts, random);
        self.attempts = self.attempts.saturating_add(1);
        Duration::from_millis(delay)
    }
}

/// The pure formula: the delay in ms before attempt number `attempt` (counted from 0).
pub fn delay_ms(min_ms: u64, max_ms: u64, jitter: f64, attempt: u32, random: f64) -> u64 {
    let random = if random.is_finite() { random.clamp(0.0, 1.0 - f64::EPSILON) } else { 0.0 };
    // 2^64 · u64::MAX is still finite in f64, so nothing below can become infinite or NaN.
    let mut delay = min_ms as f64 * 2f64.powi(attempt.min(64) as i32);
    if jitter > 0.0 {
        let deviation = (random * jitter * delay).floor();
        let even = ((random * 10.0).floor() as u64) % 2 == 0;
        delay = if even { delay - deviation } else { delay + deviation };
    }
    let capped = delay.min(max_ms as f64).max(0.0);
    capped as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_jitter_doubles_then_caps() {
        let mut b = ReconnectBackoff::new(1000, 5000, 0.0);
        let got: Vec<u64> = (0..5).map(|_| b.next_delay(0.3).as_millis() as u64).collect();
        assert_eq!(got, vec![1000, 2000, 4000, 5000, 5000]);
        assert_eq!(b.attempts(), 5);
        b.reset();
        assert_eq!(b.next_delay(0.3), Duration::from_millis(1000));
    }

    #[test]
    fn jitter_matches_socket_io_client() {
        // r = 0.25: floor(2.5) = 2 is even, so the deviation is subtracted.
        assert_eq!(delay_ms(1000, 5000, 0.5, 0, 0.25), 1000 - 125);
        // r = 0.35: floor(3.5) = 3 is odd, so it is added.
        assert_eq!(delay_ms(1000, 5000, 0.5, 0, 0.35), 1000 + 175);
        // Above the cap after jitter: capped.
        assert_eq!(delay_ms(1000, 5000, 0.5, 3, 0.35), 5000);
        assert_eq!(delay_ms(1000, 10_000, 0.5, 3, 0.25), 7000);
    }

    #[test]
    fn defaults_stay_in_documented_ranges() {
        let ranges = [(500, 1500), (1000, 3000), (2000, 5000), (4000, 5000), (4000, 5000)];
        for (attempt, (lo, hi)) in ranges.iter().enumerate() {
            for i in 0..1000 {
                let r = i as f64 / 1000.0;
                let d = delay_ms(1000, 5000, 0.5, attempt as u32, r);
                assert!(d >= *lo && d <= *hi, "attempt {attempt} r {r}: {d}");
            }
        }
    }

    #[test]
    fn saturates_over_many_attempts() {
        let mut b = ReconnectBackoff::new(1000, 5000, 0.5);
        for i in 0..10_000u32 {
            let r = (i % 97) as f64 / 97.0;
            let d = b.next_delay(r).as_millis() as u64;
            if i >= 4 {
                assert!((2500..=5000).contains(&d), "attempt {i}: {d}");
            }
        }
        assert_eq!(delay_ms(u64::MAX, u64::MAX, 1.0, u32::MAX, 0.99), u64::MAX);
        assert_eq!(delay_ms(1, 10, 0.5, u32::MAX, f64::NAN), 10);
    }

    #[test]
    fn zero_delay_and_inverted_bounds() {
        assert_eq!(delay_ms(0, 5000, 0.5, 7, 0.9), 0);
        assert_eq!(delay_ms(1000, 100, 0.0, 0, 0.0), 100);
    }
}
