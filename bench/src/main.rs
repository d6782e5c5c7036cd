//! ringlb-bench: the benchmark harness of ringlb.
//!
//! Subcommands:
//! - `backend`: a fast thread-per-core HTTP/1.1 backend (monoio), used by the demo, the
//!   benchmarks and the end-to-end tests. See `backend.rs` for its module map.
//! - `load`: the HTTP/1.1 load generator (`load/mod.rs`).
//! - `compare`, `report`: interleaved comparisons and their reports (`compare/mod.rs`).

mod backend;
mod compare;
mod json;
mod load;
mod meta;
mod runtime;

use std::process::ExitCode;

const USAGE: &str = "\
ringlb-bench: benchmark harness for ringlb

USAGE:
    ringlb-bench <SUBCOMMAND> [OPTIONS]

SUBCOMMANDS:
    backend     run a fast HTTP/1.1 backend (demo and benchmark target)
    load        HTTP/1.1 load generator (closed or open loop, percentiles, JSON)
    ramp        rising open-loop rates until p99 or errors break a threshold
    compare     one scenario against several targets in interleaved rounds (table, JSON, HTML)
    report      one HTML page from several compare --html-fragment files
    help        print this help (or `ringlb-bench <SUBCOMMAND> --help`)
    --version   print the version and the commit it was built from

Every `--option VALUE` may also be written `--option=VALUE`.
";

fn main() -> ExitCode {
    // Output piped into `head` or a closed pager ends the program quietly, as for any Unix
    // tool, instead of a panic in println!.
    // SAFETY: setting a signal's disposition to the default, before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args = split_equals(std::env::args().skip(1));
    let Some((cmd, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match cmd.as_str() {
        "backend" => backend::main(rest),
        "load" => load::main(rest),
        "ramp" => load::ramp::main(rest),
        "compare" => compare::main(rest),
        "report" => compare::report_main(rest),
        "--version" | "-V" | "version" => {
            println!("ringlb-bench {}", meta::VERSION);
            Ok(())
        }
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown subcommand '{other}'\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("ringlb-bench: {msg}");
            ExitCode::from(2)
        }
    }
}

/// `--opt=value` as `--opt value`, so every subcommand's parser takes both spellings.
fn split_equals(args: impl Iterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    for a in args {
        match a.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") && flag.len() > 2 => {
                out.push(flag.to_string());
                out.push(value.to_string());
            }
            _ => out.push(a),
        }
    }
    out
}
