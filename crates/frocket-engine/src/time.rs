//! Timestamp units and durations in human form (query-language.md, "Time units").
//!
//! Results stay in the dataset's unit (numbers); what people read — the CLI's tables — shows
//! durations as `1h 12m` through [`format_duration`], one mechanism for every place a
//! duration is shown.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The unit of a timestamp column's numbers.
///
/// ```
/// use frocket_engine::time::TimeUnit;
/// let u: TimeUnit = "ms".parse().unwrap();
/// assert_eq!(u.per_second(), 1000);
/// assert_eq!(u.to_string(), "ms");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TimeUnit {
    /// Seconds.
    #[serde(rename = "s")]
    Seconds,
    /// Milliseconds.
    #[serde(rename = "ms")]
    Millis,
    /// Microseconds.
    #[serde(rename = "us")]
    Micros,
    /// Nanoseconds.
    #[serde(rename = "ns")]
    Nanos,
}

impl TimeUnit {
    /// Every unit, coarsest first.
    pub const ALL: [TimeUnit; 4] = [TimeUnit::Seconds, TimeUnit::Millis, TimeUnit::Micros, TimeUnit::Nanos];

    /// The unit as written (`s`, `ms`, `us`, `ns`).
    pub fn as_str(self) -> &'static str {
        match self {
            TimeUnit::Seconds => "s",
            TimeUnit::Millis => "ms",
            TimeUnit::Micros => "us",
            TimeUnit::Nanos => "ns",
        }
    }

    /// Units in one second.
    pub fn per_second(self) -> i64 {
        match self {
            TimeUnit::Seconds => 1,
            TimeUnit::Millis => 1_000,
            TimeUnit::Micros => 1_000_000,
            TimeUnit::Nanos => 1_000_000_000,
        }
    }
}

impl fmt::Display for TimeUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown unit name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown timestamp unit '{0}' (units: s, ms, us, ns)")]
pub struct UnknownUnit(pub String);

impl FromStr for TimeUnit {
    type Err = UnknownUnit;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TimeUnit::ALL
            .into_iter()
            .find(|u| u.as_str() == s)
            .ok_or_else(|| UnknownUnit(s.to_string()))
    }
}

/// A duration of `value` units in human form: the two largest parts from days down to
/// seconds (`3d 4h`, `1h 12m`, `21m 29s`), seconds with a decimal under a minute (`12.3s`),
/// and milliseconds (or finer) under a second (`378ms`, `850µs`).
///
/// ```
/// use frocket_engine::time::{format_duration, TimeUnit};
/// assert_eq!(format_duration(4_320_000.0, TimeUnit::Millis), "1h 12m");
/// assert_eq!(format_duration(378.0, TimeUnit::Millis), "378ms");
/// assert_eq!(format_duration(90.0, TimeUnit::Seconds), "1m 30s");
/// assert_eq!(format_duration(12_345.0, TimeUnit::Millis), "12.3s");
/// assert_eq!(format_duration(3.0 * 86_400.0 + 4.0 * 3600.0, TimeUnit::Seconds), "3d 4h");
/// ```
pub fn format_duration(value: f64, unit: TimeUnit) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    let sign = if value < 0.0 { "-" } else { "" };
    let secs = value.abs() / unit.per_second() as f64;
    let body = if secs == 0.0 {
        "0s".to_string()
    } else if secs < 1e-6 {
        format!("{}ns", trim(secs * 1e9))
    } else if secs < 1e-3 {
        format!("{}µs", trim(secs * 1e6))
    } else if secs < 1.0 {
        format!("{}ms", trim(secs * 1e3))
    } else if secs < 60.0 {
        format!("{}s", trim(secs))
    } else {
        // Whole seconds, rounded, then the two largest non-empty parts.
        let total = secs.round() as u64;
        let parts = [
            (total / 86_400, "d"),
            (total % 86_400 / 3600, "h"),
            (total % 3600 / 60, "m"),
            (total % 60, "s"),
        ];
        let first = parts.iter().position(|&(n, _)| n > 0).unwrap_or(3);
        parts[first..]
            .iter()
            .take(2)
            .filter(|&&(n, _)| n > 0)
            .map(|(n, u)| format!("{n}{u}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!("{sign}{body}")
}

/// Nanoseconds in one of the units a duration may be written in (`ms`, `s`, `m`, `h`, `d`, `w`).
fn suffix_nanos(suffix: &str) -> Option<i128> {
    Some(match suffix {
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        "w" => 604_800_000_000_000,
        _ => return None,
    })
}

impl TimeUnit {
    /// Nanoseconds in one unit.
    pub fn nanos(self) -> i128 {
        1_000_000_000 / self.per_second() as i128
    }
}

/// `numerator / denominator` units as a number: exact and required to be whole for an integer
/// column (`integral`), the nearest float otherwise.
fn in_units(numerator: i128, denominator: i128, unit: TimeUnit, integral: bool, what: &str) -> Result<f64, String> {
    if integral {
        if numerator % denominator != 0 {
            return Err(format!(
                "{what} is not a whole number of {unit} (the timestamp column holds integers in {unit})"
            ));
        }
        Ok((numerator / denominator) as f64)
    } else {
        Ok(numerator as f64 / denominator as f64)
    }
}

/// A duration written as `"<number><unit>"` (`"90s"`, `"1.5h"`, `"7d"`; units `ms`, `s`, `m`,
/// `h`, `d`, `w`) in the dataset's `unit`, converted exactly: for an integer timestamp column
/// (`integral`) a duration that is not a whole number of units is an error.
///
/// ```
/// use frocket_engine::time::{parse_duration, TimeUnit};
/// assert_eq!(parse_duration("1.5h", TimeUnit::Millis, true), Ok(5_400_000.0));
/// assert_eq!(parse_duration("7d", TimeUnit::Seconds, true), Ok(604_800.0));
/// assert!(parse_duration("1.5s", TimeUnit::Seconds, true).unwrap_err().contains("not a whole number of s"));
/// assert!(parse_duration("90 sec", TimeUnit::Millis, true).is_err());
/// ```
pub fn parse_duration(text: &str, unit: TimeUnit, integral: bool) -> Result<f64, String> {
    let bad = || {
        format!("'{text}' is not a duration: write a number and a unit, like \"90s\", \"1.5h\" or \"7d\" (units: ms, s, m, h, d, w)")
    };
    let s = text.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(bad)?;
    let (number, suffix) = s.split_at(split);
    let per = suffix_nanos(suffix.trim()).ok_or_else(bad)?;
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() || whole.len() + frac.len() > 24 || (number.contains('.') && frac.is_empty()) {
        return Err(bad());
    }
    // number = mantissa / 10^decimals, exactly.
    let mantissa: i128 = format!("{whole}{frac}").parse().map_err(|_| bad())?;
    let scale = 10i128.pow(frac.len() as u32);
    let numerator = mantissa
        .checked_mul(per)
        .ok_or_else(|| format!("'{text}' is too long a duration"))?;
    in_units(numerator, scale * unit.nanos(), unit, integral, &format!("'{text}'"))
}

/// A point in time written as an ISO-8601 date-time with an offset or `Z`
/// (`"2021-01-01T00:00:00Z"`, `"2021-01-01T09:30:00.250+02:00"`) or a date (`"2021-01-01"`,
/// midnight UTC), as a timestamp in `unit` (exact; for an integer column, a time between two
/// units is rounded up — the same rows fall on either side of a bound).
///
/// ```
/// use frocket_engine::time::{parse_instant, TimeUnit};
/// assert_eq!(parse_instant("2021-01-01T00:00:00Z", TimeUnit::Millis, true), Ok(1_609_459_200_000.0));
/// assert_eq!(parse_instant("2021-01-01", TimeUnit::Seconds, true), Ok(1_609_459_200.0));
/// assert_eq!(parse_instant("2021-01-01T02:00:00+02:00", TimeUnit::Seconds, true), Ok(1_609_459_200.0));
/// assert!(parse_instant("2021-01-01T00:00:00", TimeUnit::Seconds, true).is_err()); // no offset
/// ```
pub fn parse_instant(text: &str, unit: TimeUnit, integral: bool) -> Result<f64, String> {
    let s = text.trim();
    let (secs, nanos) = if s.len() == 10 {
        let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|e| format!("'{text}' is not a date (YYYY-MM-DD): {e}"))?;
        (d.and_time(chrono::NaiveTime::MIN).and_utc().timestamp(), 0)
    } else {
        let t = chrono::DateTime::parse_from_rfc3339(s).map_err(|e| {
            format!("'{text}' is not an ISO-8601 date-time with an offset (like \"2021-01-01T00:00:00Z\" or \"2021-01-01T09:00:00+02:00\") or a date (\"2021-01-01\"): {e}")
        })?;
        (t.timestamp(), t.timestamp_subsec_nanos())
    };
    let total = secs as i128 * 1_000_000_000 + nanos as i128;
    let per = unit.nanos();
    if integral {
        // Ceiling: rows are integers, so `t >= x` and `t < x` split them as at ceil(x).
        Ok(total.div_euclid(per) as f64 + if total.rem_euclid(per) != 0 { 1.0 } else { 0.0 })
    } else {
        Ok(total as f64 / per as f64)
    }
}

/// A timestamp of `value` units in human form, UTC to the second (finer when the timestamp has
/// a fraction of a second): `2021-01-01 00:00:00Z`, `2021-01-01 00:00:00.250Z`.
///
/// ```
/// use frocket_engine::time::{format_instant, TimeUnit};
/// assert_eq!(format_instant(1_609_459_200_000.0, TimeUnit::Millis), "2021-01-01 00:00:00Z");
/// assert_eq!(format_instant(1_609_459_200_250.0, TimeUnit::Millis), "2021-01-01 00:00:00.250Z");
/// ```
pub fn format_instant(value: f64, unit: TimeUnit) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    let per = unit.per_second() as f64;
    let secs = (value / per).floor();
    let nanos = ((value - secs * per) * (1e9 / per)).round().clamp(0.0, 999_999_999.0) as u32;
    match chrono::DateTime::from_timestamp(secs as i64, nanos) {
        Some(t) if nanos == 0 => t.format("%Y-%m-%d %H:%M:%SZ").to_string(),
        Some(t) if nanos.is_multiple_of(1_000_000) => t.format("%Y-%m-%d %H:%M:%S%.3fZ").to_string(),
        Some(t) => t.format("%Y-%m-%d %H:%M:%S%.9fZ").to_string(),
        None => value.to_string(),
    }
}

/// The unit of an Arrow timestamp type (`TIMESTAMP` in Parquet), if `t` is one.
pub fn unit_of_arrow(t: &arrow::datatypes::DataType) -> Option<TimeUnit> {
    use arrow::datatypes::{DataType, TimeUnit as A};
    match t {
        DataType::Timestamp(A::Second, _) => Some(TimeUnit::Seconds),
        DataType::Timestamp(A::Millisecond, _) => Some(TimeUnit::Millis),
        DataType::Timestamp(A::Microsecond, _) => Some(TimeUnit::Micros),
        DataType::Timestamp(A::Nanosecond, _) => Some(TimeUnit::Nanos),
        _ => None,
    }
}

/// A number with at most one decimal under 100 and none above, without a trailing `.0`.
fn trim(x: f64) -> String {
    if x >= 100.0 {
        format!("{}", x.round())
    } else {
        let s = format!("{x:.1}");
        s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_would_write_them() {
        let ms = TimeUnit::Millis;
        assert_eq!(format_duration(0.0, ms), "0s");
        assert_eq!(format_duration(1.0, ms), "1ms");
        assert_eq!(format_duration(999.0, ms), "999ms");
        assert_eq!(format_duration(1_000.0, ms), "1s");
        assert_eq!(format_duration(59_940.0, ms), "59.9s");
        assert_eq!(format_duration(60_000.0, ms), "1m");
        assert_eq!(format_duration(3_600_000.0, ms), "1h");
        assert_eq!(format_duration(3_661_000.0, ms), "1h 1m");
        assert_eq!(format_duration(86_400_000.0 + 59_000.0, ms), "1d");
        assert_eq!(format_duration(-90_000.0, ms), "-1m 30s");
        assert_eq!(format_duration(1_500.0, TimeUnit::Nanos), "1.5µs");
        assert_eq!(format_duration(7.0, TimeUnit::Nanos), "7ns");
        assert_eq!(format_duration(1_288_812.0, ms), "21m 29s");
        assert_eq!(format_duration(1.5 * 3600.0 * 1e6, TimeUnit::Micros), "1h 30m");
    }

    #[test]
    fn durations_convert_exactly_in_every_unit() {
        use TimeUnit::*;
        let cases: [(&str, [Option<f64>; 4]); 8] = [
            ("90s", [Some(90.0), Some(90_000.0), Some(9e7), Some(9e10)]),
            ("1.5h", [Some(5400.0), Some(5_400_000.0), Some(5.4e9), Some(5.4e12)]),
            ("7d", [Some(604_800.0), Some(6.048e8), Some(6.048e11), Some(6.048e14)]),
            (
                "2w",
                [Some(1_209_600.0), Some(1.2096e9), Some(1.2096e12), Some(1.2096e15)],
            ),
            ("250ms", [None, Some(250.0), Some(250_000.0), Some(2.5e8)]),
            ("0.001ms", [None, None, Some(1.0), Some(1000.0)]),
            ("0.5m", [Some(30.0), Some(30_000.0), Some(3e7), Some(3e10)]),
            ("0s", [Some(0.0), Some(0.0), Some(0.0), Some(0.0)]),
        ];
        for (text, expected) in cases {
            for (unit, want) in [Seconds, Millis, Micros, Nanos].into_iter().zip(expected) {
                match want {
                    Some(v) => assert_eq!(parse_duration(text, unit, true), Ok(v), "{text} in {unit}"),
                    None => {
                        let e = parse_duration(text, unit, true).unwrap_err();
                        assert!(
                            e.contains(&format!("not a whole number of {unit}")),
                            "{text} in {unit}: {e}"
                        );
                        // A float column takes the fraction.
                        assert!(parse_duration(text, unit, false).is_ok_and(|x| x > 0.0 && x < 1.0));
                    }
                }
            }
        }
        for bad in [
            "",
            "90",
            "s",
            "1.h",
            ".5h",
            "-1s",
            "1.5 hours",
            "1e3s",
            "1,5h",
            "1h30m",
            "90S",
        ] {
            assert!(parse_duration(bad, Millis, true).is_err(), "{bad}");
        }
        assert!(parse_duration("999999999999999999999999999h", Nanos, true).is_err());
        assert_eq!(parse_duration(" 10 m ", Seconds, true), Ok(600.0));
    }

    #[test]
    fn instants_with_offsets_dates_and_leap_days() {
        use TimeUnit::*;
        let day = |d: &str| parse_instant(d, Seconds, true).unwrap();
        assert_eq!(day("1970-01-01"), 0.0);
        assert_eq!(day("2024-02-29"), 1_709_164_800.0);
        assert_eq!(
            day("2024-03-01") - day("2024-02-28"),
            2.0 * 86_400.0,
            "2024 is a leap year"
        );
        assert_eq!(day("2023-03-01") - day("2023-02-28"), 86_400.0, "2023 is not");
        assert!(parse_instant("2023-02-29", Seconds, true)
            .unwrap_err()
            .contains("not a date"));
        assert_eq!(day("1969-12-31"), -86_400.0);
        assert_eq!(
            parse_instant("2021-06-01T12:00:00+05:30", Millis, true),
            parse_instant("2021-06-01T06:30:00Z", Millis, true)
        );
        assert_eq!(
            parse_instant("2021-06-01T00:00:00-08:00", Seconds, true),
            Ok(day("2021-06-01") + 8.0 * 3600.0)
        );
        assert_eq!(
            parse_instant("2021-01-01T00:00:00.123456789Z", Nanos, true),
            Ok(1_609_459_200_123_456_789.0)
        );
        // Between two units of an integer column: rounded up, so the same rows fall either side.
        assert_eq!(
            parse_instant("2021-01-01T00:00:00.5Z", Seconds, true),
            Ok(1_609_459_201.0)
        );
        assert_eq!(
            parse_instant("2021-01-01T00:00:00.5Z", Seconds, false),
            Ok(1_609_459_200.5)
        );
        assert_eq!(parse_instant("1969-12-31T23:59:59.5Z", Seconds, true), Ok(0.0));
        for bad in [
            "2021-01-01T00:00:00",
            "2021-13-01",
            "yesterday",
            "2021-01-01 00:00",
            "1609459200",
        ] {
            assert!(parse_instant(bad, Millis, true).is_err(), "{bad}");
        }
        assert_eq!(format_instant(day("2024-02-29"), Seconds), "2024-02-29 00:00:00Z");
        assert_eq!(format_instant(-1.0, Seconds), "1969-12-31 23:59:59Z");
        assert_eq!(
            format_instant(1_609_459_200_123_456_789.0, Nanos),
            "2021-01-01 00:00:00.123456768Z"
        );
    }

    #[test]
    fn units_parse_and_print() {
        for u in TimeUnit::ALL {
            assert_eq!(u.as_str().parse::<TimeUnit>(), Ok(u));
            assert_eq!(serde_json::to_value(u).unwrap(), serde_json::json!(u.as_str()));
        }
        assert_eq!(
            "sec".parse::<TimeUnit>().unwrap_err().to_string(),
            "unknown timestamp unit 'sec' (units: s, ms, us, ns)"
        );
    }
}
