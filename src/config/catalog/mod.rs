//! The catalogues: one table per family of words a configuration line may name, built like the
//! keyword table (`keywords.rs`). Every row names the word, where it may appear, and either the
//! function that parses it or the reason it is refused, so that adding one is one row plus its
//! function. The lookups, the "did you mean" hints, the "where it may appear" checks and
//! README.md's lists all read these tables; nothing else lists the names.
//!
//! - `fetches`: sample fetches (`req.hdr`, `src`, ...): what they read (hence the rules they
//!   may appear in) and the type of their sample.
//! - `converters`: converters (`lower`, `map_beg`, ...): the type of their output.
//! - `actions`: `http-request` / `http-response` / `http-after-response` actions: the phases
//!   they may appear in.
//! - `server_options`: options of `server` / `default-server` lines: whether they take a value
//!   and whether they need `check`.
//! - `balance`: `balance` algorithms: written as a word or as `name(ARG)`.
//!
//! The parse functions stay small and beside their rows; shared value parsers (`expr`'s
//! `split_call`, `var_name`, log-format strings) stay where they were.

pub mod actions;
pub mod balance;
pub mod converters;
pub mod fetches;
pub mod server_options;

/// What a row does with its word.
#[derive(Clone, Copy)]
pub enum Handler<S: 'static> {
    /// Supported: where it may appear and how it is parsed.
    Parse(S),
    /// Known to HAProxy, not implemented by ringlb: the reason is shown to the user.
    Refused(&'static str),
}

/// Refusal reasons starting with this say what ringlb lacks today (the message reads "... is
/// not supported by ringlb yet", followed by the rest of the reason); the others say what to
/// write instead.
pub const YET: &str = "not supported yet";

/// The message for a refused word: `WHAT is not supported by ringlb yet...` for the reasons
/// starting with `YET`, else `WHAT: REASON`.
pub fn refusal(what: &str, why: &str) -> String {
    match why.strip_prefix(YET) {
        Some(detail) => format!("{what} is not supported by ringlb yet{detail}"),
        None => format!("{what}: {why}"),
    }
}

/// A table as markdown: a header row, then one line per row.
fn markdown(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let mut out = format!(
        "| {} |\n|{}\n",
        header.join(" | "),
        "---|".repeat(header.len())
    );
    for cells in rows {
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

/// The status column of a refused row, as the keyword table writes it.
fn refused_cell(why: &str) -> String {
    format!("refused: {why}")
}

/// Every catalogue's README.md table, by the name of its markers (`<!-- NAME:start -->`).
pub fn readme_tables() -> [(&'static str, String); 5] {
    [
        ("fetches", fetches::markdown()),
        ("converters", converters::markdown()),
        ("actions", actions::markdown()),
        ("server-options", server_options::markdown()),
        ("balance", balance::markdown()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");

    fn markers(name: &str) -> (String, String) {
        (
            format!("<!-- {name}:start -->\n"),
            format!("<!-- {name}:end -->"),
        )
    }

    #[test]
    fn readme_catalogue_tables_are_current() {
        let text = std::fs::read_to_string(README).unwrap_or_default();
        for (name, table) in readme_tables() {
            let (start, end) = markers(name);
            assert!(
                text.contains(&format!("{start}{table}{end}")),
                "README.md's {name} table is stale: run `cargo test -- --ignored write_catalogue_tables`"
            );
        }
    }

    /// Rewrites each catalogue's table between its markers in README.md.
    #[test]
    #[ignore]
    fn write_catalogue_tables() {
        let mut text = std::fs::read_to_string(README).unwrap_or_default();
        for (name, table) in readme_tables() {
            let (start, end) = markers(name);
            let (Some(a), Some(b)) = (text.find(&start), text.find(&end)) else {
                panic!("README.md lacks the {name} table markers");
            };
            text = format!("{}{start}{table}{}", &text[..a], &text[b..]);
        }
        assert!(std::fs::write(README, text).is_ok());
    }

    #[test]
    fn refusals_read_like_the_keyword_table() {
        assert_eq!(
            refusal("fetch 'x'", YET),
            "fetch 'x' is not supported by ringlb yet"
        );
        assert_eq!(
            refusal("server option 'ssl'", "TLS to servers is not supported yet"),
            "server option 'ssl': TLS to servers is not supported yet"
        );
    }
}

/// Test helpers shared by the catalogues' tests: loading a configuration through the real
/// loader and reading its first error.
#[cfg(test)]
pub(crate) mod testing {
    /// The configuration's errors (empty when it loads).
    pub fn errors(text: &str) -> Vec<String> {
        match super::super::load_str("t.cfg", text) {
            Ok(_) => Vec::new(),
            Err(diags) => diags
                .into_iter()
                .filter(|d| d.severity == super::super::Severity::Error)
                .map(|d| d.message)
                .collect(),
        }
    }

    /// Asserts that every name appears once.
    pub fn assert_unique<'a>(names: impl Iterator<Item = &'a str>) {
        let mut seen = std::collections::HashSet::new();
        for n in names {
            assert!(seen.insert(n), "duplicate row '{n}'");
        }
    }
}
