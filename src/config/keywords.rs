//! Stage 2: the one keyword table. Each row names a keyword (one or more words), the sections it
//! may appear in, and what happens to it: parsed into the section's builder, accepted without
//! effect yet (still validated), or refused by name with the reason.
//!
//! `apply` finds the longest row matching a line's first words; misses get "did you mean".

use super::draft::{GlobalDraft, ProxyDraft, UserlistDraft};
use super::error::Diags;
use super::model::Loc;
use super::syntax::{Line, SectionKind};
use super::tune::Arg::{Flag, Number, OnOff, Size, Timeout};
use super::{
    check, global, global_vars, h2_tune, http_rules, log, proxy, server, server_state, stats,
    suggest, tcp_rules, tune, unique_id,
};
use std::time::Duration;

pub const G: u8 = 1;
pub const D: u8 = 2;
pub const F: u8 = 4;
pub const B: u8 = 8;
pub const L: u8 = 16;
pub const U: u8 = 32;
/// Every proxy section.
const P: u8 = D | F | B | L;

pub type GlobalFn = fn(&mut GlobalDraft, &mut Cx);
pub type ProxyFn = fn(&mut ProxyDraft, &mut Cx);
pub type UserlistFn = fn(&mut UserlistDraft, &mut Cx);

#[derive(Clone, Copy)]
pub enum Handler {
    Global(GlobalFn),
    Proxy(ProxyFn),
    Userlist(UserlistFn),
    /// Known to HAProxy, not implemented by ringlb: the reason is shown to the user.
    Refused(&'static str),
    /// Means nothing to ringlb (HAProxy- or OpenSSL-internal): the argument is checked, then a
    /// note gives the reason at load.
    Noted(tune::Arg, &'static str),
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Supported,
    /// Parsed and validated, but without effect yet.
    NoEffect,
    /// Accepted with a note: HAProxy- or OpenSSL-internal, nothing in ringlb to tune.
    Noted,
    Refused,
}

pub struct Keyword {
    pub name: &'static str,
    pub sections: u8,
    pub status: Status,
    pub handler: Handler,
}

const fn ok(name: &'static str, sections: u8, f: ProxyFn) -> Keyword {
    Keyword {
        name,
        sections,
        status: Status::Supported,
        handler: Handler::Proxy(f),
    }
}
const fn inert(name: &'static str, sections: u8, f: ProxyFn) -> Keyword {
    Keyword {
        name,
        sections,
        status: Status::NoEffect,
        handler: Handler::Proxy(f),
    }
}
const fn gl(name: &'static str, f: GlobalFn) -> Keyword {
    Keyword {
        name,
        sections: G,
        status: Status::Supported,
        handler: Handler::Global(f),
    }
}
const fn gl_inert(name: &'static str, f: GlobalFn) -> Keyword {
    Keyword {
        name,
        sections: G,
        status: Status::NoEffect,
        handler: Handler::Global(f),
    }
}
const fn ul(name: &'static str, f: UserlistFn) -> Keyword {
    Keyword {
        name,
        sections: U,
        status: Status::Supported,
        handler: Handler::Userlist(f),
    }
}
/// A global accepted with a note (see `Handler::Noted`).
const fn noted(name: &'static str, arg: tune::Arg, why: &'static str) -> Keyword {
    Keyword {
        name,
        sections: G,
        status: Status::Noted,
        handler: Handler::Noted(arg, why),
    }
}
/// A proxy keyword accepted with a note (see `Handler::Noted`).
const fn noted_in(name: &'static str, sections: u8, arg: tune::Arg, why: &'static str) -> Keyword {
    Keyword {
        name,
        sections,
        status: Status::Noted,
        handler: Handler::Noted(arg, why),
    }
}
const fn no(name: &'static str, sections: u8, why: &'static str) -> Keyword {
    Keyword {
        name,
        sections,
        status: Status::Refused,
        handler: Handler::Refused(why),
    }
}

/// Reasons of refusal. Those starting with `YET` say what ringlb lacks today, in the product's
/// own terms (never in terms of plans or issue numbers); the others say what to write instead.
const YET: &str = "not supported yet";
/// Rule-like keywords beyond http-request/-response/-after-response.
const RULES: &str = YET;
/// HAProxy takes these in named defaults sections only, and runs them before the proxy's own.
const TCP_RULES_IN_DEFAULTS: &str =
    "not supported yet in a defaults section; write the rules in each frontend, backend or listen section";
const STATS_ADMIN: &str = "not supported yet (the stats page is read-only: no admin actions)";
const STATS_RULES: &str = "not supported yet (use 'stats auth' for the page's authentication)";
/// `option httpslog`: TLS is served, its log format's TLS error fields are not.
const HTTPSLOG: &str = "not supported yet (the TLS error fields it logs are not; 'option httplog' or a 'log-format' with %[ssl_fc_sni] and %[ssl_fc_is_resumed] work)";
const LATER: &str = YET;
/// The splice options: a hint HAProxy may follow; ringlb has nothing to splice with.
const NO_SPLICE: &str = "data is copied through user space (io_uring), never spliced";
/// The idle-pool keywords are server options in HAProxy too.
const POOL_OPTION: &str =
    "it is a server option: write it on the 'server' or 'default-server' lines";
const NO_LUA: &str = "ringlb has no Lua ('lua-load' is refused too); remove the line";
const NO_QUIC: &str = "ringlb has no QUIC (HAProxy 2.6 knows this keyword only when built with QUIC); remove the line";
const HEALTH: &str =
    "not supported yet (health checks are 'option httpchk' and 'option tcp-check')";

#[rustfmt::skip]
pub static TABLE: &[Keyword] = &[
    // global
    gl("daemon", global::daemon),
    gl("user", global::user),
    gl("group", global::group),
    gl("maxconn", global::maxconn),
    gl("nbthread", global::nbthread),
    gl("cpu-map", global::cpu_map),
    gl("pidfile", global::pidfile),
    gl("tune.bufsize", global::bufsize),
    gl("tune.http.maxhdr", global::maxhdr),
    gl("tune.h2.header-table-size", h2_tune::header_table_size),
    gl("tune.h2.initial-window-size", h2_tune::initial_window_size),
    gl("tune.h2.max-concurrent-streams", h2_tune::max_concurrent_streams),
    gl("tune.h2.max-frame-size", h2_tune::max_frame_size),
    gl("ringlb.driver", global::driver),
    gl("expose-experimental-directives", global::expose_experimental),
    gl("log", log::global_log),
    gl("log-tag", log::global_tag),
    gl("log-send-hostname", log::send_hostname),
    gl("ssl-default-bind-options", global::ssl_options),
    gl("ssl-default-server-options", global::ssl_options),
    gl("ssl-default-bind-ciphers", global::bind_ciphers),
    gl("ssl-default-bind-ciphersuites", global::bind_ciphersuites),
    gl("ssl-default-bind-curves", global::bind_curves),
    gl("ssl-default-server-ciphers", global::server_ciphers),
    gl("ssl-default-server-ciphersuites", global::server_ciphersuites),
    gl("tune.ssl.cachesize", global::ssl_cachesize),
    gl("tune.ssl.lifetime", global::ssl_lifetime),
    gl_inert("tune.ssl.default-dh-param", global::dh_param),
    no("nbproc", G, "removed in HAProxy 2.5; use 'nbthread'"),
    gl("chroot", stats::chroot),
    ok("stats enable", P, stats::enable),
    ok("stats uri", P, stats::uri),
    ok("stats realm", P, stats::realm),
    ok("stats auth", P, stats::auth),
    ok("stats refresh", P, stats::refresh),
    ok("stats hide-version", P, stats::hide_version),
    ok("stats show-legends", P, stats::show_legends),
    ok("stats show-node", P, stats::show_node),
    ok("stats show-desc", P, stats::show_desc),
    ok("stats scope", P, stats::scope),
    no("stats admin", P, STATS_ADMIN),
    no("stats http-request", P, STATS_RULES),
    gl("stats socket", stats::socket),
    gl("stats timeout", stats::timeout),
    gl("stats maxconn", stats::maxconn),
    no("stats bind-process", G, "not supported: ringlb is one process; remove the line"),
    no("stats", G, "unknown global 'stats' keyword: use socket, timeout or maxconn"),
    no("stats", P, "unknown 'stats' keyword: use enable, uri, realm, auth, refresh, hide-version, show-legends, show-node, show-desc or scope"),
    gl("master-worker", global::master_worker),
    no("lua-load", G, LATER),
    gl("ca-base", global::ca_base),
    gl("crt-base", global::crt_base),
    gl("ssl-server-verify", global::ssl_server_verify),
    no("hard-stop-after", G, LATER),
    gl("spread-checks", check::spread_checks),
    gl("node", stats::node),
    gl("description", stats::description),
    gl("set-var", global_vars::set_var),
    gl("set-var-fmt", global_vars::set_var_fmt),
    no("ulimit-n", G, "raise the limit with 'ulimit -n' before starting ringlb"),
    no("uid", G, "use 'user'"),
    no("gid", G, "use 'group'"),
    no("setenv", G, LATER),
    no("presetenv", G, LATER),
    no("unsetenv", G, LATER),
    no("resetenv", G, LATER),
    gl("server-state-file", server_state::file),
    gl("server-state-base", server_state::base),
    ok("load-server-state-from-file", D | B | L, server_state::load_from),
    ok("server-state-file-name", B | L, server_state::file_name),
    gl("tune.maxrewrite", tune::maxrewrite),
    gl("thread-groups", tune::thread_groups),
    // The other tune.* of HAProxy 2.6 (manual 3.2): internals of HAProxy or OpenSSL.
    noted("tune.pool-low-fd-ratio", Number, "ringlb applies HAProxy's default, 20 (see README, HTTP behaviour)"),
    noted("tune.pool-high-fd-ratio", Number, "ringlb applies HAProxy's default, 25 (see README, HTTP behaviour)"),
    noted("tune.idle-pool.shared", OnOff, "each core keeps its own idle server connections and never shares them (as 'off')"),
    noted("tune.buffers.limit", Number, "HAProxy-internal buffer pool; ringlb's buffers belong to each connection"),
    noted("tune.buffers.reserve", Number, "HAProxy-internal buffer pool; ringlb's buffers belong to each connection"),
    noted("tune.comp.maxlevel", Number, "ringlb does no compression"),
    noted("tune.zlib.memlevel", Number, "ringlb does no compression (no zlib)"),
    noted("tune.zlib.windowsize", Number, "ringlb does no compression (no zlib)"),
    noted("tune.fail-alloc", Number, "HAProxy's debugging aid (failing memory allocations on purpose)"),
    noted("tune.fd.edge-triggered", OnOff, "HAProxy-internal poller mode; ringlb's io_uring and epoll drivers decide"),
    noted("tune.maxpollevents", Number, "HAProxy-internal poller batch size; ringlb's drivers decide"),
    noted("tune.maxaccept", Number, "HAProxy-internal accept batch; each core's own listener accepts as connections come"),
    noted("tune.listener.multi-queue", OnOff, "each core has its own SO_REUSEPORT listener: the kernel spreads connections (as 'on')"),
    noted("tune.runqueue-depth", Number, "HAProxy-internal scheduler; ringlb runs one monoio runtime per core"),
    noted("tune.sched.low-latency", OnOff, "HAProxy-internal scheduler; ringlb runs one monoio runtime per core"),
    noted("tune.recv_enough", Number, "HAProxy-internal read heuristics"),
    noted("tune.idletimer", Timeout, "HAProxy-internal splicing heuristics; ringlb does not splice"),
    noted("tune.pipesize", Size, "ringlb does not splice (no pipes)"),
    noted("tune.pattern.cache-size", Number, "ringlb's ACL patterns are compiled matchers without an LRU result cache"),
    noted("tune.http.cookielen", Number, "cookie captures are not supported ('capture cookie' is refused)"),
    noted("tune.http.logurilen", Number, "ringlb logs the whole URI"),
    noted("tune.peers.max-updates-at-once", Number, "ringlb has no peers sections"),
    noted("tune.rcvbuf.client", Size, "ringlb leaves socket buffers to the kernel (net.ipv4.tcp_rmem)"),
    noted("tune.rcvbuf.server", Size, "ringlb leaves socket buffers to the kernel (net.ipv4.tcp_rmem)"),
    noted("tune.sndbuf.client", Size, "ringlb leaves socket buffers to the kernel (net.ipv4.tcp_wmem)"),
    noted("tune.sndbuf.server", Size, "ringlb leaves socket buffers to the kernel (net.ipv4.tcp_wmem)"),
    noted("tune.ssl.force-private-cache", Flag, "OpenSSL-internal; each core's TLS session cache is its own already"),
    noted("tune.ssl.capture-buffer-size", Number, "OpenSSL-internal (ClientHello captures)"),
    noted("tune.ssl.capture-cipherlist-size", Number, "OpenSSL-internal (ClientHello captures)"),
    noted("tune.ssl.hard-maxrecord", Number, "OpenSSL-internal record sizing; rustls sizes its records itself"),
    noted("tune.ssl.maxrecord", Number, "OpenSSL-internal record sizing; rustls sizes its records itself"),
    noted("tune.ssl.keylog", OnOff, "OpenSSL key logging for the ssl_*_keylog fetches, which ringlb lacks"),
    noted("tune.ssl.ssl-ctx-cache-size", Number, "OpenSSL-internal cache of generated certificates"),
    noted("tune.vars.global-max-size", Size, "HAProxy-internal accounting of variables' memory"),
    noted("tune.vars.proc-max-size", Size, "HAProxy-internal accounting of variables' memory"),
    noted("tune.vars.reqres-max-size", Size, "HAProxy-internal accounting of variables' memory"),
    noted("tune.vars.sess-max-size", Size, "HAProxy-internal accounting of variables' memory"),
    noted("tune.vars.txn-max-size", Size, "HAProxy-internal accounting of variables' memory"),
    no("tune.lua.forced-yield", G, NO_LUA),
    no("tune.lua.maxmem", G, NO_LUA),
    no("tune.lua.service-timeout", G, NO_LUA),
    no("tune.lua.session-timeout", G, NO_LUA),
    no("tune.lua.task-timeout", G, NO_LUA),
    no("tune.quic.frontend.conn-tx-buffers.limit", G, NO_QUIC),
    no("tune.quic.frontend.max-idle-timeout", G, NO_QUIC),
    no("tune.quic.frontend.max-streams-bidi", G, NO_QUIC),
    no("tune.quic.retry-threshold", G, NO_QUIC),
    // proxies
    ok("mode", P, proxy::mode),
    ok("bind", F | L, proxy::bind),
    ok("default_backend", D | F | L, proxy::default_backend),
    ok("use_backend", F | L, proxy::use_backend),
    ok("acl", F | B | L, proxy::acl),
    ok("balance", D | B | L, proxy::balance),
    ok("server", B | L, server::server),
    ok("default-server", D | B | L, server::default_server),
    no("pool-purge-delay", P, POOL_OPTION),
    no("pool-max-conn", P, POOL_OPTION),
    no("pool-low-conn", P, POOL_OPTION),
    ok("timeout connect", D | B | L, proxy::timeout),
    ok("timeout client", D | F | L, proxy::timeout),
    ok("timeout server", D | B | L, proxy::timeout),
    ok("timeout http-request", P, proxy::timeout),
    ok("timeout http-keep-alive", P, proxy::timeout),
    ok("timeout queue", D | B | L, proxy::timeout),
    ok("timeout tunnel", D | B | L, proxy::timeout),
    ok("timeout check", D | B | L, proxy::timeout),
    no("timeout client-fin", D | F | L, LATER),
    no("timeout server-fin", D | B | L, LATER),
    ok("timeout tarpit", P, proxy::timeout),
    ok("maxconn", D | F | L, proxy::maxconn),
    ok("retries", D | B | L, proxy::retries),
    ok("option redispatch", D | B | L, proxy::redispatch),
    ok("option http-server-close", P, proxy::conn_mode),
    ok("option httpclose", P, proxy::conn_mode),
    ok("option http-keep-alive", P, proxy::conn_mode),
    ok("option forwardfor", P, proxy::forwardfor),
    ok("http-reuse", D | B | L, proxy::http_reuse),
    ok("errorfile", P, proxy::errorfile),
    ok("option httplog", P, log::httplog),
    ok("option tcplog", P, log::tcplog),
    ok("log-format", P, log::log_format),
    ok("option dontlognull", D | F | L, log::dontlognull),
    ok("no option dontlognull", D | F | L, log::dontlognull),
    ok("option dontlog-normal", D | F | L, log::dontlog_normal),
    ok("no option dontlog-normal", D | F | L, log::dontlog_normal),
    ok("option log-separate-errors", D | F | L, log::separate_errors),
    ok("no option log-separate-errors", D | F | L, log::separate_errors),
    ok("log", P, log::proxy_log),
    ok("no log", P, log::no_log),
    ok("log-tag", P, log::proxy_tag),
    ok("capture", F | L, log::capture),
    inert("description", P, proxy::any_args),
    ok("option httpchk", D | B | L, proxy::httpchk),
    ok("http-check expect", D | B | L, check::http_expect),
    ok("http-check send", D | B | L, check::http_send),
    ok("http-check connect", D | B | L, check::http_connect),
    no("http-check", D | B | L, "only 'http-check send', 'http-check connect' and 'http-check expect' are supported"),
    ok("option tcp-check", D | B | L, check::option_tcp_check),
    ok("tcp-check connect", D | B | L, check::tcp_connect),
    ok("tcp-check send", D | B | L, check::tcp_send),
    ok("tcp-check send-binary", D | B | L, check::tcp_send_binary),
    ok("tcp-check expect", D | B | L, check::tcp_expect),
    no("tcp-check", D | B | L, "only 'tcp-check connect', 'send', 'send-binary' and 'expect' are supported"),
    ok("option allbackups", D | B | L, check::allbackups),
    ok("http-request", F | B | L | D, http_rules::http_request),
    ok("http-response", F | B | L | D, http_rules::http_response),
    ok("http-after-response", F | B | L | D, http_rules::http_after_response),
    ok("tcp-request", F | B | L, tcp_rules::tcp_request),
    ok("tcp-response", B | L, tcp_rules::tcp_response),
    no("tcp-request", D, TCP_RULES_IN_DEFAULTS),
    no("tcp-response", D, TCP_RULES_IN_DEFAULTS),
    no("redirect", F | B | L, "use 'http-request redirect'"),
    no("http-error", P, RULES),
    no("errorloc", P, "use 'errorfile'"),
    no("errorloc302", P, "use 'errorfile'"),
    no("errorloc303", P, "use 'errorfile'"),
    no("errorfiles", P, "use 'errorfile' lines"),
    no("compression", P, LATER),
    no("cookie", D | B | L, "not supported yet (no cookie persistence)"),
    no("stick-table", F | B | L, LATER),
    no("stick", B | L, LATER),
    ok("monitor-uri", D | F | L, stats::monitor_uri),
    no("monitor", F | L, LATER),
    ok("use-server", B | L, proxy::use_server),
    no("hash-type", D | B | L, LATER),
    no("hash-balance-factor", D | B | L, LATER),
    no("fullconn", D | B | L, LATER),
    no("dispatch", B | L, "use a 'server' line"),
    no("server-template", B | L, LATER),
    no("log-format-sd", P, "structured data in rfc5424 logs is not supported yet"),
    no("error-log-format", P, LATER),
    ok("unique-id-format", P, unique_id::format),
    ok("unique-id-header", P, unique_id::header),
    no("filter", F | B | L, LATER),
    no("source", D | B | L, LATER),
    no("email-alert", P, LATER),
    ok("option abortonclose", D | B | L, proxy::abortonclose),
    ok("no option abortonclose", D | B | L, proxy::abortonclose),
    no("option prefer-last-server", D | B | L, LATER),
    no("option persist", D | B | L, LATER),
    ok("option log-health-checks", D | B | L, proxy::log_health_checks),
    ok("no option log-health-checks", D | B | L, proxy::log_health_checks),
    no("option ssl-hello-chk", D | B | L, HEALTH),
    no("option mysql-check", D | B | L, HEALTH),
    no("option pgsql-check", D | B | L, HEALTH),
    no("option redis-check", D | B | L, HEALTH),
    no("option smtpchk", D | B | L, HEALTH),
    no("option ldap-check", D | B | L, HEALTH),
    no("option external-check", D | B | L, HEALTH),
    no("option httpslog", D | F | L, HTTPSLOG),
    no("option forwarded", D | B | L, RULES),
    ok("option originalto", P, http_rules::originalto),
    // userlist
    ul("user", http_rules::user),
    ul("group", http_rules::group),
    ok("option http-buffer-request", P, proxy::buffer_request),
    ok("no option http-buffer-request", P, proxy::buffer_request),
    no("option http-pretend-keepalive", D | B | L, LATER),
    no("option http-no-delay", P, LATER),
    no("option http-ignore-probes", D | F | L, LATER),
    no("option accept-invalid-http-request", D | F | L, LATER),
    no("option accept-invalid-http-response", D | B | L, LATER),
    no("option nolinger", P, LATER),
    no("option tcpka", P, LATER),
    no("option clitcpka", D | F | L, LATER),
    no("option srvtcpka", D | B | L, LATER),
    noted_in("option splice-auto", P, Flag, NO_SPLICE),
    noted_in("option splice-request", P, Flag, NO_SPLICE),
    noted_in("option splice-response", P, Flag, NO_SPLICE),
    noted_in("no option splice-auto", P, Flag, NO_SPLICE),
    noted_in("no option splice-request", P, Flag, NO_SPLICE),
    noted_in("no option splice-response", P, Flag, NO_SPLICE),
    no("option transparent", D | B | L, LATER),
    no("option independent-streams", P, LATER),
    no("option socket-stats", D | F | L, LATER),
    no("option contstats", D | F | L, LATER),
    ok("option logasap", D | F | L, proxy::logasap),
    ok("no option logasap", D | F | L, proxy::logasap),
    no("option checkcache", D | B | L, LATER),
    no("option disable-h2-upgrade", D | F | L, LATER),
    no("option idle-close-on-response", D | F | L, LATER),
    no("option tcp-smart-accept", D | F | L, LATER),
    no("option tcp-smart-connect", D | B | L, LATER),
    no("no", P, "write the section without the option instead (options are off unless set, defaults included)"),
];

/// What a parse function gets: the keyword as written, its arguments, where it is, and the
/// collector for problems.
pub struct Cx<'a> {
    pub kw: &'a str,
    pub args: &'a [String],
    pub loc: &'a Loc,
    pub diags: &'a mut Diags,
    pub section: SectionKind,
}

impl<'a> Cx<'a> {
    pub fn err(&mut self, msg: impl Into<String>) {
        self.diags.error(self.loc, msg);
    }

    pub fn warn(&mut self, msg: impl Into<String>) {
        self.diags.warn(self.loc, msg);
    }

    /// Exactly one argument, else an error naming what was expected.
    pub fn one(&mut self, what: &str) -> Option<&'a str> {
        match self.args {
            [a] => Some(a.as_str()),
            [] => {
                self.err(format!("'{}' needs {what}", self.kw));
                None
            }
            [_, rest @ ..] => {
                let extra = rest.join(" ");
                self.err(format!(
                    "'{}' takes one argument ({what}); unexpected '{extra}'",
                    self.kw
                ));
                None
            }
        }
    }

    pub fn none(&mut self) -> bool {
        if self.args.is_empty() {
            return true;
        }
        let extra = self.args.join(" ");
        self.err(format!(
            "'{}' takes no argument; unexpected '{extra}'",
            self.kw
        ));
        false
    }

    pub fn number<T: std::str::FromStr>(&mut self, what: &str, text: &str) -> Option<T> {
        match text.parse::<T>() {
            Ok(n) => Some(n),
            Err(_) => {
                self.err(format!(
                    "'{}': {what} '{text}' is not a valid number",
                    self.kw
                ));
                None
            }
        }
    }

    pub fn duration(&mut self, text: &str) -> Option<Duration> {
        match super::duration::parse(text) {
            Ok(d) => Some(d),
            Err(e) => {
                self.err(format!("'{}': {e}", self.kw));
                None
            }
        }
    }

    pub fn in_backend_only(&self) -> bool {
        self.section == SectionKind::Backend
    }
}

/// The builder a line applies to.
pub enum Target<'a> {
    Global(&'a mut GlobalDraft),
    Proxy(&'a mut ProxyDraft),
    Userlist(&'a mut UserlistDraft),
}

fn bit(kind: SectionKind) -> u8 {
    match kind {
        SectionKind::Global => G,
        SectionKind::Defaults => D,
        SectionKind::Frontend => F,
        SectionKind::Backend => B,
        SectionKind::Listen => L,
        SectionKind::Userlist => U,
    }
}

fn words_match(name: &str, words: &[String]) -> Option<usize> {
    let mut n = 0;
    for part in name.split(' ') {
        if words.get(n).map(String::as_str) != Some(part) {
            return None;
        }
        n += 1;
    }
    Some(n)
}

/// Applies one line of a section to its builder.
pub fn apply(kind: SectionKind, mut target: Target, line: &Line, diags: &mut Diags) {
    if line.broken {
        // Already reported by the tokenizer: only remember which keyword failed.
        let kw = TABLE
            .iter()
            .filter_map(|k| words_match(k.name, &line.words).map(|n| (k.name, n)))
            .max_by_key(|(_, n)| *n)
            .map_or(line.word(0), |(name, _)| name);
        note_failure(&mut target, kw, line);
        return;
    }
    let errors_before = error_count(diags);
    let Some(kw) = apply_row(kind, &mut target, line, diags) else {
        return;
    };
    if error_count(diags) > errors_before {
        note_failure(&mut target, &kw, line);
    }
}

fn error_count(diags: &Diags) -> usize {
    diags
        .list
        .iter()
        .filter(|d| d.severity == super::Severity::Error)
        .count()
}

/// Runs the line's row; returns the keyword the line is about (for a misspelt line, the one it
/// most likely meant), or `None` when there is none to name.
fn apply_row(
    kind: SectionKind,
    target: &mut Target,
    line: &Line,
    diags: &mut Diags,
) -> Option<String> {
    let candidates: Vec<(&Keyword, usize)> = TABLE
        .iter()
        .filter_map(|k| words_match(k.name, &line.words).map(|n| (k, n)))
        .collect();
    let longest = candidates.iter().map(|c| c.1).max().unwrap_or(0);
    let best: Vec<&(&Keyword, usize)> = candidates.iter().filter(|c| c.1 == longest).collect();
    let here = best.iter().find(|c| c.0.sections & bit(kind) != 0);
    let Some(&&(row, n)) = here.or(best.first()) else {
        return unknown(kind, line, diags);
    };
    let kw = line.words[..n].join(" ");
    if row.sections & bit(kind) == 0 {
        let allowed: u8 = best.iter().fold(0, |acc, c| acc | c.0.sections);
        let msg = format!(
            "'{kw}' is not allowed in a {} section (it belongs in {})",
            kind.name(),
            section_list(allowed)
        );
        diags.error(&line.loc, msg);
        return Some(row.name.to_string());
    }
    let mut cx = Cx {
        kw: &kw,
        args: &line.words[n..],
        loc: &line.loc,
        diags,
        section: kind,
    };
    match (row.handler, target) {
        (Handler::Global(f), Target::Global(g)) => f(g, &mut cx),
        (Handler::Proxy(f), Target::Proxy(p)) => f(p, &mut cx),
        (Handler::Userlist(f), Target::Userlist(u)) => f(u, &mut cx),
        (Handler::Refused(why), _) => refuse(&mut cx, line, why),
        (Handler::Noted(arg, why), _) => tune::noted(&mut cx, arg, why),
        // A row's sections and handler kind always agree; a mismatch would be a table bug.
        _ => cx.err(format!(
            "internal error: keyword '{kw}' has no parser for this section"
        )),
    }
    Some(row.name.to_string())
}

/// Remembers a line that failed, so that checks depending on it stay quiet (see `Failed`).
fn note_failure(target: &mut Target, kw: &str, line: &Line) {
    let name = line.word(1).to_string();
    match target {
        Target::Global(g) => {
            g.failed.keywords.insert(kw.to_string());
        }
        Target::Proxy(p) => {
            if kw == "acl" {
                p.failed.acls.insert(name);
            }
            p.failed.keywords.insert(kw.to_string());
        }
        Target::Userlist(u) => match kw {
            "user" => u.failed_users.push(name),
            "group" => u.failed_groups.push(name),
            _ => {}
        },
    }
}

fn refuse(cx: &mut Cx, line: &Line, why: &str) {
    let kw = if cx.kw == "no" {
        line.words
            .iter()
            .take(2)
            .cloned()
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        cx.kw.to_string()
    };
    let msg = if let Some(detail) = why.strip_prefix(YET) {
        format!("'{kw}' is not supported by ringlb yet{detail}; remove or comment out this line")
    } else {
        format!("'{kw}' is not supported by ringlb; {why}")
    };
    cx.err(msg);
}

fn section_list(mask: u8) -> String {
    let names: Vec<&str> = [
        (G, "global"),
        (F, "frontend"),
        (B, "backend"),
        (L, "listen"),
        (U, "userlist"),
        (D, "defaults"),
    ]
    .iter()
    .filter(|(b, _)| mask & b != 0)
    .map(|(_, n)| *n)
    .collect();
    match names.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => "no section".into(),
    }
}

/// An unknown keyword: non-ASCII first, then a family miss (`option foo`), then a plain miss.
/// Returns the keyword the line most likely meant, if any.
fn unknown(kind: SectionKind, line: &Line, diags: &mut Diags) -> Option<String> {
    let first = line.word(0);
    if let Some((off, c)) = first.chars().enumerate().find(|(_, c)| !c.is_ascii()) {
        let col = line.cols.first().copied().unwrap_or(1) as usize + off;
        let msg = format!(
            "non-ASCII character '{}' (U+{:04X}) at column {col} in keyword '{first}'; retype the line in plain ASCII",
            c.escape_debug(),
            c as u32
        );
        diags.error(&line.loc, msg);
        return None;
    }
    let family: Vec<&str> = TABLE
        .iter()
        .filter_map(|k| k.name.strip_prefix(first).and_then(|r| r.strip_prefix(' ')))
        .filter(|r| !r.contains(' '))
        .collect();
    if !family.is_empty() && line.words.len() > 1 {
        let sub = line.word(1);
        let hint = suggest::hint(sub, family.iter().copied());
        diags.error(
            &line.loc,
            format!("unknown {first} '{sub}' in {} section{hint}", kind.name()),
        );
        return suggest::closest(sub, family.iter().copied()).map(|m| format!("{first} {m}"));
    }
    let names = || {
        TABLE.iter().map(|k| k.name).chain([
            "global", "defaults", "frontend", "backend", "listen", "userlist",
        ])
    };
    let hint = suggest::hint(first, names());
    diags.error(
        &line.loc,
        format!("unknown keyword '{first}' in {} section{hint}", kind.name()),
    );
    suggest::closest(first, names()).map(str::to_string)
}

/// The keyword table as markdown, for README.md.
pub fn markdown() -> String {
    let mut out = String::from("| keyword | sections | status |\n|---|---|---|\n");
    for k in TABLE {
        let status = match (k.status, k.handler) {
            (Status::Supported, _) => "supported".to_string(),
            (Status::NoEffect, _) => "accepted and validated, without effect yet".to_string(),
            (_, Handler::Noted(_, why)) => format!("accepted with a note (no effect): {why}"),
            (_, Handler::Refused(why)) => format!("refused: {why}"),
            _ => "refused".to_string(),
        };
        out.push_str(&format!(
            "| `{}` | {} | {status} |\n",
            k.name,
            section_list(k.sections)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_options_load_with_a_note() {
        let text = "defaults\n mode http\n option splice-auto\n no option splice-request\n timeout client 1s\n timeout server 1s\n timeout connect 1s\n\
                    frontend f\n bind 127.0.0.1:0\n option splice-response\n default_backend b\n\
                    backend b\n server s 127.0.0.1:1\n";
        let loaded = crate::config::load_str("t.cfg", text).map_err(|d| format!("{d:?}"));
        let warnings: Vec<String> = loaded
            .map(|l| l.warnings.iter().map(ToString::to_string).collect())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings[0].starts_with(
            "t.cfg:3: warning: 'option splice-auto' has no effect in ringlb: data is copied"
        ));
        let e = crate::config::load_str("t.cfg", &text.replace("splice-auto", "splice-auto on"));
        assert!(e.is_err(), "an argument is refused as HAProxy refuses it");
    }

    #[test]
    fn rows_are_unique_per_section() {
        for (i, a) in TABLE.iter().enumerate() {
            for b in &TABLE[i + 1..] {
                assert!(
                    !(a.name == b.name && a.sections & b.sections != 0),
                    "duplicate row {}",
                    a.name
                );
            }
        }
    }

    const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    const START: &str = "<!-- keywords:start -->\n";
    const END: &str = "<!-- keywords:end -->";

    #[test]
    fn readme_keyword_table_is_current() {
        let text = std::fs::read_to_string(README).unwrap_or_default();
        assert!(
            text.contains(&format!("{START}{}{END}", markdown())),
            "README.md's keyword table is stale: run `cargo test -- --ignored write_keywords_table`"
        );
    }

    /// Rewrites the table between the markers in README.md from `TABLE`.
    #[test]
    #[ignore]
    fn write_keywords_table() {
        let text = std::fs::read_to_string(README).unwrap_or_default();
        let (Some(a), Some(b)) = (text.find(START), text.find(END)) else {
            panic!("README.md lacks the keyword table markers");
        };
        let new = format!("{}{START}{}{}", &text[..a], markdown(), &text[b..]);
        assert!(std::fs::write(README, new).is_ok());
    }
}
