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
