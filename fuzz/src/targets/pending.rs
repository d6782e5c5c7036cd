//! Invariants that do not hold yet: fixes issue 8 asks for that other work is making at the
//! same time, and open fuzzing findings. Each check is skipped while its item is listed in
//! `PENDING`, so the fuzzers look for new bugs instead of finding these again. Whoever lands
//! a fix removes the entry; tests/fuzz_corpus.rs (`pending_items_still_fail`) replays each
//! item's corpus inputs with every check on and fails, naming the item, once they pass. With
//! the list empty, this file is just more invariants.

use super::head;
use ringlb::http::{Header, Method, Request};
use std::cell::Cell;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item {
    /// Issue 8 item 1: request-target forms (RFC 9112 3.2), no '#', '\', or bytes RFC 3986
    /// does not allow.
    TargetForms,
    /// Issue 8 item 3: a Host value is a valid uri-host[:port] (no list, userinfo, spaces,
    /// bad port).
    HostValue,
    /// Issue 8 item 7: Transfer-Encoding with empty list members is refused.
    TeEmptyMembers,
    /// Issue 8 item 14: messages speak of the product ("not supported yet"), never of plans
    /// or issues.
    MessageWording,
    /// Found by the request fuzzer: when a Connection header carries a token other than
    /// close / keep-alive / upgrade (`Connection: Upgrade, foo` or a second Connection
    /// field), head.rs drops the Upgrade header it must keep for an upgrade, since "upgrade"
    /// is then read as a field the Connection header names; the server gets
    /// `connection: upgrade` without `Upgrade` and cannot upgrade.
    UpgradeWithOtherConnectionTokens,
}

/// Remove an item when its fix lands.
pub const PENDING: &[Item] = &[];

thread_local! {
    static STRICT: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with every check on, pending or not (for the test that notices a landed fix).
pub fn strict<T>(f: impl FnOnce() -> T) -> T {
    /// Turns the checks back to normal even when `f` panics.
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            STRICT.with(|s| s.set(false));
        }
    }
    STRICT.with(|s| s.set(true));
    let _reset = Reset;
    f()
}

pub fn enforced(item: Item) -> bool {
    STRICT.with(Cell::get) || !PENDING.contains(&item)
}

/// RFC 3986 2.2-2.3 plus '%' (pct-encoded): every byte a request-target may carry before its
/// query, plus `| ^`, which browsers send unencoded (README "How ringlb differs").
fn is_path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%[]|^".contains(&b)
}

/// In the query, also `?` and the bytes browsers leave unencoded there: `\ ` { }`.
fn is_query_byte(b: u8) -> bool {
    is_path_byte(b) || b"?\\`{}".contains(&b)
}

fn is_uri(target: &[u8]) -> bool {
    let q = target
        .iter()
        .position(|&b| b == b'?')
        .unwrap_or(target.len());
    let (path, query) = target.split_at(q);
    path.iter().all(|&b| is_path_byte(b)) && query.iter().all(|&b| is_query_byte(b))
}

/// Origin-form starts with '/'; absolute-form is http(s)://host...; asterisk-form is OPTIONS
/// only; anything else is authority-form, CONNECT only.
pub fn check_target_form(method: Method, target: &[u8]) {
    if !enforced(Item::TargetForms) {
        return;
    }
    let shown = String::from_utf8_lossy(target);
    assert!(
        is_uri(target),
        "target {shown:?} holds a byte RFC 3986 forbids"
    );
    if target.starts_with(b"/") {
        return;
    }
    if target == b"*" {
        assert_eq!(method, Method::Options, "asterisk-form with {method:?}");
        return;
    }
    let lower = target.to_ascii_lowercase();
    let rest = lower
        .strip_prefix(b"http://")
        .or_else(|| lower.strip_prefix(b"https://"));
    match rest {
        Some(rest) => {
            let host_len = rest
                .iter()
                .position(|b| matches!(b, b'/' | b'?'))
                .unwrap_or(rest.len());
            assert!(
                host_len > 0,
                "absolute-form target {shown:?} without a host"
            );
        }
        None => assert_eq!(
            method,
            Method::Connect,
            "target {shown:?} in no form {method:?} allows"
        ),
    }
}

/// Host = uri-host [ ":" port ]: no list, no userinfo, no white space, a numeric port.
pub fn check_host(buf: &[u8], req: &Request) {
    if !enforced(Item::HostValue) {
        return;
    }
    for value in head::values(buf, &req.headers, b"host") {
        let shown = String::from_utf8_lossy(value);
        assert!(
            !value
                .iter()
                .any(|b| matches!(b, b',' | b'@' | b' ' | b'\t')),
            "Host {shown:?} accepted"
        );
        let after_brackets = value.iter().rposition(|&b| b == b']').map_or(0, |i| i + 1);
        let tail = &value[after_brackets..];
        if let Some(colon) = tail.iter().rposition(|&b| b == b':') {
            let port = &tail[colon + 1..];
            let ok = port.iter().all(u8::is_ascii_digit)
                && std::str::from_utf8(port)
                    .ok()
                    .and_then(|p| p.parse::<u32>().ok())
                    .is_none_or(|p| p <= 65535);
            assert!(ok, "Host {shown:?} with a bad port accepted");
        }
    }
}

/// An empty member before a coding (", chunked", "gzip, , chunked") is refused, as HAProxy 2.6
/// does; trailing empty members ("chunked,") are accepted by both.
pub fn check_transfer_encoding(buf: &[u8], headers: &[Header]) {
    if !enforced(Item::TeEmptyMembers) {
        return;
    }
    for value in head::values(buf, headers, b"transfer-encoding") {
        let members: Vec<&[u8]> = value.split(|&b| b == b',').map(head::trim).collect();
        let last_coding = members.iter().rposition(|m| !m.is_empty());
        let empty = last_coding.is_some_and(|last| members[..last].iter().any(|m| m.is_empty()));
        assert!(
            !empty,
            "Transfer-Encoding {:?} with an empty member accepted",
            String::from_utf8_lossy(value)
        );
    }
}

/// A configuration message that speaks of plans or issues.
pub fn check_message_wording(message: &str) {
    if !enforced(Item::MessageWording) {
        return;
    }
    let lower = message.to_ascii_lowercase();
    assert!(
        !lower.contains("planned") && !lower.contains(" issue"),
        "message speaks of plans: {message}"
    );
}
