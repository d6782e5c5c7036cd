//! The condition of a `.if` / `.elif` line, read and answered as HAProxy 2.6 does (cfgcond.c,
//! manual section 2.4): the line's words (already unquoted, `"$VAR"` expanded) joined by one
//! space, then an expression of terms joined by `&&` (binding tighter) and `||`, each term an
//! integer (non-zero is true), a parenthesized expression, or a predicate with its arguments in
//! parentheses, any of them negated by `!`. An empty condition is false.
//!
//! The predicates answer for ringlb: `version_*` against `build_info::HAPROXY_COMPAT_VERSION`,
//! `feature()` from `build_info::HAPROXY_FEATURES`, the `openssl_*` ones for rustls (see there).

use super::suggest;
use crate::build_info;

/// A condition that does not parse: the message and the 1-based position in the condition text.
#[derive(Debug, PartialEq, Eq)]
pub struct CondError {
    pub message: String,
    pub position: usize,
    /// "; did you mean ...", or the list of predicates, for an unknown one ("" otherwise).
    pub hint: String,
}

/// The predicates of HAProxy 2.6 and how many string arguments each takes.
const PREDICATES: [(&str, usize); 9] = [
    ("defined", 1),
    ("feature", 1),
    ("streq", 2),
    ("strneq", 2),
    ("version_atleast", 1),
    ("version_before", 1),
    ("openssl_version_atleast", 1),
    ("openssl_version_before", 1),
    ("ssllib_name_startswith", 1),
];

/// HAProxy bounds the recursion of its condition parser; so do we (a line of `((((` must not
/// overflow the stack).
const MAX_DEPTH: usize = 64;

/// Answers a condition. `env` looks up environment variables (the process environment in use).
pub fn evaluate(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<bool, CondError> {
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        i: 0,
        env,
    };
    p.skip_blanks();
    if p.at_end() {
        return Ok(false);
    }
    let v = p.expr(MAX_DEPTH)?;
    p.skip_blanks();
    if let Some(&c) = p.s.get(p.i) {
        return Err(p.error(format!(
            "unexpected character '{}' at the end of conditional expression '{text}'",
            char::from(c)
        )));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Parser<'_> {
    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn rest(&self) -> &str {
        self.text.get(self.i..).unwrap_or("")
    }

    fn error(&self, message: String) -> CondError {
        CondError {
            message,
            position: self.i + 1,
            hint: String::new(),
        }
    }

    fn unparsable(&self) -> CondError {
        self.error(format!(
            "unparsable conditional expression '{}'",
            self.rest()
        ))
    }

    /// `and ('||' expr)?`: every term is read, as HAProxy parses the whole line first.
    fn expr(&mut self, depth: usize) -> Result<bool, CondError> {
        if depth == 0 {
            return Err(self.unparsable());
        }
        let left = self.and(depth - 1)?;
        self.skip_blanks();
        if !self.rest().starts_with("||") {
            return Ok(left);
        }
        self.i += 2;
        self.skip_blanks();
        if self.at_end() {
            return Err(self.unparsable());
        }
        let right = self.expr(depth - 1)?;
        Ok(left || right)
    }

    fn and(&mut self, depth: usize) -> Result<bool, CondError> {
        if depth == 0 {
            return Err(self.unparsable());
        }
        let left = self.term(depth - 1)?;
        self.skip_blanks();
        if !self.rest().starts_with("&&") {
            return Ok(left);
        }
        self.i += 2;
        self.skip_blanks();
        if self.at_end() {
            return Err(self.error(format!(
                "unparsable conditional sub-expression '{}'",
                self.rest()
            )));
        }
        let right = self.and(depth - 1)?;
        Ok(left && right)
    }

    fn term(&mut self, depth: usize) -> Result<bool, CondError> {
        self.skip_blanks();
        if self.at_end() || depth == 0 {
            return Err(self.unparsable());
        }
        let mut negate = false;
        while self.peek() == Some(b'!') {
            negate = !negate;
            self.i += 1;
            self.skip_blanks();
        }
        let v = if let Some(n) = self.integer() {
            n
        } else if self.peek() == Some(b'(') {
            self.paren(depth)?
        } else {
            self.predicate()?
        };
        Ok(v != negate)
    }

    /// An integer as C's `strtol(.., 0)` reads it (sign, `0x` hex, decimal): non-zero is true.
    fn integer(&mut self) -> Option<bool> {
        let mut j = self.i;
        if matches!(self.s.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let hex = self.s.get(j) == Some(&b'0')
            && matches!(self.s.get(j + 1), Some(b'x' | b'X'))
            && self.s.get(j + 2).is_some_and(u8::is_ascii_hexdigit);
        let (digits_from, is_digit): (usize, fn(&u8) -> bool) = if hex {
            (j + 2, u8::is_ascii_hexdigit)
        } else {
            (j, u8::is_ascii_digit)
        };
        let mut k = digits_from;
        while self.s.get(k).is_some_and(is_digit) {
            k += 1;
        }
        if k == digits_from {
            return None;
        }
        let nonzero = self.s[digits_from..k].iter().any(|&c| c != b'0');
        self.i = k;
        Some(nonzero)
    }

    fn paren(&mut self, depth: usize) -> Result<bool, CondError> {
        let open = self.i;
        self.i += 1;
        self.skip_blanks();
        if self.at_end() {
            return Err(self.unparsable());
        }
        let v = self.expr(depth - 1)?;
        self.skip_blanks();
        if self.peek() != Some(b')') {
            let from = self.text.get(open..).unwrap_or("");
            return Err(self.error(format!(
                "expected ')' after conditional expression '{from}'"
            )));
        }
        self.i += 1;
        Ok(v)
    }

    fn predicate(&mut self) -> Result<bool, CondError> {
        let name_len = self.rest().find([' ', '(']).unwrap_or(self.rest().len());
        let name = &self.rest()[..name_len];
        let Some(&(pred, nargs)) = PREDICATES.iter().find(|(p, _)| *p == name) else {
            let word_len = name.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
            let word = &name[..word_len.unwrap_or(name.len())];
            let hint = suggest::hint(word, PREDICATES.iter().map(|(p, _)| *p));
            let mut e = self.unparsable();
            e.hint = if hint.is_empty() {
                format!(
                    "; the predicates are {}",
                    PREDICATES.map(|(p, _)| p).join(", ")
                )
            } else {
                hint
            };
            return Err(e);
        };
        self.i += name_len;
        let args = self.arguments(pred, nargs)?;
        Ok(answer(pred, &args, self.env))
    }

    /// `(a,b)` as HAProxy's `make_arg_list` reads string arguments: quotes and backslashes
    /// inside, a comma between two, a missing one is empty, exactly `nargs` of them.
    fn arguments(&mut self, pred: &str, nargs: usize) -> Result<Vec<String>, CondError> {
        let in_arg = |e: String, n: usize| {
            format!("{e} in argument {n} of predicate '{pred}' used in conditional expression")
        };
        if self.peek() != Some(b'(') {
            return Err(self.error(in_arg(
                format!("missing arguments (got 0/{nargs}), type 'string' expected"),
                0,
            )));
        }
        self.i += 1;
        let mut args = Vec::new();
        loop {
            args.push(self.argument());
            match self.peek() {
                Some(b',') if args.len() < nargs => self.i += 1,
                Some(b')') => break,
                Some(_) => {
                    let pos = args.len().min(nargs);
                    return Err(self.error(in_arg(
                        format!("expected ')' before '{}'", self.rest()),
                        pos,
                    )));
                }
                None => {
                    let pos = args.len().saturating_sub(1).max(1).min(nargs);
                    return Err(self.error(in_arg("expected ')'".into(), pos)));
                }
            }
        }
        self.i += 1;
        if args.len() < nargs {
            return Err(self.error(in_arg(
                format!(
                    "missing arguments (got {}/{nargs}), type 'string' expected",
                    args.len()
                ),
                args.len(),
            )));
        }
        Ok(args)
    }

    fn argument(&mut self) -> String {
        let mut out = String::new();
        let (mut squote, mut dquote) = (false, false);
        let chars: Vec<char> = self.rest().chars().collect();
        let mut k = 0;
        while let Some(&c) = chars.get(k) {
            match c {
                '"' if !squote => dquote = !dquote,
                '\'' if !dquote => squote = !squote,
                '\\' if !squote && k + 1 < chars.len() => {
                    k += 1;
                    match chars[k] {
                        n @ ('\\' | ' ' | '"' | '\'') => out.push(n),
                        'r' => out.push('\r'),
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        // A lone backslash stays, and what follows is read as usual.
                        _ => {
                            out.push('\\');
                            k -= 1;
                        }
                    }
                }
                ',' | ')' if !squote && !dquote => break,
                _ => out.push(c),
            }
            k += 1;
        }
        self.i += chars[..k].iter().map(|c| c.len_utf8()).sum::<usize>();
        out
    }
}

fn answer(pred: &str, args: &[String], env: &dyn Fn(&str) -> Option<String>) -> bool {
    let a = args.first().map_or("", String::as_str);
    let b = args.get(1).map_or("", String::as_str);
    match pred {
        "defined" => env(a).is_some(),
        "feature" => build_info::HAPROXY_FEATURES
            .iter()
            .any(|(n, on)| *on && *n == a),
        "streq" => a == b,
        "strneq" => a != b,
        // As HAProxy: a version it cannot read compares as "newer", so `_atleast` is true.
        "version_atleast" => compare(a, build_info::HAPROXY_COMPAT_VERSION) != Some(Newer),
        "version_before" => compare(a, build_info::HAPROXY_COMPAT_VERSION) == Some(Newer),
        "openssl_version_atleast" => compare(a, build_info::OPENSSL_COMPAT_VERSION) != Some(Newer),
        "openssl_version_before" => compare(a, build_info::OPENSSL_COMPAT_VERSION) == Some(Newer),
        "ssllib_name_startswith" => build_info::SSL_LIBRARY_NAME.starts_with(a),
        _ => false,
    }
}

use std::cmp::Ordering::{self, Greater as Newer};

/// How `version` compares with `current` (`Greater`: `version` is newer), `None` when `version`
/// does not read as a version. A version is HAProxy's seven numbers (`split_version`).
fn compare(version: &str, current: &str) -> Option<Ordering> {
    let (v, c) = (split_version(version)?, split_version(current)?);
    Some(v.cmp(&c))
}

/// HAProxy's `split_version`: `a.b.c.d[-{dev|rc|pre}N][-commit]` into seven numbers; missing ones
/// are zero, and a release (no tag) ranks after its dev/rc/pre.
pub fn split_version(text: &str) -> Option<[u64; 7]> {
    let mut v = [0, 0, 0, 0, 3, 0, 0];
    if text.is_empty() {
        return None;
    }
    let mut rest = text;
    for slot in v.iter_mut().take(4) {
        let (n, after) = leading_number(rest);
        *slot = n;
        match after.chars().next() {
            None => return Some(v),
            Some('.') => rest = &after[1..],
            Some('-') => return tag(&after[1..], v),
            Some(_) => return None,
        }
    }
    // Four numbers then a fifth '.': not a version.
    None
}

fn tag(text: &str, mut v: [u64; 7]) -> Option<[u64; 7]> {
    let mut p = text;
    if !p.starts_with(|c: char| c.is_ascii_digit()) {
        let (rank, len) = if p.starts_with("dev") {
            (1, 3)
        } else if p.starts_with("rc") {
            (2, 2)
        } else if p.starts_with("pre") {
            (2, 3)
        } else {
            (0, 0)
        };
        if len > 0 {
            v[4] = rank;
            let (n, after) = leading_number(&p[len..]);
            v[5] = n;
            match after.chars().next() {
                None => return Some(v),
                Some('-') => p = &after[1..],
                Some(_) => return None,
            }
        }
    }
    let last = match p.rfind('-') {
        Some(i) if i + 1 == p.len() => return None,
        Some(i) => &p[i + 1..],
        None => p,
    };
    v[6] = last.parse().unwrap_or(0);
    Some(v)
}

/// The digits at the start of `s` as a number (0 when there are none, as `strtol`), and the rest.
fn leading_number(s: &str) -> (u64, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    (s[..end].parse().unwrap_or(0), &s[end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "SET" => Some("yes".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn eval(text: &str) -> Result<bool, CondError> {
        evaluate(text, &env)
    }

    fn t(text: &str) -> bool {
        match eval(text) {
            Ok(v) => v,
            Err(e) => panic!("{text}: {e:?}"),
        }
    }

    fn err(text: &str) -> String {
        match eval(text) {
            Ok(v) => panic!("{text} gave {v}, expected an error"),
            Err(e) => e.message + &e.hint,
        }
    }

    #[test]
    fn integers_and_empty() {
        assert!(!t(""));
        assert!(!t("   "));
        assert!(t("1"));
        assert!(!t("0"));
        assert!(t("-3"));
        assert!(t("0x10"));
        assert!(!t("0x0"));
    }

    #[test]
    fn predicates() {
        assert!(t("defined(SET)"));
        assert!(t("defined(EMPTY)"));
        assert!(!t("defined(UNSET)"));
        assert!(t("feature(OPENSSL)"));
        assert!(t("feature(THREAD)"));
        assert!(!t("feature(LINUX_SPLICE)"));
        assert!(!t("feature(LUA)"));
        assert!(!t("feature(OPEN)"), "a sub-word is not a feature");
        assert!(t("streq(a,a)"));
        assert!(!t("streq(a,b)"));
        assert!(t("strneq(a,b)"));
        assert!(t("streq(\"a b\",'a b')"));
        assert!(t("streq(,)"), "two empty strings are equal");
        assert!(t("streq(a\\ b,\"a b\")"));
        assert!(
            t("streq(a\\,\"a\\\\\")"),
            "a lone backslash stays and ',' still ends the argument"
        );
        assert!(t("ssllib_name_startswith(rustls)"));
        assert!(!t("ssllib_name_startswith(OpenSSL)"));
        assert!(t("openssl_version_atleast(1.1.1)"));
        assert!(!t("openssl_version_atleast(3.1)"));
    }

    #[test]
    fn versions_as_haproxy_2_6_12() {
        assert!(t("version_atleast(2.6)"));
        assert!(t("version_atleast(2.6.12)"));
        assert!(t("version_atleast(2.4-dev19)"));
        assert!(t("version_atleast(2.6-dev3)"));
        assert!(!t("version_atleast(2.6.13)"));
        assert!(!t("version_atleast(2.7)"));
        assert!(t("version_before(2.7)"));
        assert!(t("version_before(2.6.13)"));
        assert!(!t("version_before(2.6.12)"));
        assert!(!t("version_before(2.5)"));
        // Unreadable: HAProxy's answer (atleast true, before false).
        assert!(t("version_atleast(x)"));
        assert!(!t("version_before(x)"));
        assert_eq!(
            split_version("2.4-dev18-f6818d-20"),
            Some([2, 4, 0, 0, 1, 18, 20])
        );
        assert_eq!(split_version("1.2.1-pre2"), Some([1, 2, 1, 0, 2, 2, 0]));
        assert_eq!(split_version("1.2.10.1"), Some([1, 2, 10, 1, 3, 0, 0]));
    }

    #[test]
    fn operators_negation_and_parentheses() {
        assert!(t("!0"));
        assert!(t("!!1"));
        assert!(t("! defined(UNSET)"));
        assert!(t("1 && 1"));
        assert!(!t("1 && 0"));
        assert!(t("0 || 1"));
        assert!(t("1 && 0 || 1 && 1"), "&& binds tighter than ||");
        assert!(!t("1 && (0 || 0)"));
        assert!(t("!(0 || 0)"));
        assert!(t("feature(OPENSSL) && (streq(yes,yes) || streq(no,yes))"));
        assert!(t("((((1))))"));
    }

    #[test]
    fn errors() {
        let m = err("defind(SET)");
        assert!(
            m.contains("unparsable conditional expression 'defind(SET)'"),
            "{m}"
        );
        assert!(m.contains("did you mean 'defined'?"), "{m}");
        let m = err("bogus");
        assert!(m.contains("the predicates are defined, feature"), "{m}");
        let m = err("defined");
        assert!(m.contains("missing arguments (got 0/1)"), "{m}");
        let m = err("streq(a)");
        assert!(m.contains("missing arguments (got 1/2)"), "{m}");
        let m = err("streq(a,b,c)");
        assert!(m.contains("expected ')' before ',c)'"), "{m}");
        let m = err("defined(X");
        assert!(m.contains("expected ')'"), "{m}");
        let m = err("1 1");
        assert!(m.contains("unexpected character '1' at the end"), "{m}");
        let m = err("(1");
        assert!(
            m.contains("expected ')' after conditional expression '(1'"),
            "{m}"
        );
        let m = err("1 &&");
        assert!(m.contains("unparsable"), "{m}");
        assert!(
            eval(&"(".repeat(10_000)).is_err(),
            "deep nesting is refused, not a crash"
        );
        assert_eq!(
            eval("1 x").map_err(|e| e.position),
            Err(3),
            "the position points at the bad character"
        );
    }
}
