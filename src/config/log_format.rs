//! Access-log format strings (`log-format`, and HAProxy's `option httplog` / `tcplog` /
//! `httplog clf` layouts, which HAProxy itself declares as such strings) parsed into a
//! `LogLine`. Rendering is `crate::log::format`.
//!
//! As in HAProxy, a space is a separator: consecutive ones, and those next to a variable that
//! wrote nothing (`%hr` without captures), print once.

use super::model_log::{LogFlags, LogLine, LogNode, LogVar};

/// `option httplog`.
pub const HTTPLOG: &str = "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc \
                           %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r";
/// `option httplog clf`.
pub const HTTPLOG_CLF: &str = "%{+Q}o %{-Q}ci - - [%trg] %r %ST %B \"\" \"\" %cp %ms %ft %b %s \
                               %TR %Tw %Tc %Tr %Ta %tsc %ac %fc %bc %sc %rc %sq %bq %CC %CS \
                               %hrl %hsl";
/// `option tcplog`.
pub const TCPLOG: &str = "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq";

/// The log-format separator, kept as its own node.
pub const SEP: &str = " ";

/// Variables by their `%` name (manual 8.2.6).
const VARS: &[(&str, LogVar)] = &[
    ("B", LogVar::BytesOut),
    ("CC", LogVar::CookieReq),
    ("CS", LogVar::CookieRes),
    ("H", LogVar::Hostname),
    ("HM", LogVar::Method),
    ("HP", LogVar::Path),
    ("HPO", LogVar::PathOnly),
    ("HQ", LogVar::Query),
    ("HU", LogVar::Uri),
    ("HV", LogVar::Version),
    ("ID", LogVar::UniqueId),
    ("ST", LogVar::Status),
    ("T", LogVar::GmtDate),
    ("Ta", LogVar::Ta),
    ("Tc", LogVar::Tc),
    ("Td", LogVar::Td),
    ("Tl", LogVar::LocalDate),
    ("Th", LogVar::Th),
    ("Ti", LogVar::Ti),
    ("Tq", LogVar::Tq),
    ("TR", LogVar::TR),
    ("Tr", LogVar::Tr),
    ("Ts", LogVar::Timestamp),
    ("Tt", LogVar::Tt),
    ("Tu", LogVar::Tu),
    ("Tw", LogVar::Tw),
    ("U", LogVar::BytesIn),
    ("ac", LogVar::ActConn),
    ("b", LogVar::Backend),
    ("bc", LogVar::BeConn),
    ("bq", LogVar::BackendQueue),
    ("ci", LogVar::ClientIp),
    ("cp", LogVar::ClientPort),
    ("f", LogVar::Frontend),
    ("fc", LogVar::FeConn),
    ("fi", LogVar::FrontendIp),
    ("fp", LogVar::FrontendPort),
    ("ft", LogVar::FrontendTransport),
    ("hr", LogVar::ReqHeaders),
    ("hrl", LogVar::ReqHeadersClf),
    ("hs", LogVar::ResHeaders),
    ("hsl", LogVar::ResHeadersClf),
    ("ms", LogVar::AcceptMs),
    ("pid", LogVar::Pid),
    ("r", LogVar::RequestLine),
    ("rt", LogVar::ReqCounter),
    ("rc", LogVar::Retries),
    ("s", LogVar::Server),
    ("sc", LogVar::SrvConn),
    ("si", LogVar::ServerIp),
    ("sp", LogVar::ServerPort),
    ("sq", LogVar::SrvQueue),
    ("t", LogVar::AcceptDate),
    ("tr", LogVar::RequestDate),
    ("trg", LogVar::RequestGmtDate),
    ("trl", LogVar::RequestLocalDate),
    ("ts", LogVar::TermState),
    ("tsc", LogVar::TermStateCookie),
];

/// HAProxy variables ringlb refuses, with why.
const REFUSED: &[(&str, &str)] = &[
    (
        "bi",
        "the connection's source address to the server is not recorded",
    ),
    (
        "bp",
        "the connection's source address to the server is not recorded",
    ),
    ("sslc", "TLS details are not logged yet"),
    ("lc", "log counters are not counted across cores"),
    ("sslv", "TLS details are not logged yet"),
];

/// Parses `text` (the words of a `log-format` line joined by one space).
pub fn parse(text: &str) -> Result<LogLine, String> {
    let mut p = Parser {
        text,
        nodes: Vec::new(),
        lit: String::new(),
        all: LogFlags::default(),
    };
    p.run()?;
    Ok(LogLine { nodes: p.nodes })
}

struct Parser<'a> {
    text: &'a str,
    nodes: Vec<LogNode>,
    lit: String,
    /// `%o`'s flags, applied to every variable after it.
    all: LogFlags,
}

impl Parser<'_> {
    fn run(&mut self) -> Result<(), String> {
        let mut rest = self.text;
        while let Some(c) = rest.chars().next() {
            rest = match c {
                '%' => self.percent(&rest[1..])?,
                ' ' => {
                    self.flush();
                    if !matches!(self.nodes.last(), Some(LogNode::Lit(s)) if s == SEP) {
                        self.nodes.push(LogNode::Lit(SEP.into()));
                    }
                    &rest[1..]
                }
                _ => {
                    self.lit.push(c);
                    &rest[c.len_utf8()..]
                }
            };
        }
        self.flush();
        Ok(())
    }

    fn flush(&mut self) {
        if !self.lit.is_empty() {
            self.nodes.push(LogNode::Lit(std::mem::take(&mut self.lit)));
        }
    }

    /// After a `%`: `%%`, `%{flags}name`, `%name`; `%[expr]` is refused.
    fn percent<'t>(&mut self, after: &'t str) -> Result<&'t str, String> {
        if let Some(r) = after.strip_prefix('%') {
            self.lit.push('%');
            return Ok(r);
        }
        let mut flags = self.all;
        let after = match after.strip_prefix('{') {
            Some(a) => {
                let end = a
                    .find('}')
                    .ok_or_else(|| format!("log-format '{}': '%{{' without '}}'", self.text))?;
                apply_flags(&a[..end], &mut flags)?;
                &a[end + 1..]
            }
            None => after,
        };
        if after.starts_with('[') {
            return Err(format!(
                "log-format '{}': sample expressions (%[...]) are not supported yet in logs; use the % variables, and 'capture request header' or 'http-request capture' with %hr",
                self.text
            ));
        }
        let len = after
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(after.len());
        let name = &after[..len];
        if name == "o" {
            self.all = flags;
            return Ok(&after[len..]);
        }
        let var = lookup(name).map_err(|e| format!("log-format '{}': {e}", self.text))?;
        self.flush();
        self.nodes.push(LogNode::Var(var, flags));
        Ok(&after[len..])
    }
}

fn lookup(name: &str) -> Result<LogVar, String> {
    if let Some((_, v)) = VARS.iter().find(|(n, _)| *n == name) {
        return Ok(*v);
    }
    if let Some((_, why)) = REFUSED.iter().find(|(n, _)| *n == name) {
        return Err(format!("'%{name}' is not supported: {why}"));
    }
    let hint = super::suggest::hint(name, VARS.iter().map(|(n, _)| *n));
    Err(format!("unknown variable '%{name}'{hint}"))
}

/// `+Q,-X,+E`: HAProxy's flags; a flag without a sign is refused as HAProxy does.
fn apply_flags(list: &str, flags: &mut LogFlags) -> Result<(), String> {
    for f in list.split(',') {
        let (on, name) = match (f.strip_prefix('+'), f.strip_prefix('-')) {
            (Some(n), _) => (true, n),
            (_, Some(n)) => (false, n),
            _ => return Err(format!("log-format flag '{f}' needs a '+' or '-' sign")),
        };
        match name {
            "Q" => flags.quote = on,
            "X" => flags.hex = on,
            "E" => flags.escape = on,
            _ => {
                return Err(format!(
                    "unknown log-format flag '{name}' (flags are Q, X, E)"
                ))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haproxy_layouts_parse() {
        for s in [HTTPLOG, HTTPLOG_CLF, TCPLOG] {
            assert!(parse(s).is_ok(), "{s}");
        }
    }

    #[test]
    fn separators_merge() {
        let l = parse("a  %ci %{+Q}r 100%%").unwrap_or_default();
        let seps = l
            .nodes
            .iter()
            .filter(|n| matches!(n, LogNode::Lit(s) if s == SEP))
            .count();
        assert_eq!(seps, 3);
        assert!(matches!(
            l.nodes.get(4),
            Some(LogNode::Var(LogVar::RequestLine, f)) if f.quote
        ));
    }

    #[test]
    fn errors_name_the_variable() {
        let e = parse("%ci %zz").unwrap_err();
        assert!(e.contains("unknown variable '%zz'"), "{e}");
        let e = parse("%Tx").unwrap_err();
        assert!(e.contains("did you mean"), "{e}");
        assert!(parse("%bi").unwrap_err().contains("not supported"));
        assert!(parse("%[src]").unwrap_err().contains("not supported yet"));
        assert!(parse("%{Q}r").unwrap_err().contains("sign"));
    }
}
