//! What a timed phase measured: its requests, how many counted, how long they took, and
//! their latencies. Both load drivers answer one: the pooled client's (`load`) and the
//! lean one (`raw`).

use std::time::Duration;

/// Request latencies, in milliseconds.
#[derive(Default)]
pub struct Latencies(Vec<f64>);

impl Latencies {
    pub fn from_durations(durations: impl Iterator<Item = Duration>) -> Self {
        Self(durations.map(|d| d.as_secs_f64() * 1000.0).collect())
    }

    pub fn percentile(&self, p: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        let mut sorted = self.0.clone();
        sorted.sort_by(f64::total_cmp);
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        let value = sorted[rank.clamp(1, sorted.len()) - 1];
        (value * 1000.0).round() / 1000.0
    }
}

/// One timed phase.
#[derive(Default)]
pub struct Phase {
    pub requests: usize,
    pub ok: usize,
    pub elapsed: Duration,
    pub latencies: Latencies,
    /// Session cookies of the successful redeems.
    pub cookies: Vec<String>,
}

impl Phase {
    pub fn per_second(&self) -> f64 {
        (self.ok as f64 / self.elapsed.as_secs_f64()).round()
    }

    /// One phase run in slices: the requests, times and latencies of all of them.
    pub fn absorb(&mut self, slice: Phase) {
        self.requests += slice.requests;
        self.ok += slice.ok;
        self.elapsed += slice.elapsed;
        self.latencies.0.extend(slice.latencies.0);
        self.cookies.extend(slice.cookies);
    }
}
