//! The one place regexes from the configuration are compiled (ACL `-m reg` and `*_reg`,
//! `regsub`, `replace-header`/`replace-value`, `http-check`/`tcp-check expect rstring|rstatus`).
//!
//! ringlb uses the `regex` crate, whose matching time is linear in the input whatever the
//! pattern: a request crafted by an attacker cannot make a rule backtrack for seconds. The price
//! is that some PCRE constructs HAProxy accepts do not exist here (lookaround, backreferences,
//! atomic groups, possessive quantifiers, `\K`, recursion, conditionals). When the crate refuses
//! a pattern, `compile` looks for such a construct and names it with its column, so the user
//! learns what to rewrite rather than reading a parser message about an unexpected character.

use regex::{Regex, RegexBuilder};

/// A PCRE construct without a linear-time equivalent, as found in a pattern.
#[derive(Debug, PartialEq, Eq)]
pub struct Construct {
    /// What it is called, with its article: "a negative lookahead".
    pub name: &'static str,
    /// The text that introduces it, as written: `(?!`.
    pub text: String,
    /// 1-based column of its first character in the pattern.
    pub col: usize,
    /// How to do without it.
    pub advice: &'static str,
}

const LOOKAROUND: &str =
    "rewrite it without lookaround, e.g. with a negated ACL ('!acl_name') or a second rule";
const BACKREF: &str = "rewrite it without the backreference, e.g. by spelling out the alternatives";
const NO_BACKTRACK: &str =
    "drop it: this engine never backtracks, which is what it is used to prevent";
const RECURSION: &str =
    "match a bounded nesting depth explicitly, or test the parts with separate ACLs";
const CONDITIONAL: &str = "split it into alternatives ('a|b') or into separate ACLs";
const KEEP_OUT: &str = "capture the part you want with a group instead";
const BRANCH_RESET: &str = "use a plain group '(?:' and number the captures as they appear";

/// Compiles `pattern`; `Err` is a sentence naming the pattern and what is wrong with it.
///
/// The scan runs first, not only on failure: the crate reads some PCRE spellings with another
/// meaning (`a*+` is `(a*)+` there, possessive in PCRE), and silently matching differently from
/// HAProxy would be worse than refusing.
pub fn compile(pattern: &str, ignore_case: bool) -> Result<Regex, String> {
    if let Some(c) = find_pcre(pattern) {
        return Err(format!(
            "regex '{pattern}' uses {} '{}' at column {}, which ringlb's regex engine does not support \
             (it guarantees linear-time matching on attacker-controlled input); {}",
            c.name, c.text, c.col, c.advice
        ));
    }
    RegexBuilder::new(pattern)
        .case_insensitive(ignore_case)
        .build()
        .map_err(|e| format!("invalid regex '{pattern}': {}", last_line(&e.to_string())))
}

/// The crate's message ends with its one-line summary after a drawing of the pattern.
fn last_line(msg: &str) -> String {
    msg.lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or("invalid")
        .trim()
        .to_string()
}

/// The first PCRE-only construct of `p`, outside character classes and escapes.
pub fn find_pcre(p: &str) -> Option<Construct> {
    let chars: Vec<char> = p.chars().collect();
    let mut i = 0;
    // Nesting depth of character classes (`[a[:digit:]]`, the crate's `[a-z&&[^x]]`).
    let mut class = 0usize;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            if class == 0 {
                if let Some(found) = escape(&chars, i) {
                    return Some(found);
                }
            }
            i += 2;
            continue;
        }
        match c {
            '[' => {
                class += 1;
                i = skip_literal_bracket(&chars, i + 1);
                continue;
            }
            ']' if class > 0 => class -= 1,
            _ if class > 0 => {}
            '(' if chars.get(i + 1) == Some(&'?') => {
                if let Some(found) = group(&chars, i) {
                    return Some(found);
                }
            }
            '*' | '+' | '?' | '}' if chars.get(i + 1) == Some(&'+') && quantifies(&chars, i) => {
                return Some(found(
                    "a possessive quantifier",
                    &chars[i..i + 2],
                    i,
                    "write the plain quantifier (without the last '+'): this engine never backtracks, which is what possessive quantifiers are used to prevent",
                ));
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// A `]` right after `[` or `[^` is a member of the class, not its end.
fn skip_literal_bracket(chars: &[char], mut i: usize) -> usize {
    if chars.get(i) == Some(&'^') {
        i += 1;
    }
    if chars.get(i) == Some(&']') {
        i += 1;
    }
    i
}

/// Is the character at `i` a quantifier (rather than a literal `}` or the `?` of `(?`)?
fn quantifies(chars: &[char], i: usize) -> bool {
    match chars[i] {
        '}' => chars[..i].iter().rposition(|&c| c == '{').is_some_and(|o| {
            let inner: String = chars[o + 1..i].iter().collect();
            !inner.is_empty() && inner.chars().all(|c| c.is_ascii_digit() || c == ',')
        }),
        '?' => i > 0 && chars[i - 1] != '(',
        _ => i > 0,
    }
}

fn escape(chars: &[char], i: usize) -> Option<Construct> {
    let next = *chars.get(i + 1)?;
    let at = |n: usize| &chars[i..(i + n).min(chars.len())];
    Some(match next {
        '1'..='9' => found("a backreference", at(2), i, BACKREF),
        'g' | 'k' => found("a backreference", at(3), i, BACKREF),
        'K' => found("a match reset", at(2), i, KEEP_OUT),
        _ => return None,
    })
}

/// `(?` at `i`: the PCRE-only group kinds. `(?:`, `(?i)`, `(?P<n>` and `(?<n>` are fine.
fn group(chars: &[char], i: usize) -> Option<Construct> {
    let rest: String = chars[i + 2..].iter().take(3).collect();
    let table: [(&str, &str, &str); 12] = [
        ("=", "a lookahead", LOOKAROUND),
        ("!", "a negative lookahead", LOOKAROUND),
        ("<=", "a lookbehind", LOOKAROUND),
        ("<!", "a negative lookbehind", LOOKAROUND),
        (">", "an atomic group", NO_BACKTRACK),
        ("|", "a branch reset group", BRANCH_RESET),
        ("(", "a conditional group", CONDITIONAL),
        ("R", "a recursion", RECURSION),
        ("&", "a recursion", RECURSION),
        ("P>", "a recursion", RECURSION),
        ("P=", "a backreference", BACKREF),
        ("+", "a recursion", RECURSION),
    ];
    for (intro, name, advice) in table {
        if rest.starts_with(intro) {
            return Some(found(name, &chars[i..i + 2 + intro.len()], i, advice));
        }
    }
    // `(?1)`, `(?-1)`: calls to a numbered group.
    let numbered = match rest.chars().next() {
        Some(d) if d.is_ascii_digit() => true,
        Some('-') => rest.chars().nth(1).is_some_and(|d| d.is_ascii_digit()),
        _ => false,
    };
    numbered.then(|| found("a recursion", &chars[i..i + 3], i, RECURSION))
}

fn found(name: &'static str, text: &[char], i: usize, advice: &'static str) -> Construct {
    Construct {
        name,
        text: text.iter().collect(),
        col: i + 1,
        advice,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(p: &str) -> Option<(&'static str, String, usize)> {
        find_pcre(p).map(|c| (c.name, c.text, c.col))
    }

    #[test]
    fn each_construct_is_named_with_its_column() {
        let cases: &[(&str, &str, &str, usize)] = &[
            ("^(?!admin)", "a negative lookahead", "(?!", 2),
            ("a(?=b)", "a lookahead", "(?=", 2),
            ("(?<=/)x", "a lookbehind", "(?<=", 1),
            ("x(?<!y)", "a negative lookbehind", "(?<!", 2),
            ("(a)\\1", "a backreference", "\\1", 4),
            ("(?P<n>a)(?P=n)", "a backreference", "(?P=", 9),
            ("(?<n>a)\\k<n>", "a backreference", "\\k<", 8),
            ("(?>a+)b", "an atomic group", "(?>", 1),
            ("a*+b", "a possessive quantifier", "*+", 2),
            ("a{2,3}+", "a possessive quantifier", "}+", 6),
            ("foo\\Kbar", "a match reset", "\\K", 4),
            ("\\((?R)?\\)", "a recursion", "(?R", 3),
            ("(a)(?1)", "a recursion", "(?1", 4),
            ("(a)?(?(1)b|c)", "a conditional group", "(?(", 5),
            ("(?|(a)|(b))", "a branch reset group", "(?|", 1),
        ];
        for (p, name, text, col) in cases {
            assert_eq!(named(p), Some((*name, text.to_string(), *col)), "{p}");
            assert!(compile(p, false).is_err(), "{p} compiles");
        }
    }

    #[test]
    fn valid_patterns_and_look_alikes_are_not_flagged() {
        for p in [
            "[(?=]x",
            "\\(?!",
            "a+?b",
            "(?i)x",
            "(?:a)",
            "(?P<n>a)",
            "(?<n>a)",
            "[\\1]",
            "a{2}",
            "[]*+]",
            "[[:alpha:]]*",
            "[a-z&&[^x]]+",
        ] {
            assert_eq!(named(p), None, "{p}");
        }
        assert!(compile("(?<n>a)b", false).is_ok());
    }

    #[test]
    fn messages() {
        assert_eq!(
            compile("^(?!admin)", false).err(),
            Some(
                "regex '^(?!admin)' uses a negative lookahead '(?!' at column 2, which ringlb's regex \
                 engine does not support (it guarantees linear-time matching on attacker-controlled \
                 input); rewrite it without lookaround, e.g. with a negated ACL ('!acl_name') or a second rule"
                    .into()
            )
        );
        assert_eq!(
            compile("^/(api", false).err(),
            Some("invalid regex '^/(api': error: unclosed group".into())
        );
    }
}
