//! Conditional blocks (`.if` / `.elif` / `.else` / `.endif`) and the report directives (`.diag`,
//! `.notice`, `.warning`, `.alert`), applied to a file's lines as they are read, before they are
//! grouped into sections: HAProxy 2.6's preprocessor (cfgparse.c, manual section 2.4).
//!
//! As in HAProxy, every line is tokenized (its quoting mistakes are errors even in a branch not
//! taken), but the lines of a branch not taken are dropped before any keyword is looked at, so a
//! keyword ringlb does not know is no error there; neither is a `.if` condition inside such a
//! branch, which is not evaluated. Blocks are per file: a `.if` must end in the file it opens in.

use super::block_cond;
use super::error::{Diags, Severity};
use super::model::Loc;
use super::suggest;
use super::syntax::Line;

/// HAProxy 2.6 refuses deeper nesting (MAXNESTEDCONDS).
const MAX_NESTED: usize = 128;

const DIRECTIVES: [&str; 8] = [
    ".if", ".elif", ".else", ".endif", ".diag", ".notice", ".warning", ".alert",
];

/// What becomes of a line.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// An ordinary line in a taken branch: it goes on to the sections.
    Keep,
    /// A directive, or a line of a branch not taken.
    Drop,
    /// `.alert`: loading stops here.
    Abort,
}

/// One open `.if`.
struct Level {
    opened: Loc,
    /// The lines of the current branch are kept (the enclosing levels' too is checked apart).
    active: bool,
    /// A branch of this `.if` was taken already (or the whole `.if` is inside a dropped branch):
    /// no later `.elif` / `.else` is taken.
    decided: bool,
    seen_else: bool,
}

/// The state of one file's blocks.
pub struct Blocks<'e> {
    levels: Vec<Level>,
    env: &'e dyn Fn(&str) -> Option<String>,
}

impl<'e> Blocks<'e> {
    pub fn new(env: &'e dyn Fn(&str) -> Option<String>) -> Self {
        Blocks {
            levels: Vec::new(),
            env,
        }
    }

    /// The lines read now are kept.
    pub fn active(&self) -> bool {
        self.levels.iter().all(|l| l.active)
    }

    /// Decides a tokenized line's fate; directives' problems go to `diags`.
    pub fn line(&mut self, line: &Line, diags: &mut Diags) -> Verdict {
        let kw = line.word(0);
        match kw {
            ".if" => self.open_if(line, diags),
            ".elif" => self.elif(line, diags),
            ".else" => self.else_(line, diags),
            ".endif" => self.endif(line, diags),
            _ if !self.active() => return Verdict::Drop,
            _ if kw.starts_with('.') => return report(line, diags),
            _ => return Verdict::Keep,
        }
        Verdict::Drop
    }

    /// At the end of the file: every `.if` left open is an error at its line.
    pub fn finish(self, diags: &mut Diags) {
        for l in self.levels {
            diags.error(
                &l.opened,
                "'.if' block is never closed: the file ends before its '.endif'",
            );
        }
    }

    fn open_if(&mut self, line: &Line, diags: &mut Diags) {
        if self.levels.len() + 1 == MAX_NESTED {
            diags.error(
                &line.loc,
                format!("too many nested '.if', max is {MAX_NESTED}"),
            );
        }
        let taken = self.active() && self.condition(line, diags);
        let inside_dropped = !self.active();
        self.levels.push(Level {
            opened: line.loc.clone(),
            active: taken,
            decided: taken || inside_dropped,
            seen_else: false,
        });
    }

    fn elif(&mut self, line: &Line, diags: &mut Diags) {
        let Some(level) = self.levels.last() else {
            diags.error(&line.loc, "lone '.elif' with no matching '.if'");
            return;
        };
        if level.seen_else {
            diags.error(&line.loc, "'.elif' after '.else' is not permitted");
            return;
        }
        let taken = !level.decided && self.condition(line, diags);
        if let Some(level) = self.levels.last_mut() {
            level.active = taken;
            level.decided |= taken;
        }
    }

    fn else_(&mut self, line: &Line, diags: &mut Diags) {
        if !no_argument(line, diags) {
            return;
        }
        let Some(level) = self.levels.last_mut() else {
            diags.error(&line.loc, "lone '.else' with no matching '.if'");
            return;
        };
        if level.seen_else {
            diags.error(&line.loc, "'.else' after '.else' is not permitted");
            return;
        }
        level.seen_else = true;
        level.active = !level.decided;
        level.decided = true;
    }

    fn endif(&mut self, line: &Line, diags: &mut Diags) {
        no_argument(line, diags);
        if self.levels.pop().is_none() {
            diags.error(&line.loc, "lone '.endif' with no matching '.if'");
        }
    }

    /// The line's condition; a bad one is an error and counts as false. The words are joined
    /// with single spaces, as HAProxy does, so `streq("$A", x)` reads the expanded value.
    fn condition(&self, line: &Line, diags: &mut Diags) -> bool {
        if line.broken {
            return false; // already reported by the tokenizer
        }
        let text = line.words[1..].join(" ");
        match block_cond::evaluate(&text, self.env) {
            Ok(v) => v,
            Err(e) => {
                diags.error(
                    &line.loc,
                    format!(
                        "{} in '{}' at position {}{}",
                        e.message,
                        line.word(0),
                        e.position,
                        e.hint
                    ),
                );
                false
            }
        }
    }
}

/// `-cc CONDITION`: the text is read as a configuration line is (quotes, `"$VAR"` expansion,
/// as HAProxy's `-cc` does), then answered. `Err` holds the reason it does not parse.
pub fn check_condition(text: &str) -> Result<bool, String> {
    let mut diags = Diags::default();
    let words = super::syntax::line_words("-cc", text, &mut diags);
    if let Some(e) = diags.list.iter().find(|d| d.severity == Severity::Error) {
        return Err(e.message.clone());
    }
    let env = |name: &str| std::env::var(name).ok();
    block_cond::evaluate(&words.join(" "), &env)
        .map_err(|e| format!("{} at position {}{}", e.message, e.position, e.hint))
}

fn no_argument(line: &Line, diags: &mut Diags) -> bool {
    if line.words.len() <= 1 {
        return true;
    }
    diags.error(
        &line.loc,
        format!(
            "unexpected argument '{}' for '{}'",
            line.word(1),
            line.word(0)
        ),
    );
    false
}

/// `.diag` / `.notice` / `.warning` / `.alert` "message", or an unknown directive.
fn report(line: &Line, diags: &mut Diags) -> Verdict {
    let kw = line.word(0);
    if !DIRECTIVES.contains(&kw) {
        let hint = suggest::hint(kw, DIRECTIVES);
        diags.error(&line.loc, format!("unknown directive '{kw}'{hint}"));
        return Verdict::Drop;
    }
    if line.words.len() > 2 {
        diags.error(
            &line.loc,
            format!(
                "unexpected argument '{}' for '{kw}'; use quotes if the message should contain spaces",
                line.word(2)
            ),
        );
        return Verdict::Drop;
    }
    let message = format!("'{}'", line.word(1));
    match kw {
        // Shown by HAProxy only in diagnostic mode (-dD), which ringlb does not have.
        ".diag" => Verdict::Drop,
        ".notice" => {
            diags.notice(&line.loc, message);
            Verdict::Drop
        }
        ".warning" => {
            diags.warn(&line.loc, message);
            Verdict::Drop
        }
        _ => {
            diags.error(&line.loc, format!("{message} (.alert: loading stops here)"));
            Verdict::Abort
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::error::Diags;
    use crate::config::syntax::tokenize_with_env;

    fn env(name: &str) -> Option<String> {
        (name == "WITH_TLS").then(|| "yes".to_string())
    }

    /// The words of the kept lines, and the diagnostics as `line: message`.
    fn run(text: &str) -> (Vec<String>, Vec<String>, bool) {
        let mut d = Diags::default();
        let lines = tokenize_with_env("t.cfg", text, &mut d, &env);
        let kept = lines.iter().map(|l| l.words.join(" ")).collect();
        let diags = d
            .list
            .iter()
            .map(|x| format!("{}: {}", x.line, x.message))
            .collect();
        (kept, diags, d.aborted)
    }

    #[test]
    fn branches_and_nesting() {
        let (kept, diags, _) = run(
            "a\n.if defined(WITH_TLS)\n b\n .if 0\n  c\n .elif 1\n  d\n .else\n  e\n .endif\n.else\n f\n.endif\ng\n",
        );
        assert_eq!(kept, ["a", "b", "d", "g"]);
        assert!(diags.is_empty(), "{diags:?}");
        let (kept, _, _) = run(".if 0\n.elif 0\n x\n.elif 1\n y\n.elif 1\n z\n.else\n w\n.endif\n");
        assert_eq!(kept, ["y"], "only the first true branch");
        let (kept, _, _) = run(".if 0\n.else\n y\n.endif\n.if 1\n.else\n z\n.endif\n");
        assert_eq!(kept, ["y"]);
    }

    #[test]
    fn env_expansion_in_conditions() {
        std::env::set_var("RINGLB_BLOCKS_TEST", "prod");
        let (kept, diags, _) = run(
            ".if streq(\"$RINGLB_BLOCKS_TEST\",prod)\n a\n.endif\n.if strneq(\"${RINGLB_BLOCKS_TEST}\",prod)\n b\n.endif\n",
        );
        assert_eq!(kept, ["a"], "{diags:?}");
    }

    #[test]
    fn skipped_branch_lines_are_not_parsed() {
        let (kept, diags, _) =
            run(".if 0\n lua-load x.lua\n .if bogus((\n  y\n .endif\n .frob\n.endif\nz\n");
        assert_eq!(kept, ["z"]);
        assert!(diags.is_empty(), "{diags:?}");
        // Tokenizing still happens, as in HAProxy: a quote left open is an error anywhere...
        let (_, diags, _) = run(".if 0\n bind \"x\n.endif\n");
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert!(
            diags[0].starts_with("2: unterminated double quote"),
            "{diags:?}"
        );
        // ...but an unset variable in a dropped line is no warning: it was never used.
        let (_, diags, _) = run(".if 0\n bind \"$RINGLB_SURELY_UNSET\"\n.endif\n");
        assert!(diags.is_empty(), "{diags:?}");
    }

    #[test]
    fn structure_errors_keep_their_line() {
        let (_, d, _) = run("a\n.if 1\nb\n");
        assert_eq!(
            d,
            ["2: '.if' block is never closed: the file ends before its '.endif'"]
        );
        let (_, d, _) = run(".else\n");
        assert_eq!(d, ["1: lone '.else' with no matching '.if'"]);
        let (_, d, _) = run(".elif 1\n");
        assert_eq!(d, ["1: lone '.elif' with no matching '.if'"]);
        let (_, d, _) = run(".endif\n");
        assert_eq!(d, ["1: lone '.endif' with no matching '.if'"]);
        let (_, d, _) = run(".if 1\n.else\n.elif 1\n.endif\n");
        assert_eq!(d, ["3: '.elif' after '.else' is not permitted"]);
        let (_, d, _) = run(".if 1\n.else\n.else\n.endif\n");
        assert_eq!(d, ["3: '.else' after '.else' is not permitted"]);
        let (_, d, _) = run(".if 1\n.else x\n.endif\n");
        assert_eq!(d, ["2: unexpected argument 'x' for '.else'"]);
        let (_, d, _) = run(".if defnied(X)\n.endif\n");
        assert_eq!(d.len(), 1);
        assert!(
            d[0].starts_with("1: unparsable conditional expression 'defnied(X)'"),
            "{d:?}"
        );
        assert!(
            d[0].ends_with("in '.if' at position 1; did you mean 'defined'?"),
            "{d:?}"
        );
        let (_, d, _) = run(".if 1\n.elif streq(a)\n.endif\n");
        assert!(
            d.is_empty(),
            "an .elif after a taken branch is not evaluated: {d:?}"
        );
        let (_, d, _) = run(".if 0\n.elif streq(a)\n.endif\n");
        assert!(d[0].starts_with("2: missing arguments (got 1/2)"), "{d:?}");
        let (_, d, _) = run(".iff 1\n");
        assert_eq!(d, ["1: unknown directive '.iff'; did you mean '.if'?"]);
        let deep = ".if 1\n".repeat(200) + &".endif\n".repeat(200);
        let (_, d, _) = run(&deep);
        assert!(
            d.iter()
                .any(|m| m.contains("too many nested '.if', max is 128")),
            "{:?}",
            d.first()
        );
    }

    #[test]
    fn report_directives() {
        let (kept, d, aborted) = run(
            ".diag \"quiet\"\n.notice \"n\"\n.warning \"w\"\n.warning two words\n.if 0\n.alert \"not here\"\n.endif\nx\n",
        );
        assert_eq!(kept, ["x"]);
        assert!(!aborted);
        assert_eq!(
            d,
            [
                "2: 'n'",
                "3: 'w'",
                "4: unexpected argument 'words' for '.warning'; use quotes if the message should contain spaces"
            ]
        );
        let (kept, d, aborted) = run("a\n.alert \"TLS is mandatory\"\nb\n.if\n");
        assert!(aborted);
        assert_eq!(kept, ["a"], "nothing after an .alert is read");
        assert_eq!(d, ["2: 'TLS is mandatory' (.alert: loading stops here)"]);
    }
}
