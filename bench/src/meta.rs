//! What a report says about its run: the machine (absolute numbers on shared machines drift,
//! so every figure carries where it was taken), the time, and this harness's version and
//! commit.

use crate::json::{self, Json, With};

/// This harness's version and the commit it was built from (bench/build.rs).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (git ",
    env!("RINGLB_BENCH_COMMIT"),
    ")"
);

/// The machine, the time and the harness, as the JSON reports' `about`.
pub fn about() -> Json {
    json::obj()
        .with("time_utc", utc_now())
        .with("harness", format!("ringlb-bench {VERSION}"))
        .with("commit", env!("RINGLB_BENCH_COMMIT"))
        .with("machine", machine())
}

fn machine() -> Json {
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    json::obj()
        .with("nproc", nproc)
        .with("cpu", cpu_model())
        .with("kernel", kernel_release())
        .with("mem_total_kib", mem_total_kib())
        .with("loadavg", first_line("/proc/loadavg"))
}

fn first_line(path: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().next().map(str::to_string)
}

fn cpu_model() -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    text.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

fn mem_total_kib() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn kernel_release() -> Option<String> {
    first_line("/proc/sys/kernel/osrelease")
}

/// Now as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    utc(secs)
}

/// Seconds since the epoch as a UTC timestamp (days to a civil date: Howard Hinnant's
/// algorithm, valid for every date after 1970).
fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_796_358_896), "2026-12-04T04:34:56Z");
    }
}
