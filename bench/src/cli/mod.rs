//! The command line of ringlb-bench (clap): one struct per subcommand, turned into the plain
//! option structs the subcommands run with, so nothing below this module parses arguments.
//!
//! ```text
//!  mod.rs      the subcommands, `completions`, the value parsers shared by all
//!  load.rs     the load options shared by load, ramp and compare; `load`, `ramp`
//!  compare.rs  `compare`, `report`
//!  backend.rs  `backend`
//! ```

mod backend;
mod compare;
mod load;

use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};

pub use backend::BackendCmd;
pub use compare::{CompareCmd, ReportCmd};
pub use load::{LoadCmd, Ramp, RampCmd};

/// ringlb-bench: the benchmark harness of ringlb (backend, load generator, comparisons).
#[derive(Parser, Debug)]
#[command(
    name = "ringlb-bench",
    version = crate::meta::VERSION,
    about,
    after_help = "Every --option VALUE may also be written --option=VALUE. \
                  `ringlb-bench SUBCOMMAND --help` describes each subcommand."
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Run a fast HTTP/1.1 backend (demo and benchmark target)
    Backend(BackendCmd),
    /// HTTP/1.1 load generator (closed or open loop, percentiles, JSON, .hgrm)
    Load(LoadCmd),
    /// Rising open-loop rates until p99 or errors break a threshold
    Ramp(RampCmd),
    /// One scenario against several targets in interleaved rounds (table, JSON, HTML)
    Compare(Box<CompareCmd>),
    /// One HTML page from several `compare --html-fragment` files
    Report(ReportCmd),
    /// Print a shell completion script (e.g. `ringlb-bench completions bash > /etc/bash_completion.d/ringlb-bench`)
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
}

/// Writes the completion script of `shell` to stdout.
pub fn completions(shell: clap_complete::Shell) {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "ringlb-bench", &mut std::io::stdout());
}

/// `2`, `2s`, `1.5`, `500ms`.
pub fn duration(v: &str) -> Result<Duration, String> {
    let (n, scale) = if let Some(ms) = v.strip_suffix("ms") {
        (ms, 0.001)
    } else {
        (v.strip_suffix('s').unwrap_or(v), 1.0)
    };
    match n.parse::<f64>() {
        Ok(x) if x >= 0.0 && x.is_finite() => Ok(Duration::from_secs_f64(x * scale)),
        _ => Err("expected seconds, e.g. 2, 2s or 500ms".to_string()),
    }
}

/// `100`, `64k`, `1m` (binary multiples), at most 1 GiB.
pub fn size(v: &str) -> Result<usize, String> {
    let lower = v.to_ascii_lowercase();
    let (n, mult) = match lower.chars().last() {
        Some('k') => (&lower[..lower.len() - 1], 1024),
        Some('m') => (&lower[..lower.len() - 1], 1024 * 1024),
        _ => (&lower[..], 1),
    };
    n.parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|&n| n <= 1 << 30)
        .ok_or_else(|| "expected a size like 100, 64k or 1m (at most 1g)".to_string())
}

/// A comma-separated list of numbers within `lo..=hi`.
fn list<T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy>(
    v: &str,
    lo: T,
    hi: T,
) -> Result<Vec<T>, String> {
    v.split(',')
        .map(|x| {
            x.trim()
                .parse::<T>()
                .ok()
                .filter(|n| *n >= lo && *n <= hi)
                .ok_or_else(|| {
                    format!("expected a comma-separated list of numbers from {lo} to {hi}")
                })
        })
        .collect()
}

/// CPU core numbers, `0,1`.
pub fn cores(v: &str) -> Result<Vec<usize>, String> {
    list(v, 0, 4095)
}

/// Process ids, `12,13`.
pub fn pids(v: &str) -> Result<Vec<u32>, String> {
    list(v, 1, u32::MAX)
}

/// `NAME=VALUE` with a non-empty name.
pub fn pair(v: &str) -> Result<(String, String), String> {
    v.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, val)| (k.to_string(), val.to_string()))
        .ok_or_else(|| "expected NAME=VALUE".to_string())
}

/// A number > 0 (a rate, a ratio).
pub fn positive(v: &str) -> Result<f64, String> {
    v.parse::<f64>()
        .ok()
        .filter(|x| *x > 0.0 && x.is_finite())
        .ok_or_else(|| "expected a number > 0".to_string())
}

/// A number >= 0 (a threshold).
pub fn non_negative(v: &str) -> Result<f64, String> {
    v.parse::<f64>()
        .ok()
        .filter(|x| *x >= 0.0 && x.is_finite())
        .ok_or_else(|| "expected a number >= 0".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn values() {
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("2s"), Ok(Duration::from_secs(2)));
        assert!(duration("-1").is_err());
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(size("64k"), Ok(65536));
        assert_eq!(size("1M"), Ok(1 << 20));
        assert!(size("k").is_err());
        assert!(size("2g").is_err());
        assert_eq!(cores("0, 1"), Ok(vec![0, 1]));
        assert!(pids("0").is_err());
        assert_eq!(pair("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert!(pair("=x").is_err());
    }

    #[test]
    fn equals_and_space_spellings_agree() {
        let a = Cli::try_parse_from([
            "ringlb-bench",
            "load",
            "-c",
            "8",
            "--rate=100",
            "http://127.0.0.1:1/",
        ]);
        let b = Cli::try_parse_from([
            "ringlb-bench",
            "load",
            "--connections=8",
            "--rate",
            "100",
            "http://127.0.0.1:1/",
        ]);
        let (Ok(Cli { cmd: Cmd::Load(a) }), Ok(Cli { cmd: Cmd::Load(b) })) = (a, b) else {
            panic!("both parse");
        };
        let (a, b) = (a.into_opts(), b.into_opts());
        assert_eq!((a.conns, a.rate), (8, Some(100.0)));
        assert_eq!((b.conns, b.rate), (8, Some(100.0)));
    }

    #[test]
    fn bad_values_name_the_option() {
        let e = Cli::try_parse_from(["ringlb-bench", "load", "--warmup", "soon", "http://x/"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--warmup") && e.contains("expected seconds"),
            "{e}"
        );
    }
}
