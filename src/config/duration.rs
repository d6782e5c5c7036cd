//! HAProxy time values: a number with an optional unit (`us`, `ms`, `s`, `m`, `h`, `d`);
//! a bare number is milliseconds.

use std::time::Duration;

/// HAProxy keeps timers in signed 32-bit milliseconds; longer values overflow there.
const MAX_MS: u128 = i32::MAX as u128;

pub fn parse(text: &str) -> Result<Duration, String> {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(digits_end);
    if num.is_empty() {
        return Err(format!("'{text}' is not a time; write a number with an optional unit (us, ms, s, m, h, d), e.g. 5s"));
    }
    let per_unit_us: u128 = match unit {
        "us" => 1,
        "" | "ms" => 1_000,
        "s" => 1_000_000,
        "m" => 60_000_000,
        "h" => 3_600_000_000,
        "d" => 86_400_000_000,
        _ => {
            return Err(format!("unknown time unit '{unit}' in '{text}'; use us, ms, s, m, h or d (a bare number is milliseconds)"))
        }
    };
    let n: u128 = num
        .parse()
        .map_err(|_| format!("'{text}' is too large for a time"))?;
    let us = n
        .checked_mul(per_unit_us)
        .ok_or_else(|| format!("'{text}' is too large for a time"))?;
    if us / 1_000 > MAX_MS {
        return Err(format!(
            "'{text}' is too large: times are limited to 2147483647ms (about 24.8 days)"
        ));
    }
    let us = u64::try_from(us).map_err(|_| format!("'{text}' is too large for a time"))?;
    Ok(Duration::from_micros(us))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse("100"), Ok(Duration::from_millis(100)));
        assert_eq!(parse("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("1d"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse("250us"), Ok(Duration::from_micros(250)));
    }

    #[test]
    fn rejects() {
        for bad in [
            "",
            "s",
            "10x",
            "-1",
            "1.5s",
            "30 s",
            "99999999999999999999999999999999999999999",
            "25d",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
