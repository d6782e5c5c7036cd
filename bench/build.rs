//! Records the commit ringlb-bench was built from, so every report names it
//! ("unknown" when built outside a git checkout, e.g. from a tarball).

use std::process::Command;

fn main() {
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=RINGLB_BENCH_COMMIT={commit}");
    // A new commit changes HEAD or the ref it points to; ask git where they are (a
    // worktree's HEAD is not under ../.git). Outside git, nothing to watch.
    for path in ["HEAD", "packed-refs"]
        .into_iter()
        .map(str::to_string)
        .chain(git(&["symbolic-ref", "-q", "HEAD"]))
        .filter_map(|p| git(&["rev-parse", "--git-path", &p]))
    {
        if std::path::Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}

fn git(args: &[&str]) -> Option<String> {
    Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}
