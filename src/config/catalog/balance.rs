//! The `balance` algorithm table: every algorithm ringlb runs, with how it is written (a plain
//! word, or `name(ARG)`) and its parse function; then the HAProxy algorithms ringlb refuses by
//! name. `parse` looks the algorithm up and words a miss with the closest one.
//!
//! The worker side (`worker::balance`) matches exhaustively over `model::Balance`, so a row
//! with a new variant does not build until the balancer runs it.

use super::{refusal, Handler, YET};
use crate::config::model::Balance;
use crate::config::suggest;
use Form::{Call, Word};

/// How an algorithm is written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// The name alone, possibly followed by option words (`uri whole`).
    Word,
    /// `name(ARG)`.
    Call,
}

/// `balance ALGO OPTIONS...` as written.
pub struct Args<'a> {
    pub algo: &'a str,
    pub options: &'a [String],
}

pub type ParseFn = fn(&Args) -> Result<Balance, String>;

/// A supported algorithm: how it is written in messages and examples, how it is parsed.
#[derive(Clone, Copy)]
pub struct Spec {
    /// As "needs an algorithm" lists it: `hdr(NAME)`.
    pub syntax: &'static str,
    /// A use of it that loads, for "did you mean", README.md and the tests.
    pub example: &'static str,
    pub parse: ParseFn,
}

pub struct Row {
    pub name: &'static str,
    pub form: Form,
    pub handler: Handler<Spec>,
}

const fn ok(
    name: &'static str,
    form: Form,
    syntax: &'static str,
    example: &'static str,
    parse: ParseFn,
) -> Row {
    Row {
        name,
        form,
        handler: Handler::Parse(Spec {
            syntax,
            example,
            parse,
        }),
    }
}

const fn no(name: &'static str, form: Form, why: &'static str) -> Row {
    Row {
        name,
        form,
        handler: Handler::Refused(why),
    }
}

/// What to write instead of a refused algorithm.
const INSTEAD: &str = "not supported yet; use roundrobin, leastconn, source, uri or hdr(NAME)";

/// Supported rows first, in the order messages list them and "did you mean" prefers on a tie.
#[rustfmt::skip]
pub static TABLE: &[Row] = &[
    ok("roundrobin", Word, "roundrobin", "roundrobin", |a| plain(a, Balance::RoundRobin)),
    ok("static-rr", Word, "static-rr", "static-rr", |a| plain(a, Balance::StaticRr)),
    ok("leastconn", Word, "leastconn", "leastconn", |a| plain(a, Balance::LeastConn)),
    ok("first", Word, "first", "first", |a| plain(a, Balance::First)),
    ok("source", Word, "source", "source", |a| plain(a, Balance::Source)),
    ok("uri", Word, "uri", "uri whole", uri),
    ok("hdr", Call, "hdr(NAME)", "hdr(host)", hdr),
    ok("random", Word, "random", "random", |a| plain(a, Balance::Random)),
    no("url_param", Word, INSTEAD),
    no("rdp-cookie", Word, INSTEAD),
    no("rdp-cookie", Call, YET),
    no("hash", Word, INSTEAD),
];

/// The row `algo` is written as, if any.
pub fn find(algo: &str) -> Option<&'static Row> {
    TABLE.iter().find(|r| match r.form {
        Word => algo == r.name,
        Call => algo
            .strip_prefix(r.name)
            .is_some_and(|rest| rest.starts_with('(')),
    })
}

/// Parses `balance ALGO OPTIONS...`.
pub fn parse(args: &[String]) -> Result<Balance, String> {
    let [algo, options @ ..] = args else {
        return Err(format!(
            "'balance' needs an algorithm: {}",
            supported_list()
        ));
    };
    let Some(row) = find(algo) else {
        let examples = supported().map(|s| s.example.split(' ').next().unwrap_or(s.example));
        let hint = suggest::hint(algo, examples);
        return Err(format!("unknown balance algorithm '{algo}'{hint}"));
    };
    match row.handler {
        Handler::Parse(spec) => (spec.parse)(&Args { algo, options }),
        Handler::Refused(why) => Err(refusal(
            &format!("'balance {}'", row.name_as_written(algo)),
            why,
        )),
    }
}

impl Row {
    /// A refused `name(ARG)` is named without its argument.
    fn name_as_written<'a>(&self, algo: &'a str) -> &'a str {
        match self.form {
            Word => algo,
            Call => algo.split('(').next().unwrap_or(algo),
        }
    }
}

fn supported() -> impl Iterator<Item = Spec> {
    TABLE.iter().filter_map(|r| match r.handler {
        Handler::Parse(s) => Some(s),
        Handler::Refused(_) => None,
    })
}

/// "roundrobin, static-rr, ... or random".
fn supported_list() -> String {
    let names: Vec<&str> = supported().map(|s| s.syntax).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => names.join(""),
    }
}

/// The options an algorithm written as a word does not take.
fn no_options(a: &Args, allowed: &[&str]) -> Result<(), String> {
    if a.options.iter().all(|o| allowed.contains(&o.as_str())) {
        return Ok(());
    }
    Err(format!(
        "'balance {}': options '{}' are not supported by ringlb yet",
        a.algo,
        a.options.join(" ")
    ))
}

fn plain(a: &Args, b: Balance) -> Result<Balance, String> {
    no_options(a, &[])?;
    Ok(b)
}

/// `uri [whole]`: whole hashes the query too.
fn uri(a: &Args) -> Result<Balance, String> {
    no_options(a, &["whole"])?;
    Ok(Balance::Uri {
        whole: !a.options.is_empty(),
    })
}

/// `hdr(NAME)`: a header name, no option.
fn hdr(a: &Args) -> Result<Balance, String> {
    let h = a.algo;
    match h.strip_prefix("hdr(").and_then(|r| r.strip_suffix(')')) {
        Some(name) if !name.is_empty() && a.options.is_empty() => {
            Ok(Balance::Hdr(name.to_ascii_lowercase()))
        }
        _ => Err(format!(
            "'balance {h}': write hdr(NAME) with a header name and no option"
        )),
    }
}

/// The table as markdown, for README.md.
pub fn markdown() -> String {
    let written = |r: &Row| match r.form {
        Word => format!("`{}`", r.name),
        Call => format!("`{}(...)`", r.name),
    };
    let rows = TABLE.iter().map(|r| match r.handler {
        Handler::Parse(s) => vec![written(r), format!("`{}`", s.example), "supported".into()],
        Handler::Refused(why) => vec![written(r), String::new(), super::refused_cell(why)],
    });
    super::markdown(&["algorithm", "example", "status"], rows)
}

#[cfg(test)]
mod tests {
    use super::super::testing::errors;
    use super::*;

    #[test]
    fn rows_are_unique() {
        for (i, a) in TABLE.iter().enumerate() {
            for b in &TABLE[i + 1..] {
                assert!(
                    !(a.name == b.name && a.form == b.form),
                    "duplicate row {}",
                    a.name
                );
            }
        }
    }

    fn config_with(algo: &str) -> String {
        format!(
            "frontend f\n  mode http\n  bind 127.0.0.1:0\n  default_backend b\nbackend b\n  mode http\n  balance {algo}\n  server s 127.0.0.1:1\n"
        )
    }

    #[test]
    fn every_row_parses_or_is_refused_through_the_loader() {
        for row in TABLE {
            match row.handler {
                Handler::Parse(s) => {
                    let errs = errors(&config_with(s.example));
                    assert!(errs.is_empty(), "{}: {errs:?}", s.example);
                }
                Handler::Refused(why) => {
                    let algo = match row.form {
                        Word => row.name.to_string(),
                        Call => format!("{}(x)", row.name),
                    };
                    let want = refusal(&format!("'balance {}'", row.name), why);
                    let errs = errors(&config_with(&algo));
                    assert!(errs.contains(&want), "{algo}: {errs:?}");
                }
            }
        }
    }

    #[test]
    fn messages_list_and_suggest_from_the_table() {
        assert_eq!(
            parse(&[]).err().unwrap_or_default(),
            "'balance' needs an algorithm: roundrobin, static-rr, leastconn, first, source, uri, hdr(NAME) or random"
        );
        assert_eq!(
            parse(&["leastcon".into()]).err().unwrap_or_default(),
            "unknown balance algorithm 'leastcon'; did you mean 'leastconn'?"
        );
        assert_eq!(
            parse(&["hdr".into()]).err().unwrap_or_default(),
            "unknown balance algorithm 'hdr'; did you mean 'hdr(host)'?"
        );
    }
}
