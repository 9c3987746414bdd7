//! Whether two kinds of request take the same time: the check behind every "this answer's
//! timing tells nothing" claim. One call proves nothing (a busy machine moves it by
//! milliseconds), nor does one median; two distributions, measured interleaved in the
//! same run so that whatever else the machine does falls on both alike, compared at
//! their middle and their upper tail.

use std::time::Duration;

/// The quantiles compared: the middle, and the tail a leak of extra work would move first
/// (the work adds to every call of its kind).
const QUANTILES: [(f64, &str); 2] = [(0.5, "p50"), (0.9, "p90")];

/// How far apart two quantiles may be: `floor` plus `share` of the larger, so a machine
/// loaded by other tests (which stretches both alike) does not fail the check, while
/// work one case does and the other does not (a transaction, a few statements) does.
#[derive(Debug, Clone, Copy)]
pub struct Tolerance {
    pub floor: Duration,
    pub share: f64,
}

/// The samples of two cases, taken in pairs.
pub struct Interleaved {
    names: [&'static str; 2],
    samples: [Vec<Duration>; 2],
}

impl Interleaved {
    pub fn new(first: &'static str, second: &'static str) -> Self {
        Self {
            names: [first, second],
            samples: [Vec::new(), Vec::new()],
        }
    }

    /// The order of round `round`'s pair: alternately first-then-second and
    /// second-then-first, so neither case always runs just after the other.
    pub fn order(round: usize) -> [usize; 2] {
        if round.is_multiple_of(2) {
            [0, 1]
        } else {
            [1, 0]
        }
    }

    pub fn record(&mut self, case: usize, took: Duration) {
        self.samples[case].push(took);
    }

    /// Fails unless both cases agree at every compared quantile within `tolerance`;
    /// prints both distributions either way.
    pub fn assert_same(&self, tolerance: Tolerance) {
        let mut sorted = self.samples.clone();
        for samples in &mut sorted {
            samples.sort();
            assert!(!samples.is_empty(), "no samples");
        }
        let at = |case: usize, q: f64| {
            let samples = &sorted[case];
            samples[((samples.len() - 1) as f64 * q).round() as usize]
        };
        let shown: Vec<String> = (0..2)
            .map(|case| {
                let quantiles: Vec<String> = QUANTILES
                    .iter()
                    .map(|&(q, name)| format!("{name} {:?}", at(case, q)))
                    .collect();
                format!(
                    "{} ({} calls): {}",
                    self.names[case],
                    sorted[case].len(),
                    quantiles.join(", ")
                )
            })
            .collect();
        let shown = shown.join("; ");
        eprintln!("{shown}");
        for (q, name) in QUANTILES {
            let (a, b) = (at(0, q), at(1, q));
            let allowed = tolerance.floor + a.max(b).mul_f64(tolerance.share);
            assert!(
                a.abs_diff(b) <= allowed,
                "{name} differs by {:?}, more than {allowed:?} ({tolerance:?}): {shown}",
                a.abs_diff(b)
            );
        }
    }
}
