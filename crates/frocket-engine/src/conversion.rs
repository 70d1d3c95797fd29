//! Time to convert (the funnel's `conversionTime` option): a mergeable per-step partial and
//! its final form.
//!
//! A part cannot ship every group's time (a step of a large part has millions), so each part
//! sends, per step, what merges exactly — the number of groups, min, max, sum (for the mean)
//! and histogram counts — and a relative-error sketch for the percentiles: logarithmic buckets
//! (the DDSketch idea) whose counts add up across parts. A bucket `i` holds the times in
//! `(γ^(i-1), γ^i]`; its representative value `2γ^i / (γ + 1)` is within `α = (γ-1)/(γ+1)` of
//! every time in it. Only the buckets between the smallest and largest time are sent, so a
//! part's sketch is a few KB whatever its number of groups (one bucket per 1% of range: 1 ms
//! to one year is ~2,400 buckets).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The relative error of the reported percentiles (query-language.md: `relativeError`).
pub const RELATIVE_ERROR: f64 = 0.01;

/// The sketch's own relative error: half the reported one, so that rounding a percentile to a
/// whole timestamp unit (integer timestamps) stays within [`RELATIVE_ERROR`].
const SKETCH_ALPHA: f64 = RELATIVE_ERROR / 2.0;

/// The most buckets a sketch spans: every positive f64 from [`MIN_INDEXED`] up fits in fewer
/// (~73,000 at the sketch's error).
pub const MAX_SPAN: i64 = 80_000;

/// Times below this are counted as zero (float timestamps only: integer times are ≥ 1).
const MIN_INDEXED: f64 = 1e-9;

/// The sum of the times: exact for integer timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TimeSum {
    /// Integer timestamps: a 128-bit sum.
    Int(i128),
    /// Float timestamps.
    Float(f64),
}

/// Counts of times in logarithmic buckets (see the module doc).
///
/// ```
/// use frocket_engine::conversion::Sketch;
/// let mut s = Sketch::default();
/// for v in 1..=1000 {
///     s.add(v as f64);
/// }
/// let p50 = s.value_at_rank(500).unwrap();
/// assert!((p50 - 500.0).abs() <= 500.0 * 0.005);
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Sketch {
    /// Times below the smallest indexed value.
    #[serde(default)]
    pub zero: u64,
    /// Bucket index of `counts[0]`.
    #[serde(default)]
    pub offset: i32,
    /// Counts of consecutive buckets from `offset`.
    #[serde(default)]
    pub counts: Vec<u64>,
}

/// `x.ceil() as i32` (saturating; NaN to 0) without a call to the C library's `ceil`, which
/// CPUs without SSE4.1 instructions take.
fn ceil_i32(x: f64) -> i32 {
    // (Truncated toward zero, saturating: the ceiling for a negative `x` or a whole one, one
    // below it for a positive fraction.)
    let t = x as i32;
    if f64::from(t) < x {
        t.saturating_add(1)
    } else {
        t
    }
}

fn gamma_ln() -> f64 {
    ((1.0 + SKETCH_ALPHA) / (1.0 - SKETCH_ALPHA)).ln()
}

impl Sketch {
    /// The bucket of a positive value.
    fn index(v: f64) -> i32 {
        ceil_i32(v.ln() / gamma_ln())
    }

    /// A value within [`SKETCH_ALPHA`] of every value of bucket `i`.
    fn representative(i: i32) -> f64 {
        let g = gamma_ln().exp();
        2.0 * (f64::from(i) * gamma_ln()).exp() / (g + 1.0)
    }

    /// Adds one whole time (integer timestamps): the same bucket as [`Sketch::add`] gives
    /// `v as f64`, found without a logarithm up to 2^52 (see [`WholeBuckets`]).
    ///
    /// ```
    /// use frocket_engine::conversion::Sketch;
    /// let (mut a, mut b) = (Sketch::default(), Sketch::default());
    /// for v in [0, 1, 2, 59_999, 60_000, 86_400_000, 1 << 60] {
    ///     a.add_whole(v);
    ///     b.add(v as f64);
    /// }
    /// assert_eq!(a, b);
    /// ```
    pub fn add_whole(&mut self, v: i64) {
        match WholeBuckets::get().index(v) {
            Some(i) => self.add_count(i, 1),
            None => self.add(v as f64),
        }
    }

    /// Adds one time.
    pub fn add(&mut self, v: f64) {
        // NaN too.
        if v.is_nan() || v < MIN_INDEXED {
            self.zero += 1;
            return;
        }
        self.add_count(Self::index(v), 1);
    }

    fn add_count(&mut self, i: i32, n: u64) {
        if self.counts.is_empty() {
            self.offset = i;
            self.counts.push(n);
            return;
        }
        if i < self.offset {
            let grow = (self.offset - i) as usize;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.offset = i;
        }
        let at = (i - self.offset) as usize;
        if at >= self.counts.len() {
            self.counts.resize(at + 1, 0);
        }
        self.counts[at] += n;
    }

    /// Adds another sketch's counts. A sketch from elsewhere (a worker's partial) whose buckets
    /// would span more than [`MAX_SPAN`] is refused rather than grown without bound.
    pub fn merge(&mut self, other: &Sketch) -> Result<(), String> {
        let last = |s: &Sketch| i64::from(s.offset) + s.counts.len() as i64;
        let (lo, hi) = match (self.counts.is_empty(), other.counts.is_empty()) {
            (_, true) => (0, 0),
            (true, false) => (i64::from(other.offset), last(other)),
            (false, false) => (i64::from(self.offset.min(other.offset)), last(self).max(last(other))),
        };
        if hi - lo > MAX_SPAN || other.counts.len() as i64 > MAX_SPAN {
            return Err(format!(
                "a conversion-time sketch spanning {} buckets (at most {MAX_SPAN})",
                hi - lo
            ));
        }
        self.zero += other.zero;
        for (j, &n) in other.counts.iter().enumerate() {
            if n > 0 {
                self.add_count(other.offset + j as i32, n);
            }
        }
        Ok(())
    }

    /// Number of times counted.
    pub fn count(&self) -> u64 {
        self.zero + self.counts.iter().sum::<u64>()
    }

    /// The value at 1-based `rank` of the sorted times, within the sketch's relative error;
    /// `None` when `rank` is 0 or beyond the count.
    pub fn value_at_rank(&self, rank: u64) -> Option<f64> {
        if rank == 0 {
            return None;
        }
        let mut seen = self.zero;
        if rank <= seen {
            return Some(0.0);
        }
        for (j, &n) in self.counts.iter().enumerate() {
            seen += n;
            if rank <= seen {
                return Some(Self::representative(self.offset + j as i32));
            }
        }
        None
    }
}

/// The sketch's bucket of each whole time from 1 to [`WholeBuckets::MAX`] without a
/// logarithm, always the one [`Sketch::index`] gives: the first whole time of each bucket
/// (found by `index` itself, once a process), and an estimate of the bucket from the time's
/// bits within one of it (a cubic for `log2` of the mantissa, off by at most 0.0014: a tenth
/// of a bucket), settled by comparing the time with the next two buckets' first times.
struct WholeBuckets {
    /// `first[i]`: the smallest whole time in bucket `i` or above (`u64::MAX` past the last).
    first: Vec<u64>,
}

impl WholeBuckets {
    /// The largest time indexed this way (142 years in milliseconds).
    const MAX: u64 = 1 << 52;

    /// Buckets per doubling: `ln 2 / ln γ`.
    fn per_octave() -> f64 {
        std::f64::consts::LN_2 / gamma_ln()
    }

    /// The table, built on first use.
    fn get() -> &'static WholeBuckets {
        static TABLE: std::sync::OnceLock<WholeBuckets> = std::sync::OnceLock::new();
        TABLE.get_or_init(WholeBuckets::build)
    }

    fn build() -> WholeBuckets {
        let last = Sketch::index(Self::MAX as f64);
        let mut first: Vec<u64> = Vec::with_capacity(last as usize + 4);
        first.push(1);
        for i in 1..=last {
            // Bucket `i` starts above γ^(i-1): from there, step to its first whole time.
            let mut c = ((f64::from(i - 1) * gamma_ln()).exp() as u64).max(1);
            while c > 1 && Sketch::index((c - 1) as f64) >= i {
                c -= 1;
            }
            while Sketch::index(c as f64) < i {
                c += 1;
            }
            first.push(c);
        }
        first.extend([u64::MAX; 3]);
        WholeBuckets { first }
    }

    /// The bucket of whole time `v`, when it is from 1 to [`WholeBuckets::MAX`].
    #[inline]
    fn index(&self, v: i64) -> Option<i32> {
        let v = u64::try_from(v).ok().filter(|v| (1..=Self::MAX).contains(v))?;
        let bits = (v as f64).to_bits();
        let octave = ((bits >> 52) as i64 - 1023) as f64;
        // The mantissa, 0 ≤ t < 1; log2(1 + t) by a cubic (least squares on [0, 1]).
        let t = f64::from_bits((bits & ((1 << 52) - 1)) | 1.0f64.to_bits()) - 1.0;
        let log2 = octave + t * (1.423_494_18 + t * (-0.587_769_24 + t * 0.165_589_88));
        // Within a tenth of a bucket of `ln(v) / ln γ`: the bucket is `k`, `k + 1` or `k + 2`.
        // (A negative estimate, for 1, is cast to 0.)
        let k = (log2 * Self::per_octave()) as usize;
        let (&next, &after) = (self.first.get(k + 1)?, self.first.get(k + 2)?);
        Some(k as i32 + i32::from(next <= v) + i32::from(after <= v))
    }
}

/// One funnel step's time to convert, as a part sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversionPartial {
    /// Groups that reached the step.
    pub groups: u64,
    /// Smallest time.
    pub min: Option<f64>,
    /// Largest time.
    pub max: Option<f64>,
    /// Sum of the times.
    pub sum: TimeSum,
    /// Counts per histogram bin (one more than the bin edges; empty without bins).
    #[serde(default)]
    pub histogram: Vec<u64>,
    /// The percentile sketch.
    pub sketch: Sketch,
}

impl ConversionPartial {
    /// An empty partial for integer (`int`) or float timestamps and `bins` edges.
    pub fn new(int: bool, bins: usize) -> Self {
        ConversionPartial {
            groups: 0,
            min: None,
            max: None,
            sum: if int { TimeSum::Int(0) } else { TimeSum::Float(0.0) },
            histogram: if bins == 0 { vec![] } else { vec![0; bins + 1] },
            sketch: Sketch::default(),
        }
    }

    /// Counts a time in all but the sketch.
    fn add_common(&mut self, v: f64, bins: &[f64]) {
        self.groups += 1;
        self.min = Some(self.min.map_or(v, |m| m.min(v)));
        self.max = Some(self.max.map_or(v, |m| m.max(v)));
        if !self.histogram.is_empty() {
            let bin = bins.partition_point(|&b| b <= v);
            self.histogram[bin] += 1;
        }
    }

    /// Adds one group's time (integer timestamps).
    pub fn add_int(&mut self, v: i64, bins: &[f64]) {
        if let TimeSum::Int(s) = &mut self.sum {
            *s += i128::from(v);
        }
        self.add_common(v as f64, bins);
        self.sketch.add_whole(v);
    }

    /// Adds one group's time (float timestamps).
    pub fn add_float(&mut self, v: f64, bins: &[f64]) {
        if let TimeSum::Float(s) = &mut self.sum {
            *s += v;
        }
        self.add_common(v, bins);
        self.sketch.add(v);
    }

    /// Adds another part's partial for the same step (checked first: on an error nothing is
    /// added).
    pub fn merge(&mut self, other: &ConversionPartial) -> Result<(), String> {
        let sum = match (self.sum, other.sum) {
            (TimeSum::Int(a), TimeSum::Int(b)) => TimeSum::Int(a.saturating_add(b)),
            (TimeSum::Float(a), TimeSum::Float(b)) => TimeSum::Float(a + b),
            _ => return Err("conversion times of integer and float timestamps".into()),
        };
        if self.histogram.len() != other.histogram.len() {
            return Err(format!(
                "conversion-time histograms of {} and {} bins",
                self.histogram.len(),
                other.histogram.len()
            ));
        }
        self.sketch.merge(&other.sketch)?;
        self.sum = sum;
        for (a, b) in self.histogram.iter_mut().zip(&other.histogram) {
            *a += b;
        }
        self.groups += other.groups;
        self.min = match (self.min, other.min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max = match (self.max, other.max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        Ok(())
    }

    /// The final result, with the histogram's edges `bins`.
    pub fn finish(&self, bins: &[f64]) -> ConversionTimeResult {
        let int = matches!(self.sum, TimeSum::Int(_));
        let time = |v: f64| -> Value {
            if int {
                Value::from(v.round() as i64)
            } else {
                Value::from(v)
            }
        };
        let n = self.groups;
        let clamp = |v: f64| match (self.min, self.max) {
            (Some(lo), Some(hi)) => v.clamp(lo, hi),
            _ => v,
        };
        let percentile = |p: f64| -> Value {
            let rank = (p * n as f64).ceil() as u64;
            self.sketch
                .value_at_rank(rank.max(1))
                .filter(|_| n > 0)
                .map_or(Value::Null, |v| time(clamp(v)))
        };
        let mean = (n > 0).then(|| match self.sum {
            TimeSum::Int(s) => s as f64 / n as f64,
            TimeSum::Float(s) => s / n as f64,
        });
        let histogram = (!bins.is_empty()).then(|| {
            self.histogram
                .iter()
                .enumerate()
                .map(|(i, &groups)| HistogramBin {
                    less_than: bins.get(i).map(|&b| number(b)),
                    groups,
                })
                .collect()
        });
        ConversionTimeResult {
            groups: n,
            min: self.min.map_or(Value::Null, time),
            max: self.max.map_or(Value::Null, time),
            mean,
            p50: percentile(0.5),
            p90: percentile(0.9),
            p99: percentile(0.99),
            relative_error: RELATIVE_ERROR,
            histogram,
        }
    }
}

/// A number as JSON: an integer when it is one.
fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        Value::from(v as i64)
    } else {
        Value::from(v)
    }
}

/// One histogram bin: the groups whose time is below `lessThan` (and not below the previous
/// edge); the last bin has no upper edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistogramBin {
    /// The bin's upper edge (exclusive), `null` for the last bin.
    pub less_than: Option<Value>,
    /// Groups in the bin.
    pub groups: u64,
}

/// One funnel step's time to convert, as reported (query-language.md, Sequence options).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversionTimeResult {
    /// Groups that reached the step.
    pub groups: u64,
    /// Smallest time (exact), `null` without groups.
    pub min: Value,
    /// Largest time (exact).
    pub max: Value,
    /// Mean time (exact up to float rounding).
    pub mean: Option<f64>,
    /// Median, within `relative_error`.
    pub p50: Value,
    /// 90th percentile, within `relative_error`.
    pub p90: Value,
    /// 99th percentile, within `relative_error`.
    pub p99: Value,
    /// The percentiles' relative error.
    pub relative_error: f64,
    /// Counts per bin, present when bins were requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<Vec<HistogramBin>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact nearest-rank percentile of sorted values.
    fn exact(sorted: &[i64], p: f64) -> f64 {
        let rank = (p * sorted.len() as f64).ceil() as usize;
        sorted[rank.max(1) - 1] as f64
    }

    #[test]
    fn ceil_i32_is_the_saturating_ceiling() {
        let edges = [
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.0,
            -1.0,
            1.0 + f64::EPSILON,
            2.5,
            -2.5,
            1e-300,
            -1e-300,
            2147483646.5,
            2147483647.0,
            2147483647.5,
            3e9,
            -2147483648.0,
            -2147483648.5,
            -3e9,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let spread = (0..20_000).map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Quotients of logs as `index` makes them, and wider.
            ((x % 2_000_001) as f64 - 1_000_000.0) / 997.0
        });
        for v in edges.into_iter().chain(spread) {
            assert_eq!(ceil_i32(v), v.ceil() as i32, "{v}");
        }
    }

    #[test]
    fn whole_times_take_the_bucket_their_logarithm_gives() {
        let table = WholeBuckets::get();
        let check = |v: i64| assert_eq!(table.index(v), Some(Sketch::index(v as f64)), "{v}");
        // Every time up to 2^20, each bucket's first time and its neighbours, powers of two
        // and their neighbours, and times spread over every octave.
        (1..=1 << 20).for_each(check);
        for &f in &table.first {
            if f <= WholeBuckets::MAX {
                for v in f.saturating_sub(2)..=(f + 2).min(WholeBuckets::MAX) {
                    check(v.max(1) as i64);
                }
            }
        }
        for k in 0..=52 {
            for d in -2i64..=2 {
                check(((1i64 << k) + d).clamp(1, 1 << 52));
            }
        }
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..500_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            check((x >> (12 + x % 52)).max(1) as i64);
        }
        // Outside 1..=2^52: the logarithm's way.
        for v in [i64::MIN, -1, 0, (1 << 52) + 1, i64::MAX] {
            assert_eq!(table.index(v), None, "{v}");
        }
    }

    #[test]
    fn merged_parts_equal_one_part_within_the_error() {
        // Times spread over six orders of magnitude, split unevenly into three parts.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut values: Vec<i64> = (0..5000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let mag = (x % 6) as u32;
                1 + (x >> 8) as i64 % 10i64.pow(mag + 1)
            })
            .collect();
        let bins = [60.0, 600.0, 3600.0];
        let mut whole = ConversionPartial::new(true, bins.len());
        let mut parts = [
            ConversionPartial::new(true, bins.len()),
            ConversionPartial::new(true, bins.len()),
            ConversionPartial::new(true, bins.len()),
        ];
        for (i, &v) in values.iter().enumerate() {
            whole.add_int(v, &bins);
            parts[(i * i) % 3].add_int(v, &bins);
        }
        let [mut a, b, c] = parts;
        a.merge(&b).unwrap();
        a.merge(&c).unwrap();
        let (merged, one) = (a.finish(&bins), whole.finish(&bins));
        assert_eq!(merged, one);
        values.sort();
        assert_eq!(one.min, Value::from(values[0]));
        assert_eq!(one.max, Value::from(values[values.len() - 1]));
        let sum: i64 = values.iter().sum();
        assert_eq!(one.mean, Some(sum as f64 / values.len() as f64));
        for (p, got) in [(0.5, &one.p50), (0.9, &one.p90), (0.99, &one.p99)] {
            let want = exact(&values, p);
            let got = got.as_f64().unwrap();
            assert!((got - want).abs() <= RELATIVE_ERROR * want, "p{p}: {got} vs {want}");
        }
        let hist: Vec<u64> = one.histogram.unwrap().iter().map(|b| b.groups).collect();
        let want = [
            values.iter().filter(|&&v| v < 60).count(),
            values.iter().filter(|&&v| (60..600).contains(&v)).count(),
            values.iter().filter(|&&v| (600..3600).contains(&v)).count(),
            values.iter().filter(|&&v| v >= 3600).count(),
        ];
        assert_eq!(hist, want.map(|n| n as u64));
    }

    #[test]
    fn every_small_integer_percentile_is_exact() {
        // Below 100 units, the sketch's error is under half a unit: rounding gives the value.
        for v in 1..=2000i64 {
            let mut p = ConversionPartial::new(true, 0);
            p.add_int(v, &[]);
            let r = p.finish(&[]);
            let got = r.p50.as_i64().unwrap();
            assert!((got - v).abs() as f64 <= RELATIVE_ERROR * v as f64, "{v} -> {got}");
            if v < 100 {
                assert_eq!(got, v);
            }
        }
    }

    #[test]
    fn no_groups_gives_nulls_and_zero_counts() {
        let p = ConversionPartial::new(true, 2);
        let r = p.finish(&[10.0, 20.5]);
        assert_eq!(r.groups, 0);
        assert_eq!((r.min.clone(), r.p50.clone(), r.mean), (Value::Null, Value::Null, None));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(
            json["histogram"],
            serde_json::json!([{"lessThan": 10, "groups": 0}, {"lessThan": 20.5, "groups": 0}, {"lessThan": null, "groups": 0}])
        );
    }

    #[test]
    fn a_sketch_too_wide_is_refused_not_grown() {
        let mut p = ConversionPartial::new(true, 0);
        p.add_int(5, &[]);
        let mut far = ConversionPartial::new(true, 0);
        far.sketch = Sketch {
            zero: 0,
            offset: i32::MIN + 10,
            counts: vec![1],
        };
        let before = p.clone();
        let e = p.merge(&far).unwrap_err();
        assert!(e.contains("at most 80000"), "{e}");
        assert_eq!(p, before);
    }

    #[test]
    fn a_sketch_stays_small_whatever_the_groups() {
        let mut p = ConversionPartial::new(true, 0);
        for v in 1..=1_000_000i64 {
            p.add_int(v * 37 % 86_400_000 + 1, &[]);
        }
        let bytes = serde_json::to_vec(&p).unwrap().len();
        assert!(bytes < 16 * 1024, "{bytes} bytes");
    }
}
