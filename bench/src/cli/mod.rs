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

/// One number within `lo..=hi` (an element of a comma-separated list: clap splits the list
/// with `value_delimiter = ','` and parses each element with this).
fn number_in<T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy>(
    v: &str,
    lo: T,
    hi: T,
) -> Result<T, String> {
    v.trim()
        .parse::<T>()
        .ok()
        .filter(|n| *n >= lo && *n <= hi)
        .ok_or_else(|| format!("expected a comma-separated list of numbers from {lo} to {hi}"))
}

/// A CPU core number, one of `--cores 0,1`.
pub fn core(v: &str) -> Result<usize, String> {
    number_in(v, 0, 4095)
}

/// A process id, one of `--cpu-pid 12,13`.
pub fn pid(v: &str) -> Result<u32, String> {
    number_in(v, 1, u32::MAX)
}

/// Process ids, `12,13` (inside another value, e.g. `--pid NAME=12,13`).
pub fn pids(v: &str) -> Result<Vec<u32>, String> {
    v.split(',').map(pid).collect()
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
        assert_eq!(core(" 1"), Ok(1));
        assert!(core("4096").is_err());
        assert_eq!(pids("12, 13"), Ok(vec![12, 13]));
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

    /// Every option of every subcommand, each with a valid value: clap checks an option's
    /// value type only when the parsed matches are read, so a mismatch (e.g. a list parser on
    /// an `Option<Vec<T>>`) would otherwise panic only when someone first uses the option.
    #[rustfmt::skip] // option and value side by side
    fn every_option_of(sub: &str) -> Vec<&'static str> {
        const LOAD: &[&str] = &[
            "-c", "8", "-t", "2", "--cores", "0,1", "--no-pin", "--close", "--rate", "100",
            "--warmup", "500ms", "-d", "2s", "-n", "1000", "--timeout", "3", "--driver", "legacy",
            "-m", "POST", "--body", "64k", "-H", "x-a: 1", "--tls", "--ca", "ca.pem",
            "--insecure", "--sni", "bench.test", "--tls-resume", "--cpu-pid", "12,13",
        ];
        let own: &[&str] = match sub {
            "backend" => &[
                "--listen", "127.0.0.1:0", "--threads", "2", "--cores", "0,1", "--no-pin",
                "--driver", "legacy", "--ring", "defer", "--name", "s1", "--fail-rate", "0.5",
                "--close", "--delay", "5",
            ],
            "load" => &["--json", "a.json", "--hgrm", "a.hgrm", "-q", "http://127.0.0.1:1/"],
            "ramp" => &[
                "--rates", "10,20", "--step", "1", "--max-p99", "5", "--max-errors", "2",
                "--max-shortfall", "5", "http://127.0.0.1:1/",
            ],
            "compare" => &[
                "--target", "a=http://127.0.0.1:1/", "--pid", "a=12,13", "--rounds", "2",
                "--pause", "1", "--idle", "10", "--hold", "1", "--idle-request",
                "--idle-server-port", "80", "--idle-record", "r.txt", "--idle-replay", "r.txt",
                "--cold", "--scenario", "s", "--note", "n", "--goal", "1.2", "--goal-p99",
                "--goal-base", "a,b", "--json", "c.json", "--hgrm", "c", "--about", "k=v",
                "--html", "c.html", "--html-fragment", "c.frag", "--markdown", "c.md",
            ],
            "report" => &["--out", "r.html", "--title", "t", "--intro", "i.txt", "f.html"],
            "completions" => &["bash"],
            other => panic!("no command line for the subcommand {other}: add one"),
        };
        let mut args = own.to_vec();
        if matches!(sub, "load" | "ramp" | "compare") {
            args.extend_from_slice(LOAD);
        }
        args
    }

    #[test]
    fn every_option_parses() {
        let cli = Cli::command();
        for sub in cli.get_subcommands() {
            let name = sub.get_name();
            let args = every_option_of(name);
            for arg in sub.get_arguments() {
                let Some(long) = arg.get_long() else {
                    continue; // a positional: given above
                };
                if ["help", "version"].contains(&long) {
                    continue;
                }
                let (long_form, short_form) = (format!("--{long}"), arg.get_short());
                let given = args
                    .iter()
                    .any(|a| *a == long_form || short_form.is_some_and(|c| *a == format!("-{c}")));
                assert!(
                    given,
                    "{name} {long_form} is not in the test's command line"
                );
            }
            let argv = ["ringlb-bench", name]
                .into_iter()
                .chain(args.iter().copied());
            let parsed = Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{name}: {e}"));
            match parsed.cmd {
                Cmd::Backend(b) => assert_eq!(b.into_opts().cores, Some(vec![0, 1])),
                Cmd::Load(l) => {
                    let o = l.into_opts();
                    assert_eq!((o.cores, o.cpu_pids), (Some(vec![0, 1]), vec![12, 13]));
                }
                Cmd::Ramp(r) => assert_eq!(r.into_ramp().rates, vec![10.0, 20.0]),
                Cmd::Compare(c) => {
                    let o = c.into_opts().unwrap_or_else(|e| panic!("compare: {e}"));
                    assert_eq!(o.targets[0].pids, vec![12, 13]);
                }
                Cmd::Report(r) => assert_eq!(r.fragments, vec!["f.html".to_string()]),
                Cmd::Completions { .. } => {}
            }
        }
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
