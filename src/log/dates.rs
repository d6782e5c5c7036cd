//! The dates logs print, all UTC (the machines here run UTC; HAProxy prints local time):
//! `%t` `04/Dec/2026:01:16:32.141`, `%T` `04/Dec/2026:01:16:32 +0000`, RFC 3164's
//! `Dec  4 01:16:32` and RFC 5424's `2026-12-04T01:16:32.141263+00:00`.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::serve::record::civil_from_days;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A date split into what the formats print.
struct Civil {
    y: i64,
    m: u32,
    d: u32,
    h: u64,
    min: u64,
    s: u64,
    micros: u32,
}

impl Civil {
    fn of(t: SystemTime) -> Civil {
        let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = since.as_secs();
        let (y, m, d) = civil_from_days((secs / 86_400) as i64);
        let day = secs % 86_400;
        Civil {
            y,
            m,
            d,
            h: day / 3600,
            min: day / 60 % 60,
            s: day % 60,
            micros: since.subsec_micros(),
        }
    }

    fn month(&self) -> &'static str {
        MONTHS
            .get(self.m.saturating_sub(1) as usize)
            .unwrap_or(&"Jan")
    }
}

/// `%t`, `%tr`: `04/Dec/2026:01:16:32.141`.
pub fn log_date(out: &mut Vec<u8>, t: SystemTime) {
    let c = Civil::of(t);
    let _ = write!(
        out,
        "{:02}/{}/{}:{:02}:{:02}:{:02}.{:03}",
        c.d,
        c.month(),
        c.y,
        c.h,
        c.min,
        c.s,
        c.micros / 1000
    );
}

/// `%T`, `%trg`: `04/Dec/2026:01:16:32 +0000`.
pub fn gmt_date(out: &mut Vec<u8>, t: SystemTime) {
    let c = Civil::of(t);
    let _ = write!(
        out,
        "{:02}/{}/{}:{:02}:{:02}:{:02} +0000",
        c.d,
        c.month(),
        c.y,
        c.h,
        c.min,
        c.s
    );
}

/// `Dec  4 01:10:58` (RFC 3164: the day padded with a space).
pub fn bsd_date(t: SystemTime) -> String {
    let c = Civil::of(t);
    format!(
        "{} {:>2} {:02}:{:02}:{:02}",
        c.month(),
        c.d,
        c.h,
        c.min,
        c.s
    )
}

/// `2026-12-04T01:10:58.263096+00:00`.
pub fn iso_date(t: SystemTime) -> String {
    let c = Civil::of(t);
    format!(
        "{}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+00:00",
        c.y, c.m, c.d, c.h, c.min, c.s, c.micros
    )
}

pub fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn every_format() {
        let t = UNIX_EPOCH + Duration::from_micros(1_796_346_658_263_096);
        let mut out = Vec::new();
        log_date(&mut out, t);
        out.push(b' ');
        gmt_date(&mut out, t);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "04/Dec/2026:01:10:58.263 04/Dec/2026:01:10:58 +0000"
        );
        assert_eq!(bsd_date(t), "Dec  4 01:10:58");
        assert_eq!(iso_date(t), "2026-12-04T01:10:58.263096+00:00");
    }
}
