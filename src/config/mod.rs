//! Configuration: HAProxy's language read in two stages.
//!
//! `syntax` turns files into sections of lines of words that remember `file:line`, applying
//! the conditional blocks as it reads (`blocks`; `block_cond` answers their conditions); `keywords`
//! holds the one table that says, for every keyword, where it may appear and how it is parsed
//! (parse functions live in `global` (`global_vars` for `set-var`), `proxy`, `server`, `check` (health checks), `http_rules`
//! (http-request/-response rules, userlists), `tcp_rules` (tcp-request/-response rules into
//! `model_tcp`), `tune` (the `tune.*` internals accepted with a
//! note, `tune.maxrewrite`, `thread-groups`), with `cond` for ACLs, `expr` for sample
//! expressions and log-format strings, `addr` and `duration` for values; the compiled rule
//! types are in `model_rules`; `bind_tls` reads a bind's TLS options into `model_tls::BindTls`
//! and, at validation, loads its certificates through `tls::`) into the builders of `draft`. The words inside those lines
//! (fetches, converters, actions, server options, balance algorithms) have their own tables in
//! `catalog`, built the same way; `validate` builds the `model::Model`,
//! inheriting defaults and resolving names. Every stage collects its problems instead of stopping
//! at the first, so the user sees all of them in one run, and remembers what failed (`draft::
//! Failed`) so that one mistake gives one message. Every file read (configuration, errorfiles,
//! pattern and map files) goes through `files` (regular files of bounded size), every regex
//! through `regexes` (linear-time, PCRE-only constructs named). Problems are `error::Diagnostic`s
//! (`file:line: message`), with `suggest`'s "did you mean" where a near name exists; `ids`
//! holds the typed indexes (`FrontendId`, `BackendId`, `ServerId`) the rest of the program
//! passes instead of bare positions. Nothing here opens a socket. Last, once the model is
//! built, `server_state` reads the server state files a reload left (`state_file` reads
//! their layout) into each server's start state, as warnings when something is wrong.

pub mod addr;
pub mod bind_tls;
#[cfg(test)]
mod bind_tls_tests;
pub mod block_cond;
pub mod blocks;
pub mod catalog;
pub mod check;
pub mod cond;
pub mod draft;
pub mod duration;
pub mod error;
pub mod expr;
pub mod files;
pub mod global;
pub mod global_vars;
pub mod h2_tune;
pub mod http_rules;
pub mod ids;
pub mod keywords;
pub mod log;
pub mod log_format;
pub mod log_resolve;
pub mod model;
pub mod model_log;
pub mod model_rules;
pub mod model_tcp;
pub mod model_tls;
pub mod proxy;
pub mod regexes;
pub mod server;
pub mod server_dynamic;
pub mod server_state;
pub mod server_tls;
pub mod state_file;
pub mod stats;
pub mod suggest;
pub mod syntax;
pub mod tcp_rules;
pub mod tune;
pub mod unique_id;
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
    let mut empty_dirs: Vec<(String, String)> = Vec::new();
    for path in paths {
        let listed = if path.is_dir() {
            let listed = expand(path, &mut diags);
            if let Some(why) = listed.empty {
                empty_dirs.push((path.display().to_string(), why));
            }
            listed.files
        } else {
            vec![path.to_path_buf()]
        };
        for file in listed {
            let name = file.display().to_string();
            match files::read_bounded(&file, files::CONFIG_FILE_LIMIT) {
                Ok(bytes) => files.push((name, decode(bytes))),
                Err(e) => whole_file(
                    &mut diags,
                    Severity::Error,
                    name,
                    format!("configuration file {e}"),
                ),
            }
        }
    }
    // An empty conf.d beside other files is common (HAProxy accepts it silently): a warning.
    let severity = if files.is_empty() {
        Severity::Error
    } else {
        Severity::Warning
    };
    for (dir, why) in empty_dirs {
        whole_file(&mut diags, severity, dir, why);
    }
    if files.is_empty() && !diags.has_errors() {
        whole_file(
            &mut diags,
            Severity::Error,
            "<command line>".into(),
            "no configuration file given; pass one with -f FILE".into(),
        );
    }
    finish(files, diags)
}

/// A problem with a file as a whole (line 0: no line to point at).
fn whole_file(diags: &mut Diags, severity: Severity, file: String, message: String) {
    diags.list.push(Diagnostic {
        severity,
        file,
        line: 0,
        message,
    });
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
        if diags.aborted {
            break;
        }
    }
    // After an `.alert` the configuration is incomplete: as HAProxy, nothing more is checked.
    let mut model = if diags.aborted {
        None
    } else {
        validate::build(sections, &mut diags)
    };
    if let Some(m) = &mut model {
        // After validation, before any thread: the servers' states from before a reload.
        server_state::apply(m, &mut diags);
    }
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

/// The `*.cfg` files of a `-f` directory, and why it gave none.
struct Listing {
    files: Vec<PathBuf>,
    /// Set when the directory holds no usable `*.cfg` file: what it holds instead.
    empty: Option<String>,
}

/// A directory stands for its `*.cfg` files in lexical order, as in HAProxy. A `*.cfg` entry
/// that is a link pointing nowhere is an error (HAProxy fails on it too); one that is not a
/// regular file (a directory, a FIFO) is skipped with a warning (HAProxy skips it silently).
fn expand(path: &Path, diags: &mut Diags) -> Listing {
    let entries: Vec<PathBuf> = match std::fs::read_dir(path) {
        Ok(rd) => rd.filter_map(Result::ok).map(|e| e.path()).collect(),
        Err(e) => {
            let name = path.display().to_string();
            whole_file(
                diags,
                Severity::Error,
                name,
                format!("cannot read configuration directory: {e}"),
            );
            return Listing {
                files: Vec::new(),
                empty: None,
            };
        }
    };
    let (mut cfgs, others): (Vec<PathBuf>, Vec<PathBuf>) = entries
        .into_iter()
        .partition(|p| p.extension().is_some_and(|e| e == "cfg"));
    cfgs.sort();
    let mut files = Vec::new();
    let (mut dangling, mut skipped) = (false, false);
    for p in cfgs {
        let name = p.display().to_string();
        match files::check_regular(&p) {
            Ok(()) => files.push(p),
            Err(e @ files::FileError::DanglingLink(_)) => {
                dangling = true;
                whole_file(
                    diags,
                    Severity::Error,
                    name,
                    format!("configuration file {e}"),
                );
            }
            Err(e) => {
                skipped = true;
                whole_file(diags, Severity::Warning, name, format!("skipped: {e}"));
            }
        }
    }
    let empty = (files.is_empty() && !dangling).then(|| empty_reason(&others, skipped));
    Listing { files, empty }
}

/// "directory holds no *.cfg file", with what it does hold: a wrong extension is a usual slip.
fn empty_reason(others: &[PathBuf], skipped: bool) -> String {
    const SHOWN: usize = 3;
    let mut names: Vec<String> = others
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    if skipped {
        return "configuration directory holds no regular *.cfg file (its *.cfg entries were skipped)".into();
    }
    let base = "configuration directory holds no *.cfg file (ringlb, as HAProxy, reads only the *.cfg files of a -f directory)";
    match names.len() {
        0 => format!("{base}; it is empty"),
        n => {
            let more = if n > SHOWN {
                format!(" and {} more", n - SHOWN)
            } else {
                String::new()
            };
            let shown: Vec<&str> = names.iter().take(SHOWN).map(String::as_str).collect();
            format!("{base}; it holds {}{more}", shown.join(", "))
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
