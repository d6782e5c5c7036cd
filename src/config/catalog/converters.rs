//! The converter table: every converter ringlb applies, with the type of its output (the last
//! converter decides an expression's type, hence an ACL's default match method) and its parse
//! function. `parse` looks a name up and words a miss with the closest name.
//!
//! `parse` returns the row's spec with the converter: `expr::parse_expr` records the last
//! converter's output type in the `Expr`.

use std::sync::Arc;

use super::Handler;
use crate::config::expr::{load_map, SmpType};
use crate::config::model_rules::{ArithOp, Conv, MapMatch, Operand, UnaryOp};
use crate::config::{regexes, suggest};
use SmpType::{Bool, Int, Ip, Str};

/// A converter as written: `name(args)`, the arguments split at commas.
pub struct Call<'a> {
    pub name: &'a str,
    pub args: &'a [String],
}

pub type ParseFn = fn(&Call) -> Result<Conv, String>;

/// A supported converter: what it yields, how it is written, how it is parsed.
#[derive(Clone, Copy)]
pub struct Spec {
    pub out: SmpType,
    /// A use of it that loads (after a string fetch), for README.md and the tests; map files
    /// are named `FILE`, which the tests replace with a real file.
    pub example: &'static str,
    pub parse: ParseFn,
}

pub struct Row {
    pub name: &'static str,
    pub handler: Handler<Spec>,
}

const fn ok(name: &'static str, out: SmpType, example: &'static str, parse: ParseFn) -> Row {
    Row {
        name,
        handler: Handler::Parse(Spec {
            out,
            example,
            parse,
        }),
    }
}

/// In the order "did you mean" prefers on a tie.
#[rustfmt::skip]
pub static TABLE: &[Row] = &[
    ok("lower", Str, "lower", |c| none(c, Conv::Lower)),
    ok("upper", Str, "upper", |c| none(c, Conv::Upper)),
    ok("regsub", Str, "regsub(a,b,g)", regsub),
    ok("map", Str, "map(FILE,none)", |c| map(c, MapMatch::Str)),
    ok("map_str", Str, "map_str(FILE)", |c| map(c, MapMatch::Str)),
    ok("map_beg", Str, "map_beg(FILE)", |c| map(c, MapMatch::Beg)),
    ok("map_dom", Str, "map_dom(FILE)", |c| map(c, MapMatch::Dom)),
    ok("map_ip", Str, "map_ip(FILE)", |c| map(c, MapMatch::Ip)),
    ok("ipmask", Ip, "ipmask(24,64)", ipmask),
    ok("base64", Str, "base64", |c| none(c, Conv::Base64)),
    ok("hex", Str, "hex", |c| none(c, Conv::Hex)),
    ok("field", Str, "field(1,/)", field),
    ok("word", Str, "word(1,/)", field),
    ok("length", Int, "length", |c| none(c, Conv::Length)),
    ok("json", Str, "json(utf8)", json),
    ok("add", Int, "add(1)", |c| arith(c, ArithOp::Add)),
    ok("sub", Int, "sub(txn.n)", |c| arith(c, ArithOp::Sub)),
    ok("mul", Int, "mul(2)", |c| arith(c, ArithOp::Mul)),
    ok("div", Int, "div(2)", |c| arith(c, ArithOp::Div)),
    ok("mod", Int, "mod(3)", |c| arith(c, ArithOp::Mod)),
    ok("and", Int, "and(255)", |c| arith(c, ArithOp::And)),
    ok("or", Int, "or(1)", |c| arith(c, ArithOp::Or)),
    ok("xor", Int, "xor(1)", |c| arith(c, ArithOp::Xor)),
    ok("neg", Int, "neg", |c| none(c, Conv::Unary(UnaryOp::Neg))),
    ok("cpl", Int, "cpl", |c| none(c, Conv::Unary(UnaryOp::Cpl))),
    ok("bool", Bool, "bool", |c| none(c, Conv::Unary(UnaryOp::Bool))),
    ok("not", Bool, "not", |c| none(c, Conv::Unary(UnaryOp::Not))),
    ok("odd", Bool, "odd", |c| none(c, Conv::Unary(UnaryOp::Odd))),
    ok("even", Bool, "even", |c| none(c, Conv::Unary(UnaryOp::Even))),
];

/// The row of `name`, if any.
pub fn find(name: &str) -> Option<&'static Row> {
    TABLE.iter().find(|r| r.name == name)
}

/// Parses the converter `name(args)`; returns it with its row's spec.
pub fn parse(name: &str, args: &[String]) -> Result<(Conv, Spec), String> {
    match find(name).map(|r| r.handler) {
        Some(Handler::Parse(spec)) => Ok(((spec.parse)(&Call { name, args })?, spec)),
        Some(Handler::Refused(why)) => Err(super::refusal(&format!("converter '{name}'"), why)),
        None => {
            let hint = suggest::hint(name, TABLE.iter().map(|r| r.name));
            Err(format!("unknown converter '{name}'{hint}"))
        }
    }
}

fn none(c: &Call, conv: Conv) -> Result<Conv, String> {
    if c.args.is_empty() {
        Ok(conv)
    } else {
        Err(format!("converter '{}' takes no argument", c.name))
    }
}

/// `add(N)`, `sub(txn.n)`...: an integer, or a variable's name (HAProxy's rule: what has a
/// scope prefix is a variable).
fn arith(c: &Call, op: ArithOp) -> Result<Conv, String> {
    let [arg] = c.args else {
        return Err(format!(
            "converter '{}' takes one argument, an integer or a variable (e.g. {}(1) or {}(txn.n))",
            c.name, c.name, c.name
        ));
    };
    let arg = arg.trim();
    if let Ok(n) = arg.parse::<i64>() {
        return Ok(Conv::Arith(op, Operand::Int(n)));
    }
    match crate::config::expr::var_name(arg) {
        Ok(name) => Ok(Conv::Arith(op, Operand::Var(name))),
        Err(_) => Err(format!(
            "converter '{}': '{arg}' is neither an integer nor a variable (e.g. txn.n)",
            c.name
        )),
    }
}

/// `json([utf8])`: the input encodings HAProxy names all escape the same way here.
fn json(c: &Call) -> Result<Conv, String> {
    match c.args.first().map(String::as_str) {
        None | Some("" | "utf8" | "utf8s" | "utf8p" | "utf8ps" | "ascii") => Ok(Conv::Json),
        Some(o) => Err(format!("json: unknown input encoding '{o}'")),
    }
}

fn regsub(c: &Call) -> Result<Conv, String> {
    let (re, with, flags) =
        match c.args {
            [r, w] => (r, w, ""),
            [r, w, f] => (r, w, f.as_str()),
            _ => return Err(
                "regsub takes a regex, a replacement and optional flags: regsub(REGEX,SUBST[,ig])"
                    .into(),
            ),
        };
    if let Some(c) = flags.chars().find(|c| !"ig".contains(*c)) {
        return Err(format!("regsub: unknown flag '{c}' (known: i, g)"));
    }
    Ok(Conv::Regsub {
        re: regexes::compile(re, flags.contains('i'))?,
        with: with.clone(),
        global: flags.contains('g'),
    })
}

fn map(c: &Call, how: MapMatch) -> Result<Conv, String> {
    let name = c.name;
    let (file, default) = match c.args {
        [f] => (f, None),
        [f, d] => (f, Some(d.clone())),
        _ => {
            return Err(format!(
                "{name} takes a map file and an optional default: {name}(FILE[,DEFAULT])"
            ))
        }
    };
    Ok(Conv::Map {
        map: Arc::new(load_map(file, how)?),
        how,
        default,
    })
}

fn ipmask(c: &Call) -> Result<Conv, String> {
    let bits = |s: &str, max: u8| -> Result<u8, String> {
        if let Ok(n) = s.parse::<u8>() {
            if n <= max {
                return Ok(n);
            }
        }
        // A dotted mask: count its leading ones.
        match s.parse::<std::net::Ipv4Addr>() {
            Ok(ip) if max == 32 => Ok(u32::from(ip).leading_ones() as u8),
            _ => Err(format!(
                "ipmask: '{s}' is not a mask (0..={max} or a dotted mask)"
            )),
        }
    };
    match c.args {
        [v4] => Ok(Conv::Ipmask {
            v4: bits(v4, 32)?,
            v6: 128,
        }),
        [v4, v6] => Ok(Conv::Ipmask {
            v4: bits(v4, 32)?,
            v6: bits(v6, 128)?,
        }),
        _ => Err("ipmask takes an IPv4 mask and an optional IPv6 mask: ipmask(24[,64])".into()),
    }
}

/// `field(index,delimiters[,count])` and `word(...)`.
fn field(c: &Call) -> Result<Conv, String> {
    let name = c.name;
    let (idx, delims, count) = match c.args {
        [i, d] => (i, d, None),
        [i, d, n] => (i, d, Some(n)),
        _ => {
            return Err(format!(
                "{name} takes an index, delimiters and an optional count: {name}(1,/)"
            ))
        }
    };
    let index: i32 = idx
        .parse()
        .map_err(|_| format!("{name}: index '{idx}' is not an integer"))?;
    if index == 0 {
        return Err(format!(
            "{name}: index 0 is invalid; fields count from 1 (or -1 from the end)"
        ));
    }
    if delims.is_empty() {
        return Err(format!("{name}: missing delimiters"));
    }
    let count = match count {
        Some(n) => n
            .parse()
            .map_err(|_| format!("{name}: count '{n}' is not a number"))?,
        None => 1,
    };
    Ok(Conv::Field {
        index,
        delims: delims.as_bytes().to_vec(),
        count,
        words: name == "word",
    })
}

fn out_cell(t: SmpType) -> &'static str {
    match t {
        SmpType::Str => "string",
        SmpType::Int => "integer",
        SmpType::Ip => "address",
        SmpType::Bool => "boolean",
    }
}

/// The table as markdown, for README.md.
pub fn markdown() -> String {
    let rows = TABLE.iter().map(|r| match r.handler {
        Handler::Parse(s) => vec![
            format!("`{}`", r.name),
            format!("`{}`", s.example),
            out_cell(s.out).to_string(),
        ],
        Handler::Refused(why) => vec![
            format!("`{}`", r.name),
            String::new(),
            super::refused_cell(why),
        ],
    });
    super::markdown(&["converter", "example", "output"], rows)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_unique, errors};
    use super::*;
    use crate::config::expr::{expr_type, parse_expr, ParseEnv};

    #[test]
    fn names_are_unique() {
        assert_unique(TABLE.iter().map(|r| r.name));
    }

    /// The example with `FILE` replaced by a map file written for the test.
    fn example(s: &Spec, dir: &std::path::Path) -> String {
        let map = dir.join("t.map");
        assert!(std::fs::write(&map, "10.0.0.0/8 y\n").is_ok());
        s.example.replace("FILE", &map.to_string_lossy())
    }

    fn test_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("ringlb-conv-{name}-{}", std::process::id()));
        assert!(std::fs::create_dir_all(&dir).is_ok());
        dir
    }

    #[test]
    fn every_row_parses_through_the_loader() {
        let dir = test_dir("load");
        for row in TABLE {
            let Handler::Parse(s) = row.handler else {
                continue;
            };
            let text = format!(
                "frontend f\n  mode http\n  bind 127.0.0.1:0\n  http-request set-var(txn.v) path,{}\n  default_backend b\nbackend b\n  mode http\n  server s 127.0.0.1:1\n",
                example(&s, &dir)
            );
            let errs = errors(&text);
            assert!(errs.is_empty(), "{}: {errs:?}", row.name);
        }
    }

    /// A parsed expression's type is its last converter's row's.
    #[test]
    fn parsed_expressions_carry_the_row() {
        let dir = test_dir("type");
        for row in TABLE {
            let Handler::Parse(s) = row.handler else {
                continue;
            };
            let text = format!("path,{}", example(&s, &dir));
            let e = parse_expr(&text, &ParseEnv::default())
                .unwrap_or_else(|e| panic!("{}: {e}", row.name));
            assert_eq!(expr_type(&e), s.out, "{}", row.name);
        }
    }

    #[test]
    fn misses_get_a_suggestion() {
        let err = parse("lowr", &[]).err().unwrap_or_default();
        assert_eq!(err, "unknown converter 'lowr'; did you mean 'lower'?");
    }
}
