//! The `tune.*` globals HAProxy 2.6 documents (manual section 3.2) that mean nothing to ringlb:
//! OpenSSL's or HAProxy's own internals (pools, pollers, schedulers, splicing, zlib). Each is
//! read and its argument checked as HAProxy does, then a note says at load why it has no effect;
//! the keyword table (`keywords::noted`) holds each one's reason. `tune.maxrewrite` and
//! `thread-groups` mean something and are parsed here too.

use super::draft::GlobalDraft;
use super::keywords::Cx;

/// The argument a noted keyword takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// A non-negative integer.
    Number,
    /// `on` or `off`.
    OnOff,
    /// A size (`1024`, `16k`, `1m`, `1g`).
    Size,
    /// A duration (`1000`, `10s`).
    Timeout,
    /// Nothing.
    Flag,
}

/// Checks a noted keyword's argument, then says why it has no effect.
pub fn noted(cx: &mut Cx, arg: Arg, why: &str) {
    let valid = match arg {
        Arg::Flag => cx.none(),
        Arg::Number => cx
            .one("a number")
            .is_some_and(|a| cx.number::<u64>("value", a).is_some()),
        Arg::OnOff => match cx.one("'on' or 'off'") {
            Some("on" | "off") => true,
            Some(other) => {
                cx.err(format!("'{}' expects 'on' or 'off', not '{other}'", cx.kw));
                false
            }
            None => false,
        },
        Arg::Size => cx.one("a size (e.g. 16k)").is_some_and(|a| {
            let ok = parse_size(a).is_some();
            if !ok {
                cx.err(format!(
                    "'{}': '{a}' is not a size (a number with an optional k, m or g)",
                    cx.kw
                ));
            }
            ok
        }),
        Arg::Timeout => cx
            .one("a timeout (e.g. 10s)")
            .is_some_and(|a| cx.duration(a).is_some()),
    };
    if valid {
        cx.warn(format!("'{}' has no effect in ringlb: {why}", cx.kw));
    }
}

/// `1024`, `16k`, `1m`, `1g` as bytes.
fn parse_size(text: &str) -> Option<u64> {
    let (digits, mult) = match text.char_indices().last() {
        Some((i, 'k' | 'K')) => (&text[..i], 1 << 10),
        Some((i, 'm' | 'M')) => (&text[..i], 1 << 20),
        Some((i, 'g' | 'G')) => (&text[..i], 1 << 30),
        _ => (text, 1),
    };
    digits.parse::<u64>().ok()?.checked_mul(mult)
}

/// `tune.maxrewrite N`: the part of each buffer kept free for header rewrites, as in HAProxy a
/// head must fit in `tune.bufsize` minus it (at most half of `tune.bufsize`, as HAProxy adjusts).
pub fn maxrewrite(g: &mut GlobalDraft, cx: &mut Cx) {
    if let Some(a) = cx.one("a size in bytes") {
        if let Some(n) = cx.number::<usize>("size", a) {
            g.maxrewrite = Some(n);
        }
    }
}

/// The reserve a head leaves free: `tune.maxrewrite` (HAProxy's 1024 by default), readjusted to
/// half of `tune.bufsize` when larger, as HAProxy does.
pub fn rewrite_reserve(maxrewrite: Option<usize>, bufsize: usize) -> usize {
    maxrewrite.unwrap_or(DEFAULT_MAXREWRITE).min(bufsize / 2)
}

/// HAProxy's `tune.maxrewrite` default.
pub const DEFAULT_MAXREWRITE: usize = 1024;

/// `thread-groups N`: HAProxy 2.6 allows only 1, which is ringlb's model too (one group of
/// pinned threads, one per core); larger values are refused as 2.6 refuses them.
pub fn thread_groups(_: &mut GlobalDraft, cx: &mut Cx) {
    let Some(a) = cx.one("a number of thread groups") else {
        return;
    };
    match cx.number::<u64>("thread group count", a) {
        Some(1) | None => {}
        Some(n) => cx.err(format!(
            "'thread-groups {n}': the value must be 1 (as in HAProxy 2.6): ringlb runs one group of \
             threads, one pinned per core with its own listener; choose the threads with 'nbthread' \
             and their CPUs with 'cpu-map'"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_reserve() {
        assert_eq!(parse_size("16k"), Some(16384));
        assert_eq!(parse_size("2m"), Some(2 << 20));
        assert_eq!(parse_size("10"), Some(10));
        assert_eq!(parse_size("k"), None);
        assert_eq!(rewrite_reserve(None, 16384), 1024);
        assert_eq!(
            rewrite_reserve(Some(8192), 8192),
            4096,
            "readjusted to half"
        );
        assert_eq!(rewrite_reserve(Some(0), 16384), 0);
    }
}

#[cfg(test)]
mod table_tests {
    use crate::config::keywords::{Status, TABLE};

    /// Every `tune.*` keyword of HAProxy 2.6's manual (section 3.2) has a row: honoured, noted
    /// or refused by name, never an "unknown keyword".
    const HAPROXY_2_6_TUNE: &[&str] = &[
        "tune.buffers.limit",
        "tune.buffers.reserve",
        "tune.bufsize",
        "tune.comp.maxlevel",
        "tune.fail-alloc",
        "tune.fd.edge-triggered",
        "tune.h2.header-table-size",
        "tune.h2.initial-window-size",
        "tune.h2.max-concurrent-streams",
        "tune.h2.max-frame-size",
        "tune.http.cookielen",
        "tune.http.logurilen",
        "tune.http.maxhdr",
        "tune.idle-pool.shared",
        "tune.idletimer",
        "tune.listener.multi-queue",
        "tune.lua.forced-yield",
        "tune.lua.maxmem",
        "tune.lua.service-timeout",
        "tune.lua.session-timeout",
        "tune.lua.task-timeout",
        "tune.maxaccept",
        "tune.maxpollevents",
        "tune.maxrewrite",
        "tune.pattern.cache-size",
        "tune.peers.max-updates-at-once",
        "tune.pipesize",
        "tune.pool-high-fd-ratio",
        "tune.pool-low-fd-ratio",
        "tune.quic.frontend.conn-tx-buffers.limit",
        "tune.quic.frontend.max-idle-timeout",
        "tune.quic.frontend.max-streams-bidi",
        "tune.quic.retry-threshold",
        "tune.rcvbuf.client",
        "tune.rcvbuf.server",
        "tune.recv_enough",
        "tune.runqueue-depth",
        "tune.sched.low-latency",
        "tune.sndbuf.client",
        "tune.sndbuf.server",
        "tune.ssl.cachesize",
        "tune.ssl.capture-buffer-size",
        "tune.ssl.capture-cipherlist-size",
        "tune.ssl.default-dh-param",
        "tune.ssl.force-private-cache",
        "tune.ssl.hard-maxrecord",
        "tune.ssl.keylog",
        "tune.ssl.lifetime",
        "tune.ssl.maxrecord",
        "tune.ssl.ssl-ctx-cache-size",
        "tune.vars.global-max-size",
        "tune.vars.proc-max-size",
        "tune.vars.reqres-max-size",
        "tune.vars.sess-max-size",
        "tune.vars.txn-max-size",
        "tune.zlib.memlevel",
        "tune.zlib.windowsize",
    ];

    #[test]
    fn every_haproxy_tune_keyword_has_a_row() {
        for name in HAPROXY_2_6_TUNE {
            assert!(TABLE.iter().any(|k| k.name == *name), "no row for {name}");
        }
        let lua_refused = TABLE
            .iter()
            .filter(|k| k.name.starts_with("tune.lua."))
            .all(|k| k.status == Status::Refused);
        assert!(lua_refused);
    }

    fn load(global: &str) -> Result<Vec<String>, Vec<String>> {
        let text = format!("global\n{global}\ndefaults\n timeout client 1s\n timeout server 1s\n timeout connect 1s\n");
        match crate::config::load_str("t.cfg", &text) {
            Ok(l) => Ok(l.warnings.iter().map(ToString::to_string).collect()),
            Err(d) => Err(d.iter().map(ToString::to_string).collect()),
        }
    }

    #[test]
    fn noted_keywords_load_with_a_note_and_check_their_argument() {
        let w = load(" tune.idle-pool.shared on").unwrap_or_default();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with(
                "t.cfg:2: warning: 'tune.idle-pool.shared' has no effect in ringlb: each core"
            ),
            "{w:?}"
        );
        assert!(
            load(" tune.pipesize 64k\n tune.idletimer 1s\n tune.ssl.force-private-cache").is_ok()
        );
        let e = load(" tune.idle-pool.shared maybe")
            .err()
            .unwrap_or_default();
        assert!(e[0].contains("expects 'on' or 'off', not 'maybe'"), "{e:?}");
        let e = load(" tune.maxaccept lots").err().unwrap_or_default();
        assert!(e[0].contains("is not a valid number"), "{e:?}");
        let e = load(" tune.lua.maxmem 10").err().unwrap_or_default();
        assert!(e[0].contains("ringlb has no Lua"), "{e:?}");
    }

    #[test]
    fn maxrewrite_and_thread_groups() {
        let m = crate::config::load_str(
            "t.cfg",
            "global\n tune.bufsize 8192\n tune.maxrewrite 2048\n thread-groups 1\ndefaults\n timeout client 1s\n timeout server 1s\n timeout connect 1s\n",
        );
        let Ok(m) = m else { panic!("{m:?}") };
        assert_eq!(m.model.global.rewrite_reserve, 2048);
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
        let e = load(" thread-groups 2").err().unwrap_or_default();
        assert!(
            e[0].contains("'thread-groups 2': the value must be 1 (as in HAProxy 2.6)"),
            "{e:?}"
        );
        assert!(e[0].contains("'nbthread'"), "{e:?}");
    }
}
