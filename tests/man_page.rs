//! The man page (configs/ringlb.1) and `-vv`: the page renders without a warning where groff
//! or man are installed, names every option of `ringlb --help` and every signal ringlb
//! handles; `-vv` names the build.

#[allow(unused_macros, unused_imports)]
mod common;

use common::*;
use std::process::Command;

const PAGE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/configs/ringlb.1");

/// The options `--help` lists: each line's first words that start with `-`.
fn help_options() -> Vec<String> {
    ringlb::cli::HELP
        .lines()
        .filter(|l| l.starts_with("  -"))
        .flat_map(|l| {
            let head = l.trim_start().split("  ").next().unwrap_or_default();
            head.split(", ")
                .filter_map(|w| w.split([' ', '<']).next())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn every_option_of_help_is_in_the_page() {
    let page = std::fs::read_to_string(PAGE).unwrap().replace("\\-", "-");
    let options = help_options();
    assert!(options.len() >= 13, "{options:?}");
    for o in &options {
        // As a bold option word: `.B -x`, `.BI -x ...`, `\fB-x\fR`, `.BR -h ", " --help`.
        let found = page.lines().any(|l| {
            let l = l
                .trim_start_matches(".BR ")
                .trim_start_matches(".BI ")
                .trim_start_matches(".B ");
            l.split([' ', '"', '\\']).any(|w| w == o)
        }) || page.contains(&format!("\\fB{o}\\fR"));
        assert!(found, "{o} (in --help) is not in configs/ringlb.1");
    }
    for s in [
        "SIGUSR1", "SIGTERM", "SIGINT", "SIGHUP", "SIGTTOU", "SIGTTIN", "SIGUSR2",
    ] {
        assert!(page.contains(s), "{s} is not in configs/ringlb.1");
    }
    for section in [
        "SYNOPSIS",
        "OPTIONS",
        "SIGNALS",
        "EXIT STATUS",
        "FILES",
        "EXAMPLES",
    ] {
        assert!(
            page.contains(&format!(".SH {section}")),
            "no {section} section"
        );
    }
}

#[test]
fn the_page_renders_without_warnings() {
    if !tool_or_skip("groff") {
        return;
    }
    let out = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z", PAGE])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.is_empty(), "groff: {stderr}");
    if !tool_or_skip("man") {
        return;
    }
    // What a user runs (README): man's own checks too.
    let out = Command::new("man")
        .args(["--warnings", "-l", PAGE])
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "80")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.is_empty(),
        "man -l: {stderr}"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("SIGNALS") && text.contains("EXIT STATUS"),
        "{text}"
    );
}

#[test]
fn vv_names_the_build() {
    let (code, out) = run_bounded(&["-vv".to_string()], std::time::Duration::from_secs(10));
    assert_eq!(code, Some(0), "{out}");
    for line in [
        "Git commit: ",
        "Built with: rustc ",
        "Target: ",
        "Cargo features: ",
    ] {
        assert!(out.contains(line), "no '{line}' in -vv:\n{out}");
    }
    // A commit hash, or "unknown" on a build without git.
    let commit = out
        .lines()
        .find_map(|l| l.strip_prefix("Git commit: "))
        .unwrap_or_default();
    assert!(
        commit == "unknown" || (commit.len() >= 7 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
        "{commit}"
    );
    let (code, short) = run_bounded(&["-v".to_string()], std::time::Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert!(!short.contains("Git commit"), "-v stays one line: {short}");
}
