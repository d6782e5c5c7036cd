//! Latency histograms per backend and per server, on each core (hdrhistogram, microseconds),
//! and their merge into the report's `Distribution`s.
//!
//! A histogram is not something another core can read while this one writes it, so each core
//! fills its own and publishes a copy once a second (`CoreStats::publish_latency`); reports
//! merge the copies. Percentiles are therefore up to a second old; counts in the CSV are not
//! (they come from counters.rs).

use hdrhistogram::Histogram;

use super::snapshot::{Distribution, Latency, BUCKETS_S};
use crate::config::model::Model;

/// Samples above this (an hour, in microseconds) are counted at the top.
const MAX_US: u64 = 3_600_000_000;
/// 2 significant digits: percentiles within 1%, about 2,300 counts per histogram.
const SIGFIG: u8 = 2;

/// The three latencies of one backend or server.
#[derive(Clone, Debug)]
pub struct Triple {
    pub connect: Histogram<u64>,
    pub first_byte: Histogram<u64>,
    pub total: Histogram<u64>,
}

impl Triple {
    fn new() -> Option<Self> {
        let h = || Histogram::new_with_bounds(1, MAX_US, SIGFIG).ok();
        Some(Triple {
            connect: h()?,
            first_byte: h()?,
            total: h()?,
        })
    }

    fn add(&mut self, other: &Triple) {
        // Same bounds on every core: adding cannot fail.
        let _ = self.connect.add(&other.connect);
        let _ = self.first_byte.add(&other.first_byte);
        let _ = self.total.add(&other.total);
    }
}

/// What one request adds, in microseconds; `None` where the phase was not reached.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sample {
    pub connect_us: Option<u64>,
    pub first_byte_us: Option<u64>,
    pub total_us: Option<u64>,
}

fn record(h: &mut Histogram<u64>, v: Option<u64>) {
    if let Some(v) = v {
        h.saturating_record(v.clamp(1, MAX_US));
    }
}

impl Triple {
    fn record(&mut self, s: &Sample) {
        record(&mut self.connect, s.connect_us);
        record(&mut self.first_byte, s.first_byte_us);
        record(&mut self.total, s.total_us);
    }
}

/// One core's histograms: per backend, and per backend per server; made on first use, so a
/// backend without traffic costs nothing.
#[derive(Clone, Debug, Default)]
pub struct LatencyTables {
    pub backends: Vec<Option<Triple>>,
    pub servers: Vec<Vec<Option<Triple>>>,
}

impl LatencyTables {
    pub fn new(model: &Model) -> Self {
        LatencyTables {
            backends: vec![None; model.backends.len()],
            servers: model
                .backends
                .iter()
                .map(|b| vec![None; b.slot_count()])
                .collect(),
        }
    }

    pub fn record(&mut self, backend: usize, server: Option<usize>, s: &Sample) {
        if let Some(slot) = self.backends.get_mut(backend) {
            fill(slot, s);
        }
        if let Some(slot) = server.and_then(|i| self.servers.get_mut(backend)?.get_mut(i)) {
            fill(slot, s);
        }
    }
}

fn fill(slot: &mut Option<Triple>, s: &Sample) {
    if slot.is_none() {
        *slot = Triple::new();
    }
    if let Some(t) = slot {
        t.record(s);
    }
}

/// Adds `part` into `into` (both per backend or per server of one backend).
fn merge_slot(into: &mut Option<Triple>, part: &Option<Triple>) {
    match (into.as_mut(), part) {
        (_, None) => {}
        (None, Some(p)) => *into = Some(p.clone()),
        (Some(i), Some(p)) => i.add(p),
    }
}

/// The cores' published tables merged into one.
pub fn merge<'a>(parts: impl Iterator<Item = &'a LatencyTables>, model: &Model) -> LatencyTables {
    let mut all = LatencyTables::new(model);
    for p in parts {
        for (i, b) in p.backends.iter().enumerate() {
            if let Some(slot) = all.backends.get_mut(i) {
                merge_slot(slot, b);
            }
        }
        for (bi, list) in p.servers.iter().enumerate() {
            for (si, s) in list.iter().enumerate() {
                if let Some(slot) = all.servers.get_mut(bi).and_then(|l| l.get_mut(si)) {
                    merge_slot(slot, s);
                }
            }
        }
    }
    all
}

/// A histogram as the report shows it: percentiles and the exporter's cumulative buckets.
pub fn distribution(h: &Histogram<u64>) -> Distribution {
    let count = h.len();
    if count == 0 {
        return Distribution {
            buckets: vec![0; BUCKETS_S.len()],
            ..Distribution::default()
        };
    }
    let sum: f64 = h
        .iter_recorded()
        .map(|v| v.value_iterated_to() as f64 * v.count_at_value() as f64)
        .sum();
    Distribution {
        count,
        sum_us: sum as u64,
        p50_us: h.value_at_quantile(0.50),
        p90_us: h.value_at_quantile(0.90),
        p99_us: h.value_at_quantile(0.99),
        p999_us: h.value_at_quantile(0.999),
        max_us: h.max(),
        buckets: BUCKETS_S
            .iter()
            .map(|le| h.count_between(0, (le * 1e6) as u64))
            .collect(),
    }
}

/// A backend's or server's three distributions, when it had traffic.
pub fn latency(t: &Option<Triple>) -> Option<Latency> {
    let t = t.as_ref()?;
    Some(Latency {
        connect: distribution(&t.connect),
        first_byte: distribution(&t.first_byte),
        total: distribution(&t.total),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_buckets_of_known_samples() {
        let mut t = Triple::new().map(Some).unwrap_or(None);
        let s = |us| Sample {
            connect_us: Some(us),
            first_byte_us: Some(us),
            total_us: Some(us),
        };
        for us in 1..=1000u64 {
            fill(&mut t, &s(us * 10)); // 10 us .. 10 ms
        }
        let l = latency(&t).unwrap_or_default();
        let d = &l.total;
        assert_eq!(d.count, 1000);
        assert!((4900..=5100).contains(&d.p50_us), "p50 {}", d.p50_us);
        assert!((9800..=10100).contains(&d.p99_us), "p99 {}", d.p99_us);
        // 1 ms bound: the first 100 samples; cumulative, ending at the count.
        let at_1ms = d.buckets[BUCKETS_S.iter().position(|b| *b == 0.001).unwrap_or(0)];
        assert!((99..=101).contains(&at_1ms), "{at_1ms}");
        assert!(d.buckets.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(*d.buckets.last().unwrap_or(&0), 1000);
    }

    #[test]
    fn merged_cores_add_up() {
        let mut a = Triple::new();
        let mut b = Triple::new();
        let s = Sample {
            total_us: Some(500),
            ..Sample::default()
        };
        fill(&mut a, &s);
        fill(&mut b, &s);
        fill(&mut b, &s);
        let mut into = None;
        merge_slot(&mut into, &a);
        merge_slot(&mut into, &b);
        let l = latency(&into).unwrap_or_default();
        assert_eq!((l.total.count, l.connect.count), (3, 0));
    }
}
