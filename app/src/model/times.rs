//! Times as people read them, computed the same on the server and in the browser.

/// Formats unix seconds as `2026-11-25 14:03 UTC`, identically on server and client.
pub fn format_utc(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// "in 23 hours", "5 minutes ago", "just now": how far `at` is from `now`, roughly.
pub fn relative_time(at: i64, now: i64) -> String {
    let delta = at - now;
    let secs = delta.abs();
    if secs < 60 {
        return "just now".to_owned();
    }
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    // Rounded to the nearest unit: a link made a second ago expires "in 24 hours".
    let round = |unit: i64| (secs + unit / 2) / unit;
    let amount = if secs < 3600 - 30 {
        plural(round(60), "minute")
    } else if secs < 2 * 86_400 - 1800 {
        plural(round(3600), "hour")
    } else {
        plural(round(86_400), "day")
    };
    if delta > 0 {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

/// Howard Hinnant's days-to-civil algorithm: small, exact, and no date crate in the WASM.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting_matches_known_dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(format_utc(1_795_615_380), "2026-11-25 14:03 UTC");
    }

    #[test]
    fn relative_times_read_naturally() {
        assert_eq!(relative_time(1_000, 1_000), "just now");
        assert_eq!(relative_time(1_000 + 59, 1_000), "just now");
        assert_eq!(relative_time(1_000 + 60, 1_000), "in 1 minute");
        assert_eq!(relative_time(1_000 - 140, 1_000), "2 minutes ago");
        assert_eq!(
            relative_time(86_400 + 23 * 3600 + 100, 86_400),
            "in 23 hours"
        );
        assert_eq!(relative_time(24 * 3600 - 1, 0), "in 24 hours");
        assert_eq!(relative_time(0, 7 * 86_400), "7 days ago");
        assert_eq!(relative_time(7 * 86_400 - 60, 0), "in 7 days");
        assert_eq!(relative_time(47 * 3600, 0), "in 47 hours");
        assert_eq!(relative_time(3599, 0), "in 1 hour");
    }
}
