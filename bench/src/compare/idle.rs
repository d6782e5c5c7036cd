//! The idle scenario: open many keep-alive connections that send nothing, and read what they
//! cost each target process: resident memory (VmRSS) and file descriptors, from /proc.

use std::time::Duration;

use crate::json::Json;
use crate::load::stream::{Stream, Target};
use crate::runtime::{self, Driver};

/// Connects in flight at once while opening the idle connections.
const CONNECT_BATCH: usize = 256;
/// After closing them, give the target this long to free them before the next measurement.
const SETTLE: Duration = Duration::from_millis(500);

/// One measurement of one target.
#[derive(Clone, Debug, Default)]
pub struct IdleResult {
    pub opened: usize,
    pub failed: usize,
    /// Change in the open fds of the target's processes: the connections it really accepted.
    pub fds_delta: Option<i64>,
    pub rss_before_kib: Option<u64>,
    pub rss_delta_kib: Option<i64>,
}

impl IdleResult {
    /// RSS growth per connection the target accepted (fds it added; else per opened one).
    pub fn bytes_per_conn(&self) -> Option<f64> {
        let d = self.rss_delta_kib?;
        let conns = self
            .fds_delta
            .filter(|&f| f > 0)
            .map_or(self.opened as f64, |f| f as f64);
        (conns > 0.0).then(|| d as f64 * 1024.0 / conns)
    }

    pub fn to_json(&self) -> Json {
        Json::obj()
            .with("opened", self.opened)
            .with("failed", self.failed)
            .with("fds_delta", self.fds_delta.map(|d| d as f64))
            .with("rss_before_kib", self.rss_before_kib)
            .with("rss_delta_kib", self.rss_delta_kib.map(|d| d as f64))
            .with("bytes_per_conn", self.bytes_per_conn())
    }

    /// One line of an `--idle-record` file: the target's name and the raw figures,
    /// tab-separated, `-` for a figure that could not be read.
    pub fn to_record(&self, name: &str) -> String {
        let opt = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
        format!(
            "{name}\t{}\t{}\t{}\t{}\t{}",
            self.opened,
            self.failed,
            opt(self.fds_delta),
            opt(self.rss_before_kib.map(|k| k as i64)),
            opt(self.rss_delta_kib)
        )
    }

    /// Parses a line written by [`IdleResult::to_record`].
    pub fn from_record(line: &str) -> Result<(String, IdleResult), String> {
        let bad = || {
            format!("idle record '{line}': expected NAME OPENED FAILED FDS RSS_BEFORE RSS_ADDED")
        };
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 6 || f[0].is_empty() {
            return Err(bad());
        }
        let opt = |v: &str| -> Result<Option<i64>, String> {
            if v == "-" {
                Ok(None)
            } else {
                v.parse().map(Some).map_err(|_| bad())
            }
        };
        let r = IdleResult {
            opened: f[1].parse().map_err(|_| bad())?,
            failed: f[2].parse().map_err(|_| bad())?,
            fds_delta: opt(f[3])?,
            rss_before_kib: opt(f[4])?.map(|k| k.max(0) as u64),
            rss_delta_kib: opt(f[5])?,
        };
        Ok((f[0].to_string(), r))
    }
}

/// Opens `n` idle connections to `url`, waits `hold`, and measures `pids`.
pub fn measure(url: &str, n: usize, hold: Duration, pids: &[u32]) -> Result<IdleResult, String> {
    let target = Target::parse(url)?;
    let before = snapshot(pids);
    let driver = Driver::IoUring;
    let (opened, failed, after) = runtime::block_on(driver, || {
        let target = target.clone();
        async move {
            let mut streams: Vec<Stream> = Vec::with_capacity(n);
            let mut failed = 0;
            while streams.len() + failed < n {
                let batch = CONNECT_BATCH.min(n - streams.len() - failed);
                let tasks: Vec<_> = (0..batch)
                    .map(|_| {
                        let t = target.clone();
                        monoio::spawn(async move { t.connect().await })
                    })
                    .collect();
                for t in tasks {
                    match t.await {
                        Ok(s) => streams.push(s),
                        Err(_) => failed += 1,
                    }
                }
            }
            monoio::time::sleep(hold).await;
            let after = snapshot(pids);
            (streams.len(), failed, after)
        }
    })?;
    std::thread::sleep(SETTLE);
    let delta = |a: Option<u64>, b: Option<u64>| Some(a? as i64 - b? as i64);
    Ok(IdleResult {
        opened,
        failed,
        fds_delta: delta(after.fds, before.fds),
        rss_before_kib: before.rss_kib,
        rss_delta_kib: delta(after.rss_kib, before.rss_kib),
    })
}

#[derive(Clone, Copy, Debug, Default)]
struct Snapshot {
    rss_kib: Option<u64>,
    fds: Option<u64>,
}

/// Sums VmRSS and open fds over `pids`; `None` when there are none or one is unreadable.
fn snapshot(pids: &[u32]) -> Snapshot {
    if pids.is_empty() {
        return Snapshot::default();
    }
    let mut s = Snapshot {
        rss_kib: Some(0),
        fds: Some(0),
    };
    for pid in pids {
        let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|st| vm_rss_kib(&st));
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .ok()
            .map(|d| d.count() as u64);
        s.rss_kib = s.rss_kib.zip(rss).map(|(a, b)| a + b);
        s.fds = s.fds.zip(fds).map(|(a, b)| a + b);
    }
    s
}

/// The `VmRSS:` line of /proc/PID/status, in KiB.
pub fn vm_rss_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_rss() {
        let st = "Name:\tx\nVmPeak:\t  9 kB\nVmRSS:\t   12345 kB\nThreads: 1\n";
        assert_eq!(vm_rss_kib(st), Some(12345));
        assert_eq!(vm_rss_kib("Name: x\n"), None);
    }

    #[test]
    fn own_process_is_measurable() {
        let s = snapshot(&[std::process::id()]);
        assert!(s.rss_kib.unwrap() > 0);
        assert!(s.fds.unwrap() > 0);
        assert!(snapshot(&[]).rss_kib.is_none());
    }

    #[test]
    fn bytes_per_connection() {
        let r = IdleResult {
            opened: 1000,
            rss_delta_kib: Some(2000),
            ..IdleResult::default()
        };
        assert_eq!(r.bytes_per_conn(), Some(2048.0));
    }

    #[test]
    fn record_round_trip() {
        let r = IdleResult {
            opened: 10000,
            failed: 0,
            fds_delta: Some(9900),
            rss_before_kib: Some(26_000),
            rss_delta_kib: Some(-12),
        };
        let (name, back) = IdleResult::from_record(&r.to_record("ringlb-io_uring")).unwrap();
        assert_eq!(name, "ringlb-io_uring");
        assert_eq!(back.to_record("x"), r.to_record("x"));
        let none = IdleResult {
            opened: 3,
            ..IdleResult::default()
        };
        let (_, back) = IdleResult::from_record(&none.to_record("direct")).unwrap();
        assert_eq!(back.fds_delta, None);
        assert_eq!(back.rss_delta_kib, None);
        assert!(IdleResult::from_record("direct\t1\t2").is_err());
        assert!(IdleResult::from_record("direct\tx\t0\t-\t-\t-").is_err());
    }
}
