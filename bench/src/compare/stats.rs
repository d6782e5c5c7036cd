//! Across rounds: medians, spreads and ratios (pure arithmetic, unit-tested).

/// The median of `v` (mean of the middle two for an even count); NaN when empty.
pub fn median(v: &[f64]) -> f64 {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    if s.is_empty() {
        return f64::NAN;
    }
    s.sort_by(f64::total_cmp);
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    }
}

/// (min, max) of `v`, ignoring NaN; NaN when empty.
pub fn spread(v: &[f64]) -> (f64, f64) {
    let s = v.iter().copied().filter(|x| !x.is_nan());
    let min = s.clone().fold(f64::INFINITY, f64::min);
    let max = s.fold(f64::NEG_INFINITY, f64::max);
    if min.is_finite() {
        (min, max)
    } else {
        (f64::NAN, f64::NAN)
    }
}

/// `a / b`, NaN when either is missing or `b` is 0.
pub fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 || a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a / b
    }
}

/// `x` formatted with `prec` decimals, or `-` for NaN.
pub fn fmt(x: f64, prec: usize) -> String {
    if x.is_nan() {
        "-".to_string()
    } else {
        format!("{x:.prec$}")
    }
}

/// Requests per second, short: 123456 -> "123.5k".
pub fn fmt_rate(x: f64) -> String {
    if x.is_nan() {
        "-".to_string()
    } else if x >= 10_000.0 {
        format!("{:.1}k", x / 1000.0)
    } else {
        format!("{x:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_spreads() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[f64::NAN, 5.0]), 5.0);
        assert!(median(&[]).is_nan());
        assert_eq!(spread(&[3.0, 1.0, 2.0]), (1.0, 3.0));
        assert!(spread(&[]).0.is_nan());
    }

    #[test]
    fn ratios_and_formats() {
        assert_eq!(ratio(130.0, 100.0), 1.3);
        assert!(ratio(1.0, 0.0).is_nan());
        assert_eq!(fmt(ratio(1.0, 3.0), 2), "0.33");
        assert_eq!(fmt(f64::NAN, 2), "-");
        assert_eq!(fmt_rate(123_456.0), "123.5k");
        assert_eq!(fmt_rate(999.4), "999");
    }
}
