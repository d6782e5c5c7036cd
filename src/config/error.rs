//! Diagnostics: every problem found while loading, with the file and line it comes from.
//!
//! Parsers never stop at the first problem; they push into a `Diags` collector and carry on, so
//! the user sees every mistake of a file in one run.

use super::model::Loc;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// `.notice` in a configuration: shown as HAProxy's NOTICE lines, never a failure.
    Notice,
    Warning,
    Error,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: String,
    /// 1-based line number; 0 when the problem belongs to no line (e.g. a missing file).
    pub line: u32,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.severity {
            Severity::Notice => "notice: ",
            Severity::Warning => "warning: ",
            Severity::Error => "",
        };
        // Line 0 means "the file as a whole" (it could not be read, say): no line to point at.
        if self.line == 0 {
            write!(f, "{}: {}{}", self.file, tag, self.message)
        } else {
            write!(f, "{}:{}: {}{}", self.file, self.line, tag, self.message)
        }
    }
}

/// Collector handed to every parse function.
#[derive(Debug, Default)]
pub struct Diags {
    pub list: Vec<Diagnostic>,
    /// An `.alert` stopped loading: nothing after it is read, and no model is built.
    pub aborted: bool,
}

impl Diags {
    pub fn error(&mut self, loc: &Loc, message: impl Into<String>) {
        self.push(Severity::Error, loc, message.into());
    }

    pub fn warn(&mut self, loc: &Loc, message: impl Into<String>) {
        self.push(Severity::Warning, loc, message.into());
    }

    pub fn notice(&mut self, loc: &Loc, message: impl Into<String>) {
        self.push(Severity::Notice, loc, message.into());
    }

    /// Moves another collector's findings here (`errors_only`: its warnings are dropped).
    pub fn append(&mut self, other: Diags, errors_only: bool) {
        self.aborted |= other.aborted;
        self.list.extend(
            other
                .list
                .into_iter()
                .filter(|d| !errors_only || d.severity == Severity::Error),
        );
    }

    fn push(&mut self, severity: Severity, loc: &Loc, message: String) {
        let file = loc.file.to_string();
        self.list.push(Diagnostic {
            severity,
            file,
            line: loc.line,
            message,
        });
    }

    pub fn has_errors(&self) -> bool {
        self.list.iter().any(|d| d.severity == Severity::Error)
    }

    /// Sorted by file (in load order) then line; the sort is stable so one line's messages keep
    /// the order they were found in.
    pub fn into_sorted(mut self, file_order: &[String]) -> Vec<Diagnostic> {
        let rank = |f: &str| file_order.iter().position(|x| x == f).unwrap_or(usize::MAX);
        self.list.sort_by_key(|d| (rank(&d.file), d.line));
        self.list
    }
}
