//! Whether two kinds of request take the same time: the check behind every "this answer's
//! timing tells nothing" claim. One call proves nothing (a busy machine moves it by
//! milliseconds), nor does one median; two distributions, measured interleaved in the
//! same run so that whatever else the machine does falls on both alike, compared at
//! their middle and their upper tail.

use std::time::Duration;

/// The quantiles compared: the middle, and the tail a leak of extra work would move first
/// (the work adds to every call of its kind).
const QUANTILES: [(f64, &str); 2] = [(0.5, "p50"), (0.9, "p90")];

/// How far apart two quantiles may be: `floor`, plus `share` of the larger (a machine
/// loaded by other tests stretches both cases alike), plus three standard errors of
/// the difference as the samples themselves show it (the busier the machine, the wider
/// the spread, and the less a difference of that size says). Work one case does and the
/// other does not (a transaction, a few statements) still shows: it moves every call of
/// its case, where load moves calls of both at random.
#[derive(Debug, Clone, Copy)]
pub struct Tolerance {
    pub floor: Duration,
    pub share: f64,
}

/// The standard error of the `q` quantile of `sorted`: `sqrt(q(1-q)/n)` over the
/// density there, the density read from the quantiles 5 points either side.
fn standard_error(sorted: &[Duration], q: f64) -> f64 {
    let at = |q: f64| {
        let q = q.clamp(0.0, 1.0);
        sorted[((sorted.len() - 1) as f64 * q).round() as usize].as_secs_f64()
    };
    let (lower, upper) = ((q - 0.05).max(0.0), (q + 0.05).min(1.0));
    let per_unit = (at(upper) - at(lower)) / (upper - lower);
    (q * (1.0 - q) / sorted.len() as f64).sqrt() * per_unit
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

    /// The order of the calls: each case `per_case` times, shuffled (splitmix64 from a
    /// fixed seed: the same every run). Not in pairs: with a pair's order flipped by a
    /// coin, the call after an A is a B three times in four (the rest of its own pair,
    /// or half the time the next pair's first), and whatever an A leaves running after
    /// its answer (a mail being sent) falls mostly on B. Shuffled, the call after either
    /// case is either case alike.
    pub fn sequence(per_case: usize) -> Vec<usize> {
        let mut calls: Vec<usize> = (0..2 * per_case).map(|i| i % 2).collect();
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        for i in (1..calls.len()).rev() {
            let j = (next() % (i as u64 + 1)) as usize;
            calls.swap(i, j);
        }
        calls
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
            let error = standard_error(&sorted[0], q).hypot(standard_error(&sorted[1], q));
            let allowed = tolerance.floor
                + a.max(b).mul_f64(tolerance.share)
                + Duration::from_secs_f64(3.0 * error);
            eprintln!("{name}: {:?} apart, {allowed:?} allowed", a.abs_diff(b));
            assert!(
                a.abs_diff(b) <= allowed,
                "{name} differs by {:?}, more than {allowed:?} ({tolerance:?}, standard error \
                 {:?}): {shown}",
                a.abs_diff(b),
                Duration::from_secs_f64(error)
            );
        }
    }
}

#[test]
fn the_sequence_holds_each_case_as_often_and_follows_either_with_either_alike() {
    let calls = Interleaved::sequence(200);
    assert_eq!(calls.iter().filter(|&&case| case == 0).count(), 200);
    assert_eq!(calls.len(), 400);
    for case in [0, 1] {
        let after: Vec<usize> = calls
            .windows(2)
            .filter(|pair| pair[0] == case)
            .map(|pair| pair[1])
            .collect();
        let same = after.iter().filter(|&&next| next == case).count();
        let share = same as f64 / after.len() as f64;
        assert!((0.4..=0.6).contains(&share), "after case {case}: {share}");
    }
}
