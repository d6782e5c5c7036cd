//! Replays fuzz/corpus/<target>/ through the same target bodies the AFL binaries run
//! (fuzz/src/targets/, compiled here by path), so every input the fuzzers kept and every
//! finding saved as a regression input is checked by `cargo test`. Fast: a few hundred small
//! inputs per target. A failure names the corpus file; `scripts/fuzz.sh TARGET` fuzzes.

// The AFL binaries use the rest of the module (e.g. the shared sandbox directory).
#[allow(dead_code)]
#[path = "../fuzz/src/targets/mod.rs"]
mod targets;

use std::path::{Path, PathBuf};
use targets::pending::{self, Item};
use targets::sandbox::{self, Sandbox};

/// The corpus inputs (target, file) that show each pending item (fuzz/src/targets/pending.rs):
/// with every check on they fail while the item is open.
const PENDING_INPUTS: &[(Item, &str, &[&str])] = &[
    (
        Item::TargetForms,
        "request",
        &[
            "target-relative",
            "target-backslash",
            "target-fragment",
            "target-query-only",
            "target-absolute-one-slash",
            "target-braces",
            "target-quote",
            "target-asterisk-get",
        ],
    ),
    (
        Item::HostValue,
        "request",
        &["host-list", "host-userinfo", "host-space", "host-bad-port"],
    ),
    (
        Item::TeEmptyMembers,
        "request",
        &["te-empty-member", "te-empty-member-first"],
    ),
    (
        Item::MessageWording,
        "config",
        &["invalid-unsupported-keyword.cfg", "seed-haproxy-sample.cfg"],
    ),
    (
        Item::UpgradeWithOtherConnectionTokens,
        "request",
        &["finding-upgrade-other-connection-token"],
    ),
];

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

/// Every file of the target's corpus, sorted by name.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
}

/// The panic message of a failed run.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// Runs each input, collects the failures (with their panic message), fails naming them all.
fn replay(target: &str, inputs: Vec<(String, Vec<u8>)>) {
    let total = inputs.len();
    let mut failures = Vec::new();
    for (name, data) in inputs {
        let outcome = std::panic::catch_unwind(|| assert!(targets::run(target, &data)));
        if let Err(panic) = outcome {
            let msg = panic_message(&*panic);
            failures.push(format!("fuzz/corpus/{target}/{name}: {msg}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} {target} inputs fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn request_corpus() {
    replay("request", corpus("request"));
}

#[test]
fn chunked_corpus() {
    replay("chunked", corpus("chunked"));
}

#[test]
fn proxy_corpus() {
    replay("proxy", corpus("proxy"));
}

#[test]
fn hello_corpus() {
    replay("hello", corpus("hello"));
}

#[test]
fn response_corpus() {
    replay("response", corpus("response"));
}

/// Runs `f` on a thread confined to a private fixture directory, as the AFL binary is.
fn confined(tag: &str, f: impl FnOnce() + Send + 'static) {
    let dir = Sandbox::private(tag).unwrap();
    let path = dir.path().to_path_buf();
    let done = std::thread::spawn(move || {
        if let Err(e) = sandbox::confine_thread(&path) {
            // The corpus is ours, so replaying it unconfined reads only what it names.
            eprintln!("replaying the config corpus unconfined: {e}");
        }
        f();
    })
    .join();
    if let Err(panic) = done {
        std::panic::resume_unwind(panic);
    }
}

/// On a thread confined to a private fixture directory, as the AFL binary is; relative file
/// names in the corpus then find nothing (the binary runs inside the directory), which is
/// fine: the invariants hold either way.
#[test]
fn config_corpus() {
    let inputs = corpus("config");
    confined("replay", move || replay("config", inputs));
}

/// A pending item whose inputs pass with every check on has been fixed: its entry must leave
/// `PENDING`, so that the fuzzers and this replay hold the code to it from now on.
#[test]
fn pending_items_still_fail() {
    for item in pending::PENDING {
        assert!(
            PENDING_INPUTS.iter().any(|(i, _, _)| i == item),
            "pending {item:?} has no corpus inputs in PENDING_INPUTS"
        );
    }
    // Read before confining: the confined thread cannot read the repository.
    let mut inputs = Vec::new();
    for (item, target, names) in PENDING_INPUTS {
        if pending::PENDING.contains(item) {
            for name in *names {
                let data = std::fs::read(corpus_dir(target).join(name)).unwrap();
                inputs.push((*item, *target, *name, data));
            }
        }
    }
    confined("pending", move || {
        let mut fixed = Vec::new();
        for (item, target, name, data) in inputs {
            let strict =
                std::panic::catch_unwind(|| pending::strict(|| targets::run(target, &data)));
            if strict.is_ok() {
                fixed.push(format!("{item:?}: fuzz/corpus/{target}/{name} now passes"));
            }
        }
        assert!(
            fixed.is_empty(),
            "fixed, so remove these items from PENDING in fuzz/src/targets/pending.rs:\n{}",
            fixed.join("\n")
        );
    });
}

#[test]
fn every_target_has_a_corpus() {
    for (target, _) in targets::TARGETS {
        assert!(corpus_dir(target).is_dir(), "no fuzz/corpus/{target}/");
    }
}

/// The sandbox really confines: outside files cannot be read, inside ones can.
#[test]
fn sandbox_confines_the_thread() {
    let dir = Sandbox::private("confine").unwrap();
    let path = dir.path().to_path_buf();
    std::thread::spawn(move || {
        if let Err(e) = sandbox::confine_thread(&path) {
            eprintln!("skipped: {e}");
            return;
        }
        assert!(std::fs::read(path.join("503.http")).is_ok());
        assert!(std::fs::read("/etc/hostname").is_err());
        assert!(std::fs::read(env!("CARGO_MANIFEST_DIR").to_string() + "/Cargo.toml").is_err());
        assert!(std::fs::write(path.join("new"), b"x").is_err());
        assert!(std::net::TcpListener::bind("127.0.0.1:0").is_err());
    })
    .join()
    .unwrap();
}
