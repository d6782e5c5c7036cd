//! CPU time of other processes (a proxy under load): utime + stime from /proc/PID/stat, which
//! for a process sums all its threads. Read before and after the measured window, the
//! difference over the requests (or handshakes) is the proxy's CPU cost per unit of work,
//! the figure that stays fair when the proxies' throughput is capped by the shared cores.

/// The summed CPU seconds (user + system) of `pids`.
pub fn seconds(pids: &[u32]) -> Result<f64, String> {
    let hz = clock_ticks_per_second();
    let mut ticks = 0u64;
    for &pid in pids {
        let path = format!("/proc/{pid}/stat");
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        ticks += parse_ticks(&text).ok_or_else(|| format!("{path}: unexpected format"))?;
    }
    Ok(ticks as f64 / hz)
}

/// utime + stime (fields 14 and 15) of a /proc/PID/stat line. The command name (field 2) is
/// in parentheses and may hold spaces or parentheses itself, so fields count from the last ')'.
fn parse_ticks(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11); // field 3 (state) is the first here
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a constant of the system; it has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    // USER_HZ is 100 on every Linux ABI; fall back to it if sysconf fails.
    if hz > 0 {
        hz as f64
    } else {
        100.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utime_and_stime_after_the_command_name() {
        let line = "1234 (a b) c) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 17 0 0 20 0 3 0 5";
        assert_eq!(parse_ticks(line), Some(267));
        assert_eq!(parse_ticks("1 (x) S 1"), None);
    }

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        assert!(seconds(&[me]).unwrap() >= 0.0);
        assert!(seconds(&[u32::MAX]).is_err());
    }
}
