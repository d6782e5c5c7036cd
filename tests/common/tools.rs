//! Operators' tools the tests run unchanged (exporters, promtool, browsers): found on PATH,
//! required under CI (`.ci/run` installs them), skipped with a note elsewhere.

use std::process::Command;

/// `name` is on PATH.
pub fn has_tool(name: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// True when `tool` runs; without it, fails under CI and skips elsewhere.
pub fn tool_or_skip(tool: &str) -> bool {
    if has_tool(tool) {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("install {tool} (.ci/run does)");
    }
    eprintln!("skipping: {tool} is not installed (CI fails here instead)");
    false
}
