//! ringlb-bench: the benchmark harness of ringlb.
//!
//! Subcommands (the command line is `cli/`, clap):
//! - `backend`: a fast thread-per-core HTTP/1.1 backend (monoio), used by the demo, the
//!   benchmarks and the end-to-end tests. See `backend.rs` for its module map.
//! - `load`, `ramp`: the HTTP/1.1 load generator (`load/mod.rs`).
//! - `compare`, `report`: interleaved comparisons and their reports (`compare/mod.rs`).
//! - `completions SHELL`: a shell completion script.

mod backend;
mod cli;
mod compare;
mod json;
mod load;
mod meta;
mod runtime;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Cmd};

fn main() -> ExitCode {
    // Output piped into `head` or a closed pager ends the program quietly, as for any Unix
    // tool, instead of a panic in println!.
    // SAFETY: setting a signal's disposition to the default, before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Usage errors: clap's message and exit status 2; --help and --version: exit 0.
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Backend(c) => backend::main(c.into_opts()),
        Cmd::Load(c) => load::main(c.into_opts()),
        Cmd::Ramp(c) => load::ramp::main(c.into_ramp()),
        Cmd::Compare(c) => c.into_opts().and_then(compare::main),
        Cmd::Report(c) => compare::report_main(c),
        Cmd::Completions { shell } => {
            cli::completions(shell);
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("ringlb-bench: {msg}");
            ExitCode::from(2)
        }
    }
}
