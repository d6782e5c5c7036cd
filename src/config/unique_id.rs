//! `unique-id-format FMT` and `unique-id-header NAME`: an ID computed once per request from a
//! log-format (the `unique-id` fetch, `%ID`), optionally sent to the server in a header.

use super::draft::ProxyDraft;
use super::expr;
use super::keywords::Cx;
use super::model_rules::Phase;

/// `unique-id-format FMT`: one argument, as HAProxy requires (spaces escaped); an empty one
/// clears what defaults set.
pub fn format(p: &mut ProxyDraft, cx: &mut Cx) {
    if cx.args.len() > 1 {
        return cx.err(format!(
            "'{}' expects only one argument, don't forget to escape spaces!",
            cx.kw
        ));
    }
    let Some(text) = cx.one("a log-format string, e.g. %{+X}o\\ %ci:%cp_%fi:%fp_%Ts_%rt:%pid")
    else {
        return;
    };
    if cx.in_backend_only() {
        return cx.warn(format!(
            "'{}' is ignored in a backend: it only applies to frontends",
            cx.kw
        ));
    }
    if text.is_empty() {
        p.unique_id_format = None;
        return;
    }
    match expr::parse_logformat_merging_spaces(text, &p.env, Phase::Request) {
        Ok(lf) => p.unique_id_format = Some(lf),
        Err(e) => cx.err(format!("failed to parse unique-id: {e}")),
    }
}

/// `unique-id-header NAME`: the header the ID is added to, in the request sent to the server.
pub fn header(p: &mut ProxyDraft, cx: &mut Cx) {
    let Some(name) = cx.one("a header name") else {
        return;
    };
    if cx.in_backend_only() {
        return cx.warn(format!(
            "'{}' is ignored in a backend: it only applies to frontends",
            cx.kw
        ));
    }
    if name.is_empty() || !name.bytes().all(is_token_byte) {
        return cx.err(format!("'{}': '{name}' is not a valid header name", cx.kw));
    }
    // HTTP/1 header names go out in lower case, as HAProxy 2.6 sends them.
    p.unique_id_header = Some(name.to_ascii_lowercase());
}

/// RFC 9110 token characters.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
