//! Calendar days in UTC, for usage buckets, billing months and time filters (Howard Hinnant's
//! proleptic Gregorian algorithms; no time-zone database needed).

/// Days since 1970-01-01 of a date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month, day) of a day number.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `YYYY-MM-DD` of a Unix time in microseconds.
pub fn day_of_us(at_us: u64) -> String {
    let (y, m, d) = civil_from_days((at_us / 86_400_000_000) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// A `YYYY-MM-DD` date as a day number; `None` unless it is a real date.
pub fn parse_day(s: &str) -> Option<i64> {
    let mut it = s.split('-');
    let (y, m, d) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (i64, i64, i64) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let days = days_from_civil(y, m, d);
    (civil_from_days(days) == (y, m as u32, d as u32)).then_some(days)
}

/// A `YYYY-MM` month as its first day and the first day of the next month (day numbers).
pub fn parse_month(s: &str) -> Option<(i64, i64)> {
    let (y, m) = s.split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    let (y, m): (i64, i64) = (y.parse().ok()?, m.parse().ok()?);
    if !(1..=12).contains(&m) {
        return None;
    }
    let next = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    Some((days_from_civil(y, m, 1), days_from_civil(next.0, next.1, 1)))
}

/// `YYYY-MM-DD` of a day number.
pub fn format_day(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_and_bad_dates_are_refused() {
        for days in [-1000, 0, 59, 60, 10_957, 20_415, 20_780, 100_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, i64::from(m), i64::from(d)), days);
        }
        assert_eq!(day_of_us(0), "1970-01-01");
        assert_eq!(day_of_us(1_795_341_600_000_000), "2026-11-22");
        assert_eq!(parse_day("2026-11-22"), Some(20_779));
        assert_eq!(parse_day("2026-02-29"), None);
        assert_eq!(
            parse_day("2028-02-29").map(format_day).as_deref(),
            Some("2028-02-29")
        );
        assert_eq!(parse_day("2026-1-2"), None);
        assert_eq!(parse_month("2026-12"), Some((20_788, 20_819)));
        assert_eq!(parse_month("2026-13"), None);
    }
}
