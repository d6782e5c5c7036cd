//! Cargo's build script (`build = "src/build.rs"` in Cargo.toml; not a module of the crate):
//! what `ringlb -vv` and `show info` say about the build. Every value falls back to
//! "unknown" where it cannot be learned (a tarball without `.git`, no `git` installed), so
//! the build never fails for it.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git").args(args).output().ok()?;
        let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (out.status.success() && !s.is_empty()).then_some(s)
    };
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    // HAProxy's Release_date layout (YYYY/MM/DD): the commit's date.
    let date = git(&["log", "-1", "--format=%cd", "--date=format:%Y/%m/%d"])
        .unwrap_or_else(|| "unknown".into());
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc_version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into());
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    let profile = std::env::var("PROFILE").unwrap_or_else(|_| "unknown".into());
    let mut features: Vec<String> = std::env::vars()
        .filter_map(|(k, _)| k.strip_prefix("CARGO_FEATURE_").map(|f| f.to_lowercase()))
        .collect();
    features.sort();
    let features = if features.is_empty() {
        "none".to_string()
    } else {
        features.join(" ")
    };
    println!("cargo:rustc-env=RINGLB_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=RINGLB_RELEASE_DATE={date}");
    println!("cargo:rustc-env=RINGLB_RUSTC_VERSION={rustc_version}");
    println!("cargo:rustc-env=RINGLB_TARGET={target}");
    println!("cargo:rustc-env=RINGLB_PROFILE={profile}");
    println!("cargo:rustc-env=RINGLB_FEATURES={features}");
    rerun_on_new_commits(&git);
}

/// Rebuilt when HEAD moves (a commit, a checkout), not on every build: HEAD itself, the
/// branch it names, packed refs. In a worktree the branch lives in the common directory.
fn rerun_on_new_commits(git: &dyn Fn(&[&str]) -> Option<String>) {
    println!("cargo:rerun-if-changed=src/build.rs");
    let (Some(dir), Some(common)) = (
        git(&["rev-parse", "--absolute-git-dir"]),
        git(&["rev-parse", "--path-format=absolute", "--git-common-dir"]),
    ) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let common = dir.join(common);
    println!("cargo:rerun-if-changed={}", dir.join("HEAD").display());
    println!(
        "cargo:rerun-if-changed={}",
        common.join("packed-refs").display()
    );
    if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]) {
        println!("cargo:rerun-if-changed={}", common.join(r).display());
    }
}
