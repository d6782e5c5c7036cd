//! Stage 1: text -> lines of words -> sections, each line remembering `file:line`.
//!
//! Word splitting follows HAProxy 2.6 (manual section 2.2): `#` starts a comment outside quotes,
//! `"..."` quotes weakly (backslash escapes and `$VAR` / `${VAR}` / `${VAR-default}` expansion
//! inside, with HAProxy's pseudo-variables `.FILE`, `.LINE`, `.SECTION`), `'...'` quotes
//! strongly, a backslash escapes outside quotes. Environment variables are expanded only inside
//! double quotes, as in HAProxy; an undefined one expands to nothing (HAProxy
//! does so silently; we warn). U+00A0 no-break spaces are treated as blanks with one warning per
//! file: configs pasted from web pages are full of them and HAProxy would reject every such line.
//! Curly quotes (U+2018/2019/201C/201D, from word processors) are kept as ordinary characters,
//! as HAProxy does, with one warning per file: they look like quotes but do not quote.
//! Conditional blocks are applied here too, line by line (`blocks`), so that the lines of a
//! branch not taken never reach the sections.

use super::blocks::{Blocks, Verdict};
use super::error::Diags;
use super::model::Loc;
use super::suggest;
use std::sync::Arc;

const NBSP: char = '\u{a0}';
/// Typographic quotes and their Unicode names.
const CURLY_QUOTES: [(char, &str); 4] = [
    ('\u{2018}', "left single quotation mark"),
    ('\u{2019}', "right single quotation mark"),
    ('\u{201c}', "left double quotation mark"),
    ('\u{201d}', "right double quotation mark"),
];

/// One logical line: its words after unquoting, and the 1-based column each word starts at.
#[derive(Clone, Debug)]
pub struct Line {
    pub loc: Loc,
    pub words: Vec<String>,
    pub cols: Vec<u32>,
    /// The line could not be read to its end (an unterminated quote, reported): `words` holds
    /// those before the bad one, so that later stages know which keyword failed and stay quiet
    /// about what it would have set, but the line is never applied.
    pub broken: bool,
}

impl Line {
    pub fn word(&self, i: usize) -> &str {
        self.words.get(i).map(String::as_str).unwrap_or("")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SectionKind {
    Global,
    Defaults,
    Frontend,
    Backend,
    Listen,
    Userlist,
}

impl SectionKind {
    pub fn name(self) -> &'static str {
        match self {
            SectionKind::Global => "global",
            SectionKind::Defaults => "defaults",
            SectionKind::Frontend => "frontend",
            SectionKind::Backend => "backend",
            SectionKind::Listen => "listen",
            SectionKind::Userlist => "userlist",
        }
    }
}

/// A section header and the lines of its body.
#[derive(Clone, Debug)]
pub struct Section {
    pub kind: SectionKind,
    pub name: Option<String>,
    /// `from NAME`: the named defaults section to inherit from.
    pub from: Option<String>,
    pub loc: Loc,
    pub lines: Vec<Line>,
}

const SUPPORTED_SECTIONS: [&str; 6] = [
    "global", "defaults", "frontend", "backend", "listen", "userlist",
];
/// HAProxy sections ringlb knows but does not implement: refused by name, body skipped.
const UNSUPPORTED_SECTIONS: [&str; 8] = [
    "peers",
    "resolvers",
    "cache",
    "program",
    "http-errors",
    "ring",
    "mailers",
    "fcgi-app",
];

/// Splits a whole file into sections. Problems go to `diags`; the result holds what could be read.
pub fn parse_file(file: &str, text: &str, diags: &mut Diags) -> Vec<Section> {
    let lines = tokenize(file, text, diags);
    group(lines, diags)
}

/// Splits text into lines of words, dropping blank and comment-only lines and those of the
/// conditional blocks' branches not taken (`blocks`), with the process environment.
pub fn tokenize(file: &str, text: &str, diags: &mut Diags) -> Vec<Line> {
    tokenize_with_env(file, text, diags, &|name| std::env::var(name).ok())
}

/// `tokenize`, with `env` answering `.if defined(NAME)`.
pub fn tokenize_with_env(
    file: &str,
    text: &str,
    diags: &mut Diags,
    env: &dyn Fn(&str) -> Option<String>,
) -> Vec<Line> {
    let file: Arc<str> = Arc::from(file);
    let mut out = Vec::new();
    let mut nbsp = OddCharReport::default();
    let mut curly = OddCharReport::default();
    let mut blocks = Blocks::new(env);
    // For `${.SECTION}`: the current section's name, or its kind when it has none.
    let mut section = String::new();
    for (i, raw) in text.split('\n').enumerate() {
        let loc = Loc {
            file: file.clone(),
            line: u32::try_from(i + 1).unwrap_or(u32::MAX),
        };
        // The line's own findings wait for its verdict: a dropped line keeps only its errors.
        let mut here = Diags::default();
        let mut sc = LineScanner {
            loc: &loc,
            diags: &mut here,
            nbsp: None,
            curly: None,
            section: &section,
        };
        let parsed = sc.scan(raw);
        nbsp.saw(loc.line, sc.nbsp);
        curly.saw(loc.line, sc.curly);
        let (words, cols, broken) = parsed;
        if words.is_empty() {
            diags.append(here, false);
            continue;
        }
        let line = Line {
            loc,
            words,
            cols,
            broken,
        };
        let was_active = blocks.active();
        let verdict = blocks.line(&line, &mut here);
        // A line read in a branch not taken: its warnings (an unset variable) do not matter.
        diags.append(here, !was_active);
        match verdict {
            Verdict::Keep => {
                if let Some(name) = section_label(&line) {
                    section = name;
                }
                out.push(line)
            }
            Verdict::Drop => {}
            Verdict::Abort => {
                diags.aborted = true;
                return out;
            }
        }
    }
    blocks.finish(diags);
    nbsp.report(&file, diags, nbsp_message);
    curly.report(&file, diags, curly_message);
    out
}

/// What `${.SECTION}` says after a section header line (`None`: not a header).
fn section_label(line: &Line) -> Option<String> {
    let kw = line.word(0);
    if section_kind(kw).is_none() && !UNSUPPORTED_SECTIONS.contains(&kw) {
        return None;
    }
    match line.words.get(1) {
        Some(name) if name != "from" => Some(name.clone()),
        _ => Some(kw.to_string()),
    }
}

/// The words of one line of text read as a configuration line (no blocks, no sections): for
/// `-cc`. Problems (an unterminated quote) go to `diags`.
pub fn line_words(name: &str, text: &str, diags: &mut Diags) -> Vec<String> {
    let loc = Loc {
        file: Arc::from(name),
        line: 1,
    };
    let mut sc = LineScanner {
        loc: &loc,
        diags,
        nbsp: None,
        curly: None,
        section: "",
    };
    sc.scan(text).0
}

/// Characters pasted from elsewhere: one warning per file, at the first one, with the count of
/// lines that have them (one warning per line would bury the real errors).
#[derive(Default)]
struct OddCharReport {
    first: Option<(u32, u32, char)>,
    lines: usize,
}

impl OddCharReport {
    fn saw(&mut self, line: u32, at: Option<(u32, char)>) {
        if let Some((col, c)) = at {
            self.first.get_or_insert((line, col, c));
            self.lines += 1;
        }
    }

    fn report(&self, file: &Arc<str>, diags: &mut Diags, message: fn(u32, char, &str) -> String) {
        let Some((line, col, c)) = self.first else {
            return;
        };
        let loc = Loc {
            file: file.clone(),
            line,
        };
        let count = format!(
            "{} such {} in this file",
            self.lines,
            if self.lines == 1 { "line" } else { "lines" }
        );
        diags.warn(&loc, message(col, c, &count));
    }
}

fn nbsp_message(col: u32, _: char, count: &str) -> String {
    format!(
        "line contains U+00A0 no-break space at column {col} (pasted from a web page?); treated as a blank. \
         {count}; HAProxy would reject them"
    )
}

fn curly_message(col: u32, c: char, count: &str) -> String {
    let name = CURLY_QUOTES
        .iter()
        .find(|(q, _)| *q == c)
        .map_or("curly quote", |(_, n)| n);
    format!(
        "line contains U+{:04X} {name} '{c}' at column {col} (pasted from a word processor or web page?); \
         curly quotes do not quote: HAProxy reads them as ordinary bytes, and so does ringlb, so they become \
         part of the word. {count}; retype them as \" or '",
        c as u32
    )
}

struct LineScanner<'a> {
    loc: &'a Loc,
    diags: &'a mut Diags,
    /// The first U+00A0 of the line and its column.
    nbsp: Option<(u32, char)>,
    /// The first curly quote of the line outside real quotes (inside them it is just text).
    curly: Option<(u32, char)>,
    /// The section being read, for `${.SECTION}`.
    section: &'a str,
}

#[derive(Clone, Copy, PartialEq)]
enum Quote {
    None,
    Double(u32),
    Single(u32),
}

impl LineScanner<'_> {
    /// Returns the words, their columns, and whether the line is broken (error reported; the
    /// words are then those before the bad one).
    fn scan(&mut self, raw: &str) -> (Vec<String>, Vec<u32>, bool) {
        let chars: Vec<char> = raw.chars().collect();
        let mut words = Vec::new();
        let mut cols = Vec::new();
        let mut cur = String::new();
        let mut in_word = false;
        let mut quote = Quote::None;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let col = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let start_word = |in_word: &mut bool, cols: &mut Vec<u32>| {
                if !*in_word {
                    *in_word = true;
                    cols.push(col);
                }
            };
            match quote {
                Quote::Single(_) => {
                    if c == '\'' {
                        quote = Quote::None;
                    } else {
                        cur.push(c);
                    }
                }
                Quote::Double(_) => match c {
                    '"' => quote = Quote::None,
                    '\\' => i = self.escape(&chars, i, &mut cur, true),
                    '$' => i = self.expand(&chars, i, &mut cur),
                    _ => cur.push(c),
                },
                Quote::None => match c {
                    ' ' | '\t' | '\r' | NBSP => {
                        if c == NBSP {
                            self.nbsp.get_or_insert((col, c));
                        }
                        if in_word {
                            words.push(std::mem::take(&mut cur));
                            in_word = false;
                        }
                    }
                    '#' => break,
                    '"' => {
                        start_word(&mut in_word, &mut cols);
                        quote = Quote::Double(col);
                    }
                    '\'' => {
                        start_word(&mut in_word, &mut cols);
                        quote = Quote::Single(col);
                    }
                    '\\' => {
                        start_word(&mut in_word, &mut cols);
                        i = self.escape(&chars, i, &mut cur, false);
                    }
                    _ => {
                        if CURLY_QUOTES.iter().any(|(q, _)| *q == c) {
                            self.curly.get_or_insert((col, c));
                        }
                        start_word(&mut in_word, &mut cols);
                        cur.push(c);
                    }
                },
            }
            i += 1;
        }
        let bad_quote = match quote {
            Quote::Double(col) => Some(('"', col)),
            Quote::Single(col) => Some(('\'', col)),
            Quote::None => None,
        };
        if let Some((q, col)) = bad_quote {
            self.unterminated(q, col);
            cols.truncate(words.len());
            return (words, cols, true);
        }
        if in_word {
            words.push(cur);
        }
        (words, cols, false)
    }

    fn unterminated(&mut self, q: char, col: u32) {
        let kind = if q == '"' { "double" } else { "single" };
        self.diags.error(
            self.loc,
            format!("unterminated {kind} quote starting at column {col}; add the closing {q} (or escape it as \\{q})"),
        );
    }

    /// Handles a backslash at `i`; returns the index of the last char consumed.
    fn escape(&mut self, chars: &[char], i: usize, cur: &mut String, in_dquote: bool) -> usize {
        let Some(&next) = chars.get(i + 1) else {
            // A trailing backslash: HAProxy keeps it as a literal.
            cur.push('\\');
            return i;
        };
        match next {
            ' ' | '#' | '\\' | '\'' | '"' | '\t' => cur.push(next),
            '$' if in_dquote => cur.push('$'),
            'n' => cur.push('\n'),
            'r' => cur.push('\r'),
            't' => cur.push('\t'),
            'x' => {
                let hex: String = chars.iter().skip(i + 2).take(2).collect();
                match u8::from_str_radix(&hex, 16) {
                    Ok(b) if hex.len() == 2 => {
                        cur.push(char::from(b));
                        return i + 3;
                    }
                    _ => {
                        let col = i + 1;
                        self.diags.error(
                            self.loc,
                            format!("invalid escape '\\x{hex}' at column {col}: \\x needs two hex digits (e.g. \\x20)"),
                        );
                        return i + 1;
                    }
                }
            }
            _ => {
                // Unknown escapes are kept as written, as HAProxy does.
                cur.push('\\');
                cur.push(next);
            }
        }
        i + 1
    }

    /// Expands `$NAME`, `${NAME}` or `${NAME-default}` at `i` (inside double quotes).
    fn expand(&mut self, chars: &[char], i: usize, cur: &mut String) -> usize {
        let braced = chars.get(i + 1) == Some(&'{');
        let start = if braced { i + 2 } else { i + 1 };
        let mut end = start;
        while end < chars.len()
            && (chars[end].is_ascii_alphanumeric() || chars[end] == '_' || chars[end] == '.')
        {
            end += 1;
        }
        let name: String = chars[start..end].iter().collect();
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            cur.push('$');
            return i;
        }
        let mut default = None;
        let mut last = end - 1;
        if braced {
            let close = chars[end..].iter().position(|&c| c == '}').map(|p| p + end);
            let Some(close) = close else {
                self.diags
                    .error(self.loc, format!("'${{{name}' is missing its closing '}}'"));
                return chars.len();
            };
            let inner: String = chars[end..close].iter().collect();
            if let Some(d) = inner.strip_prefix('-') {
                default = Some(d.to_string());
            } else if inner == "[*]" {
                self.diags.error(self.loc, format!("'${{{name}[*]}}' (split into several words) is not supported by ringlb yet; write the words out"));
            } else if !inner.is_empty() {
                self.diags.error(
                    self.loc,
                    format!(
                        "invalid variable name '{name}{inner}': names use letters, digits and '_'"
                    ),
                );
            }
            last = close;
        }
        // HAProxy's pseudo-variables (manual 2.3): where the line is, resolved as it is read.
        let pseudo = match name.as_str() {
            ".FILE" => Some(self.loc.file.to_string()),
            ".LINE" => Some(self.loc.line.to_string()),
            ".SECTION" => Some(self.section.to_string()),
            _ => None,
        };
        if let Some(v) = pseudo {
            cur.push_str(&v);
            return last;
        }
        match (std::env::var(&name), default) {
            (Ok(v), _) => cur.push_str(&v),
            (Err(_), Some(d)) => cur.push_str(&d),
            (Err(_), None) => self.diags.warn(
                self.loc,
                format!("environment variable '{name}' is not set; it expands to an empty string (set it, or give a default with \"${{{name}-value}}\")"),
            ),
        }
        last
    }
}

/// Groups lines into sections; header lines start a section, every other line joins the current.
fn group(lines: Vec<Line>, diags: &mut Diags) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    // `None` while skipping an unsupported section's body, or before the first header.
    let mut in_section = false;
    for line in lines {
        let kw = line.word(0);
        if line.broken && (section_kind(kw).is_some() || UNSUPPORTED_SECTIONS.contains(&kw)) {
            // A header cut short by a bad quote: its body is skipped, not put in the section
            // above (where every line would be out of place).
            out.push(skip_marker(&line));
            in_section = false;
            continue;
        }
        if UNSUPPORTED_SECTIONS.contains(&kw) {
            diags.error(
                &line.loc,
                format!("'{kw}' sections are not supported by ringlb yet; remove this section (its body is skipped)"),
            );
            in_section = false;
            // Mark that we are skipping: lines until the next header are ignored.
            out.push(skip_marker(&line));
            continue;
        }
        if let Some(kind) = section_kind(kw) {
            if let Some(sec) = header(kind, &line, diags) {
                out.push(sec);
                in_section = true;
            } else {
                out.push(skip_marker(&line));
                in_section = false;
            }
            continue;
        }
        match out.last_mut() {
            Some(sec) if in_section => sec.lines.push(line),
            Some(_) => {} // body of a refused section
            None => {
                let hint = suggest::hint(kw, SUPPORTED_SECTIONS.iter().copied());
                diags.error(
                    &line.loc,
                    format!(
                        "'{kw}' appears before any section{hint}{}",
                        if hint.is_empty() {
                            "; start with 'global', 'defaults', 'frontend', 'backend' or 'listen'"
                        } else {
                            ""
                        }
                    ),
                );
            }
        }
    }
    out.retain(|s| s.name.as_deref() != Some(SKIPPED));
    out
}

/// Name given to placeholder sections whose bodies are skipped; never a valid proxy name.
const SKIPPED: &str = "\u{0}skipped";

fn skip_marker(line: &Line) -> Section {
    Section {
        kind: SectionKind::Global,
        name: Some(SKIPPED.into()),
        from: None,
        loc: line.loc.clone(),
        lines: Vec::new(),
    }
}

/// Reports a section name with a character HAProxy refuses; `true` when it is clean.
fn check_name(name: Option<&str>, line: &Line, diags: &mut Diags) -> bool {
    let Some(n) = name else { return true };
    let Some(bad) = n
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.:".contains(*c)))
    else {
        return true;
    };
    diags.error(
        &line.loc,
        format!("invalid character '{}' in name '{n}': names use letters, digits, '-', '_', '.' and ':'", bad.escape_debug()),
    );
    false
}

fn section_kind(word: &str) -> Option<SectionKind> {
    Some(match word {
        "global" => SectionKind::Global,
        "defaults" => SectionKind::Defaults,
        "frontend" => SectionKind::Frontend,
        "backend" => SectionKind::Backend,
        "listen" => SectionKind::Listen,
        "userlist" => SectionKind::Userlist,
        _ => return None,
    })
}

/// Parses `KIND [NAME] [from NAME]`; `None` when the header has no name to give the section
/// (error reported), and its body is skipped.
fn header(kind: SectionKind, line: &Line, diags: &mut Diags) -> Option<Section> {
    let args = &line.words[1..];
    let kw = kind.name();
    let (name, from, extra) = match (kind, args) {
        (SectionKind::Global, []) => (None, None, &args[..0]),
        (SectionKind::Global, rest) => (None, None, rest),
        (SectionKind::Defaults, []) => (None, None, &args[..0]),
        (SectionKind::Defaults, [f, n, rest @ ..]) if f == "from" => (None, Some(n.clone()), rest),
        (_, [n, f, p, rest @ ..]) if f == "from" => (Some(n.clone()), Some(p.clone()), rest),
        (_, [n, f]) if f == "from" => {
            // Read the body anyway (inheriting as if 'from' were absent): its own mistakes are
            // reported, and references to the section's name stay quiet.
            diags.error(
                &line.loc,
                format!("'{kw} {n} from' needs the name of a defaults section after 'from'"),
            );
            (Some(n.clone()), None, &args[..0])
        }
        (SectionKind::Defaults, [n, rest @ ..]) => (Some(n.clone()), None, rest),
        (_, []) => {
            diags.error(&line.loc, format!("'{kw}' needs a name (e.g. '{kw} web')"));
            return None;
        }
        (_, [n, rest @ ..]) => (Some(n.clone()), None, rest),
    };
    if !extra.is_empty() {
        diags.error(
            &line.loc,
            format!(
                "unexpected '{}' after the '{kw}' section header; remove it",
                extra.join(" ")
            ),
        );
    }
    // As HAProxy: a bad name is refused but the body is still read, so that its own mistakes
    // are reported and uses of the name do not add "no such ..." errors. A bad `from` name is
    // dropped (the section inherits as without it): it cannot name a defaults section.
    check_name(name.as_deref(), line, diags);
    let from = from.filter(|f| check_name(Some(f), line, diags));
    Some(Section {
        kind,
        name,
        from,
        loc: line.loc.clone(),
        lines: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> (Vec<Vec<String>>, Diags) {
        let mut d = Diags::default();
        let lines = tokenize("t.cfg", text, &mut d);
        (lines.into_iter().map(|l| l.words).collect(), d)
    }

    #[test]
    fn splits_and_comments() {
        let (w, d) = words("  bind *:80   # comment\n\n# only\nmode\thttp");
        assert_eq!(w, vec![vec!["bind", "*:80"], vec!["mode", "http"]]);
        assert!(d.list.is_empty());
    }

    #[test]
    fn quotes_and_escapes() {
        let (w, _) = words(r#"a "b c" 'd $e \n' f\ g \#h "\"i\"" "" x\x41"#);
        assert_eq!(
            w[0],
            vec!["a", "b c", r"d $e \n", "f g", "#h", "\"i\"", "", "xA"]
        );
    }

    #[test]
    fn env_expansion_inside_double_quotes_only() {
        std::env::set_var("RINGLB_TEST_VAR", "v1");
        let (w, d) = words("k \"${RINGLB_TEST_VAR}x\" \"$RINGLB_TEST_VAR\" $RINGLB_TEST_VAR \"${RINGLB_NOPE-def}\"");
        assert_eq!(w[0], vec!["k", "v1x", "v1", "$RINGLB_TEST_VAR", "def"]);
        assert!(d.list.is_empty());
        let (w, d) = words("k \"a${RINGLB_SURELY_UNSET}b\"");
        assert_eq!(w[0], vec!["k", "ab"]);
        assert!(d.list[0].message.contains("RINGLB_SURELY_UNSET"));
    }

    #[test]
    fn pseudo_variables() {
        let (w, d) = words("global\n a \"${.FILE}:${.LINE} ${.SECTION}\"\nbackend app\n b \"${.SECTION}/${.LINE}\"\ndefaults\n c \"$.SECTION\"\n");
        assert_eq!(w[1], vec!["a", "t.cfg:2 global"]);
        assert_eq!(w[3], vec!["b", "app/4"]);
        assert_eq!(w[5], vec!["c", "defaults"]);
        assert!(d.list.is_empty(), "{:?}", d.list);
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        let (w, d) = words("a \"b c\nnext");
        // The words before the bad one are kept (on a line marked broken, never applied).
        assert_eq!(w, vec![vec!["a"], vec!["next"]]);
        assert!(d.has_errors());
        assert!(d.list[0].message.contains("column 3"), "{}", d.list[0]);
    }

    #[test]
    fn nbsp_is_blank_with_one_warning() {
        let (w, d) = words("global\n\u{a0}\u{a0}daemon\u{a0}# x\n\u{a0}maxconn\u{a0}10\n");
        assert_eq!(
            w,
            vec![vec!["global"], vec!["daemon"], vec!["maxconn", "10"]]
        );
        assert_eq!(d.list.len(), 1);
        assert_eq!(d.list[0].line, 2);
        assert!(
            d.list[0].message.contains("column 1") && d.list[0].message.contains("2 such lines")
        );
    }

    #[test]
    fn curly_quotes_are_characters_with_one_warning() {
        let (w, d) = words("a \u{201c}b c\u{201d}\nk \"\u{2018}in quotes\u{2019}\"\nx \u{2019}y\n");
        assert_eq!(
            w,
            vec![
                vec!["a", "\u{201c}b", "c\u{201d}"],
                vec!["k", "\u{2018}in quotes\u{2019}"],
                vec!["x", "\u{2019}y"]
            ]
        );
        assert_eq!(d.list.len(), 1, "{:?}", d.list);
        assert_eq!(d.list[0].line, 1);
        let m = &d.list[0].message;
        assert!(
            m.starts_with("line contains U+201C left double quotation mark '\u{201c}' at column 3"),
            "{m}"
        );
        assert!(m.contains("2 such lines in this file"), "{m}");
    }

    #[test]
    fn a_broken_header_skips_its_body() {
        let mut d = Diags::default();
        let s = parse_file(
            "t.cfg",
            "frontend f\n bind :80\nbackend \"b\n server s 1.2.3.4:80\n",
            &mut d,
        );
        assert_eq!(s.len(), 1);
        assert_eq!(
            s[0].lines.len(),
            1,
            "the server line must not join frontend f"
        );
        assert_eq!(d.list.len(), 1);
    }

    #[test]
    fn junk_does_not_panic() {
        let junk: String = (0u32..2000)
            .filter_map(|i| char::from_u32(i * 37 % 0x3000))
            .collect();
        let mut d = Diags::default();
        let _ = parse_file("j.cfg", &junk, &mut d);
        let _ = parse_file("j.cfg", "\"${", &mut d);
        let _ = parse_file("j.cfg", "x \"$", &mut d);
        let _ = parse_file("j.cfg", "\\", &mut d);
        let _ = parse_file("j.cfg", "frontend a from", &mut d);
        let _ = parse_file("j.cfg", &"a".repeat(10_000), &mut d);
    }

    #[test]
    fn sections() {
        let mut d = Diags::default();
        let s = parse_file(
            "t.cfg",
            "global\n daemon\npeers u\n peer x\nfrontend f from d1\n bind :80\ndefaults d1\n",
            &mut d,
        );
        assert_eq!(s.len(), 3);
        assert_eq!(s[1].name.as_deref(), Some("f"));
        assert_eq!(s[1].from.as_deref(), Some("d1"));
        assert_eq!(s[1].lines.len(), 1);
        assert_eq!(s[2].name.as_deref(), Some("d1"));
        assert_eq!(d.list.len(), 1);
        assert!(d.list[0]
            .message
            .contains("'peers' sections are not supported"));
    }
}
