//! The configuration loader: text in, a Model or `file:line` errors out, never a panic.
//!
//! Asserts: a refusal carries at least one error; a Model comes with warnings only; every
//! message names the file and a line that exists (or 0 for the file as a whole), sorted by
//! line; loading the same text twice gives the same messages. (A message may span lines: a
//! word written `co\nnect` holds a real newline after unescaping, and is quoted as it is, as
//! HAProxy 2.6 does.)
//!
//! File names in the text (errorfile, ACL `-f`, maps, `return ... file`) are read by the
//! loader: the caller must confine the thread first (`sandbox::confine_thread`), which both
//! the AFL binary and tests/fuzz_corpus.rs do.

use super::pending;
use ringlb::config::{self, Diagnostic, Severity};

/// The name the loader sees for the fuzzed text.
pub const FILE_NAME: &str = "fuzz.cfg";

pub fn run(data: &[u8]) {
    // As config::load does for a file: invalid UTF-8 replaced, the rest still checked.
    let text = String::from_utf8_lossy(data);
    let first = config::load_str(FILE_NAME, &text);
    let lines = text.split('\n').count();
    let diags = match &first {
        Ok(loaded) => {
            let error = loaded
                .warnings
                .iter()
                .find(|d| d.severity == Severity::Error);
            assert!(
                error.is_none(),
                "a Model despite {}",
                error.map(|d| d.to_string()).unwrap_or_default()
            );
            &loaded.warnings
        }
        Err(diags) => {
            assert!(
                diags.iter().any(|d| d.severity == Severity::Error),
                "refused without an error: {diags:?}"
            );
            diags
        }
    };
    check_messages(diags, lines);
    let second = config::load_str(FILE_NAME, &text);
    assert_eq!(
        messages(&first),
        messages(&second),
        "the same text loads differently twice"
    );
}

fn check_messages(diags: &[Diagnostic], lines: usize) {
    let mut last = 0;
    for d in diags {
        assert_eq!(d.file, FILE_NAME, "message for another file: {d}");
        let line = d.line as usize;
        assert!(line <= lines, "line {line} of a {lines}-line text: {d}");
        assert!(line >= last, "messages not sorted by line");
        last = line;
        assert!(!d.message.trim().is_empty(), "empty message at line {line}");
        pending::check_message_wording(&d.message);
    }
}

fn messages(r: &Result<config::Loaded, Vec<Diagnostic>>) -> (bool, Vec<String>) {
    let (ok, diags) = match r {
        Ok(l) => (true, &l.warnings),
        Err(d) => (false, d),
    };
    (ok, diags.iter().map(ToString::to_string).collect())
}
