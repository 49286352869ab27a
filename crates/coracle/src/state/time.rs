//! Wall-clock timestamps in runc's format, without a date crate.

use std::time::{SystemTime, UNIX_EPOCH};

/// The current UTC time as RFC 3339 with nanoseconds, as runc writes `created`:
/// `2024-01-02T03:04:05.123456789Z`.
///
/// Like Go's `RFC3339Nano` (which runc's JSON uses), trailing zeros of the
/// fraction are dropped and a whole second has no fraction at all.
pub fn now_rfc3339() -> String {
    // SystemTime::now is clock_gettime(CLOCK_REALTIME).
    let (secs, nanos) = match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        Err(e) => {
            // Before 1970: count back from the epoch.
            let d = e.duration();
            let (s, n) = (d.as_secs() as i64, d.subsec_nanos());
            if n == 0 {
                (-s, 0)
            } else {
                (-s - 1, 1_000_000_000 - n)
            }
        }
    };
    format_rfc3339(secs, nanos)
}

/// Format seconds since the epoch plus `nanos` (< 10^9) as RFC 3339 UTC.
pub(crate) fn format_rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    );
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// (year, month, day) of the day `days` after 1970-01-01 in the proleptic
/// Gregorian calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365], from March 1
    let mp = (5 * doy + 2) / 153; // [0, 11], March = 0
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(format_rfc3339(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(-1, 0), "1969-12-31T23:59:59Z");
        assert_eq!(format_rfc3339(951_782_400, 0), "2000-02-29T00:00:00Z");
        assert_eq!(format_rfc3339(951_868_800, 0), "2000-03-01T00:00:00Z");
        assert_eq!(
            format_rfc3339(1_704_164_645, 123_456_789),
            "2024-01-02T03:04:05.123456789Z"
        );
        assert_eq!(format_rfc3339(4_102_444_800, 0), "2100-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(253_402_300_799, 0), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn fraction_drops_trailing_zeros_like_go() {
        assert_eq!(format_rfc3339(0, 120_000_000), "1970-01-01T00:00:00.12Z");
        assert_eq!(format_rfc3339(0, 1), "1970-01-01T00:00:00.000000001Z");
        assert_eq!(
            format_rfc3339(0, 999_999_990),
            "1970-01-01T00:00:00.99999999Z"
        );
    }

    /// Walk day by day from 1900 to 2300 with a naive calendar and compare.
    #[test]
    fn civil_from_days_matches_naive_calendar() {
        let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let month_len = |y: i64, m: u32| match m {
            2 if leap(y) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        // 1900-01-01 is 25567 days before the epoch.
        let (mut y, mut m, mut d) = (1900i64, 1u32, 1u32);
        for days in -25_567..(146_097 - 25_567) {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            d += 1;
            if d > month_len(y, m) {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
        assert_eq!((y, m, d), (2300, 1, 1));
    }

    #[test]
    fn now_is_well_formed_and_recent() {
        let now = now_rfc3339();
        let b = now.as_bytes();
        assert!(now.ends_with('Z'), "{now}");
        assert_eq!(
            (b[4], b[7], b[10], b[13], b[16]),
            (b'-', b'-', b'T', b':', b':'),
            "{now}"
        );
        let year: i64 = now[..4].parse().unwrap();
        assert!((2024..3000).contains(&year), "{now}");
    }
}
