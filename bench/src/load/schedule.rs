//! Open-loop arithmetic: when each request is meant to be sent.
//!
//! `--rate R` over `C` connections gives each connection one request every `C / R` seconds;
//! connection `i` starts `i / R` seconds after the common start, so the sends of all connections
//! interleave evenly at `R` per second overall. Latency is measured from these intended times,
//! not from when the request actually left (wrk2's fix for coordinated omission): a server that
//! stalls for a second makes every request scheduled during that second late, and all of them
//! show in the percentiles.

use std::time::{Duration, Instant};

/// The fixed schedule of one connection.
#[derive(Clone, Debug)]
pub struct Schedule {
    first: Instant,
    interval_ns: u64,
    /// Index of the next request to send.
    next: u64,
}

impl Schedule {
    /// Connection `index` of `conns`, sharing `rate` requests per second from `start`.
    pub fn new(start: Instant, rate: f64, conns: usize, index: usize) -> Schedule {
        Schedule {
            first: start + offset(rate, index),
            interval_ns: interval_ns(rate, conns),
            next: 0,
        }
    }

    /// The intended send time of request `k` (computed from the start, so no drift accumulates).
    pub fn intended(&self, k: u64) -> Instant {
        let ns = u128::from(k) * u128::from(self.interval_ns);
        self.first + Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
    }

    /// The intended time of the next request; advances the schedule.
    pub fn take(&mut self) -> Instant {
        let t = self.intended(self.next);
        self.next += 1;
        t
    }

    /// Intended times of the requests not yet taken that fall before `end`.
    pub fn remaining_before(&self, end: Instant) -> impl Iterator<Item = Instant> + '_ {
        (self.next..)
            .map(|k| self.intended(k))
            .take_while(move |t| *t < end)
    }
}

/// Nanoseconds between two requests on one connection.
pub fn interval_ns(rate: f64, conns: usize) -> u64 {
    (conns as f64 * 1e9 / rate).round().max(1.0) as u64
}

/// The start offset of connection `index`: one overall interval per connection.
pub fn offset(rate: f64, index: usize) -> Duration {
    Duration::from_nanos((index as f64 * 1e9 / rate).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_and_offsets() {
        assert_eq!(interval_ns(1000.0, 10), 10_000_000);
        assert_eq!(interval_ns(3.0, 1), 333_333_333);
        assert_eq!(offset(1000.0, 3), Duration::from_millis(3));
    }

    #[test]
    fn all_connections_together_send_at_the_rate() {
        let start = Instant::now();
        let end = start + Duration::from_secs(2);
        let (rate, conns) = (1000.0, 7);
        let total: usize = (0..conns)
            .map(|i| {
                Schedule::new(start, rate, conns, i)
                    .remaining_before(end)
                    .count()
            })
            .sum();
        // 2 s at 1000/s, give or take one per connection at the edge.
        assert!((1993..=2007).contains(&total), "{total}");
    }

    #[test]
    fn sends_are_evenly_interleaved() {
        let start = Instant::now();
        let (rate, conns) = (100.0, 4);
        let mut times: Vec<Instant> = (0..conns)
            .flat_map(|i| {
                let mut s = Schedule::new(start, rate, conns, i);
                (0..5).map(move |_| s.take()).collect::<Vec<_>>()
            })
            .collect();
        times.sort();
        for w in times.windows(2) {
            assert_eq!(w[1] - w[0], Duration::from_millis(10));
        }
    }

    #[test]
    fn no_drift_over_many_requests() {
        let start = Instant::now();
        let s = Schedule::new(start, 3.0, 1, 0);
        // 3 per second: request 3000 is intended 1000 s after start, within 1 ms.
        let t = s.intended(3_000) - start;
        let want = Duration::from_secs(1_000);
        let diff = t.abs_diff(want);
        assert!(diff < Duration::from_millis(1), "{diff:?}");
    }
}
