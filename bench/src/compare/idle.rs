//! The idle scenario: open many keep-alive connections that send nothing (or, with
//! `IdleHow::request`, that each sent one request and read its response first), and read what
//! they cost each target process: resident memory (VmRSS) and file descriptors, from /proc,
//! and, with `IdleHow::server_port`, the connections open to that port (a proxy's server
//! connections, counted with `ss`).

use std::time::Duration;

use bytes::Bytes;

use crate::json::{self, Json, With};
use crate::load::http::{self, Framing};
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
    /// Established connections to `IdleHow::server_port` while the idle ones were held.
    pub server_conns: Option<u64>,
}

/// What each idle connection does first, and what else is counted.
#[derive(Clone, Debug, Default)]
pub struct IdleHow {
    /// One `GET` of the target's path, its response read whole; the connection stays open.
    pub request: bool,
    /// Count the established connections to this port (`ss`), e.g. a proxy's backend port.
    pub server_port: Option<u16>,
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
        json::obj()
            .with("opened", self.opened)
            .with("failed", self.failed)
            .with("fds_delta", self.fds_delta.map(|d| d as f64))
            .with("rss_before_kib", self.rss_before_kib)
            .with("rss_delta_kib", self.rss_delta_kib.map(|d| d as f64))
            .with("server_conns", self.server_conns)
            .with("bytes_per_conn", self.bytes_per_conn())
    }

    /// One line of an `--idle-record` file: the target's name and the raw figures,
    /// tab-separated, `-` for a figure that could not be read.
    pub fn to_record(&self, name: &str) -> String {
        let opt = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
        format!(
            "{name}\t{}\t{}\t{}\t{}\t{}\t{}",
            self.opened,
            self.failed,
            opt(self.fds_delta),
            opt(self.rss_before_kib.map(|k| k as i64)),
            opt(self.rss_delta_kib),
            opt(self.server_conns.map(|n| n as i64))
        )
    }

    /// Parses a line written by [`IdleResult::to_record`].
    pub fn from_record(line: &str) -> Result<(String, IdleResult), String> {
        let bad = || {
            format!("idle record '{line}': expected NAME OPENED FAILED FDS RSS_BEFORE RSS_ADDED")
        };
        let f: Vec<&str> = line.split('\t').collect();
        // Six fields before server connections were counted.
        if !(6..=7).contains(&f.len()) || f[0].is_empty() {
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
            server_conns: opt(f.get(6).copied().unwrap_or("-"))?.map(|n| n.max(0) as u64),
        };
        Ok((f[0].to_string(), r))
    }
}

/// Opens `n` idle connections to `url`, waits `hold`, and measures `pids`.
pub fn measure(
    url: &str,
    n: usize,
    hold: Duration,
    pids: &[u32],
    how: &IdleHow,
) -> Result<IdleResult, String> {
    let target = Target::parse(url)?;
    let request = how.request.then(|| request_bytes(&target));
    let before = snapshot(pids);
    let driver = Driver::IoUring;
    let server_port = how.server_port;
    let (opened, failed, after, server_conns) = runtime::block_on(driver, || {
        let target = target.clone();
        let request = request.clone();
        async move {
            let mut streams: Vec<Stream> = Vec::with_capacity(n);
            let mut failed = 0;
            while streams.len() + failed < n {
                let batch = CONNECT_BATCH.min(n - streams.len() - failed);
                let tasks: Vec<_> = (0..batch)
                    .map(|_| {
                        let t = target.clone();
                        let request = request.clone();
                        monoio::spawn(async move { open(&t, request).await })
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
            let server_conns = server_port.and_then(established_to);
            (streams.len(), failed, after, server_conns)
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
        server_conns,
    })
}

fn request_bytes(t: &Target) -> Bytes {
    Bytes::from(format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\n\r\n",
        t.path, t.authority
    ))
}

/// One idle connection: connected, and when `request` is given, that request answered in full
/// on it, the connection kept open.
async fn open(t: &Target, request: Option<Bytes>) -> Result<Stream, String> {
    let mut s = t.connect().await.map_err(|e| e.to_string())?;
    if let Some(req) = request {
        let (r, _) = s.write_all(req).await;
        r.map_err(|e| e.to_string())?;
        read_response(&mut s).await?;
    }
    Ok(s)
}

/// Reads one response whole; an error when it is bad or says the connection will close.
async fn read_response(s: &mut Stream) -> Result<(), String> {
    let mut have: Vec<u8> = Vec::new();
    let head = loop {
        if let Some(h) = http::parse_head(&have, true).map_err(|_| "bad response")? {
            break h;
        }
        have = read_more(s, have).await?;
    };
    if head.close {
        return Err("the response closes the connection".into());
    }
    let mut body = have.split_off(head.len);
    match head.framing {
        Framing::None => Ok(()),
        Framing::Length(n) => {
            while (body.len() as u64) < n {
                body = read_more(s, body).await?;
            }
            Ok(())
        }
        Framing::Chunked => {
            let mut chunked = http::Chunked::default();
            loop {
                let (used, done) = chunked.feed(&body).map_err(|_| "bad chunked body")?;
                if done {
                    return Ok(());
                }
                body.drain(..used);
                body = read_more(s, body).await?;
            }
        }
        Framing::UntilClose => Err("a close-delimited response".into()),
    }
}

async fn read_more(s: &mut Stream, mut have: Vec<u8>) -> Result<Vec<u8>, String> {
    let mut buf = Vec::with_capacity(16 * 1024);
    let (r, b) = s.read(buf).await;
    buf = b;
    match r {
        Ok(0) => Err("closed before the end of the response".into()),
        Ok(_) => {
            have.extend_from_slice(&buf);
            Ok(have)
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Established TCP connections to `port` (their remote end), counted by `ss`.
fn established_to(port: u16) -> Option<u64> {
    let out = std::process::Command::new("ss")
        .args(["-Htn", "state", "established"])
        .arg(format!("dport = :{port}"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).lines().count() as u64)
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
            server_conns: Some(3),
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
        let old = IdleResult::from_record("direct\t1\t0\t1\t2\t3").unwrap().1;
        assert_eq!(old.server_conns, None);
        let counted = IdleResult {
            server_conns: Some(2),
            ..IdleResult::default()
        };
        let back = IdleResult::from_record(&counted.to_record("x")).unwrap().1;
        assert_eq!(back.server_conns, Some(2));
    }
}
