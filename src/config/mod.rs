//! Configuration: HAProxy's language read in two stages.
//!
//! `syntax` turns files into sections of lines of words that remember `file:line`; `keywords`
//! holds the one table that says, for every keyword, where it may appear and how it is parsed
//! (parse functions live in `global`, `proxy`, `server`, `check` (health checks), `http_rules`
//! (http-request/-response rules, userlists), with `cond` for ACLs, `expr` for sample
//! expressions and log-format strings, `addr` and `duration` for values; the compiled rule
//! types are in `model_rules`) into the builders of `draft`; `validate` builds the `model::Model`,
//! inheriting defaults and resolving names. Every stage collects its problems instead of stopping
//! at the first, so the user sees all of them in one run. Nothing here opens a socket.

pub mod addr;
pub mod check;
pub mod cond;
pub mod draft;
pub mod duration;
pub mod error;
pub mod expr;
pub mod global;
pub mod http_rules;
pub mod keywords;
pub mod model;
pub mod model_rules;
pub mod proxy;
pub mod server;
pub mod suggest;
pub mod syntax;
pub mod validate;

pub use error::{Diagnostic, Severity};
pub use model::Model;

use error::Diags;
use std::path::{Path, PathBuf};

/// A loaded configuration and the warnings found on the way.
#[derive(Debug)]
pub struct Loaded {
    pub model: Model,
    pub warnings: Vec<Diagnostic>,
}

/// Loads files and directories (a directory = its `*.cfg` files in lexical order) in order, as
/// `haproxy -f a -f b`. `Err` holds every error and warning found, sorted by file then line.
pub fn load(paths: &[PathBuf]) -> Result<Loaded, Vec<Diagnostic>> {
    let mut diags = Diags::default();
    let mut files: Vec<(String, String)> = Vec::new();
    for path in paths {
        for file in expand(path, &mut diags) {
            let name = file.display().to_string();
            match std::fs::read(&file) {
                Ok(bytes) => files.push((name, decode(bytes))),
                Err(e) => diags.list.push(Diagnostic {
                    severity: Severity::Error,
                    file: name,
                    line: 0,
                    message: format!("cannot read configuration file: {e}"),
                }),
            }
        }
    }
    if files.is_empty() && !diags.has_errors() {
        diags.list.push(Diagnostic {
            severity: Severity::Error,
            file: "<command line>".into(),
            line: 0,
            message: "no configuration file given; pass one with -f FILE".into(),
        });
    }
    finish(files, diags)
}

/// Loads one in-memory file (for tests).
pub fn load_str(file_name: &str, text: &str) -> Result<Loaded, Vec<Diagnostic>> {
    finish(
        vec![(file_name.to_string(), text.to_string())],
        Diags::default(),
    )
}

fn finish(files: Vec<(String, String)>, mut diags: Diags) -> Result<Loaded, Vec<Diagnostic>> {
    let mut sections = Vec::new();
    for (name, text) in &files {
        sections.extend(syntax::parse_file(name, text, &mut diags));
    }
    let model = validate::build(sections, &mut diags);
    let order: Vec<String> = files.into_iter().map(|(n, _)| n).collect();
    let all = diags.into_sorted(&order);
    match model {
        Some(model) => Ok(Loaded {
            model,
            warnings: all,
        }),
        None => Err(all),
    }
}

/// A directory stands for its `*.cfg` files in lexical order, as in HAProxy.
fn expand(path: &Path, diags: &mut Diags) -> Vec<PathBuf> {
    if !path.is_dir() {
        return vec![path.to_path_buf()];
    }
    match std::fs::read_dir(path) {
        Ok(rd) => {
            let mut v: Vec<PathBuf> = rd
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "cfg"))
                .collect();
            v.sort();
            v
        }
        Err(e) => {
            diags.list.push(Diagnostic {
                severity: Severity::Error,
                file: path.display().to_string(),
                line: 0,
                message: format!("cannot read configuration directory: {e}"),
            });
            Vec::new()
        }
    }
}

/// Invalid UTF-8 is replaced (U+FFFD) so the rest of the file is still checked; the replaced
/// characters then show up as non-ASCII errors with their column.
fn decode(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}
