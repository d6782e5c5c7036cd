//! The runtime API from a test: one line to a unix stats socket, the whole reply.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// Sends one line to a unix stats socket and reads the reply until the socket closes
/// (non-interactive mode); waits for the socket to appear for a few seconds.
pub fn ask(path: &Path, line: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut s = loop {
        match UnixStream::connect(path) {
            Ok(s) => break s,
            Err(e) => {
                assert!(Instant::now() < deadline, "connect {}: {e}", path.display());
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    };
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(format!("{line}\n").as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// From `show stat`'s CSV: the status and weight of each row starting with `rows` (e.g.
/// `"app,s"`: the servers s1, s2... of backend app), by server name.
pub fn status_and_weight(csv: &str, rows: &str) -> BTreeMap<String, (String, String)> {
    let header: Vec<&str> = csv
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    csv.lines()
        .filter(|l| l.starts_with(rows))
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            let cell = |n: &str| c[col(n)].to_string();
            (cell("svname"), (cell("status"), cell("weight")))
        })
        .collect()
}
