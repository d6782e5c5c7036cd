//! Parse functions for the `global` section.

use super::draft::GlobalDraft;
use super::keywords::Cx;
use super::model::{CpuMap, DriverChoice};
use super::{bind_tls, suggest};

/// `tune.bufsize` lower bound: smaller buffers cannot hold a usual request head.
const MIN_BUFSIZE: usize = 1024;
const MAX_MAXHDR: usize = 32767;

pub fn daemon(g: &mut GlobalDraft, cx: &mut Cx) {
    if cx.none() {
        g.daemon = true;
    }
}

/// `expose-experimental-directives`: HAProxy 2.6 wants it before `http-request normalize-uri`
/// (experimental there); ringlb runs normalize-uri without it and accepts the line, so the
/// same file loads in both.
pub fn expose_experimental(_: &mut GlobalDraft, cx: &mut Cx) {
    cx.none();
}

pub fn user(g: &mut GlobalDraft, cx: &mut Cx) {
    g.user = cx.one("a user name").map(String::from);
}

pub fn group(g: &mut GlobalDraft, cx: &mut Cx) {
    g.group = cx.one("a group name").map(String::from);
}

pub fn maxconn(g: &mut GlobalDraft, cx: &mut Cx) {
    let Some(a) = cx.one("a number of connections") else {
        return;
    };
    match cx.number::<u32>("connection count", a) {
        Some(0) => cx.err("'maxconn' must be at least 1"),
        Some(n) => g.maxconn = Some((n, cx.loc.clone())),
        None => {}
    }
}

pub fn nbthread(g: &mut GlobalDraft, cx: &mut Cx) {
    let Some(a) = cx.one("a number of threads") else {
        return;
    };
    match cx.number::<usize>("thread count", a) {
        Some(n) if (1..=4096).contains(&n) => g.nbthread = Some(n),
        Some(_) => cx.err(format!(
            "'nbthread {a}': the thread count must be between 1 and 4096"
        )),
        None => {}
    }
}

/// `cpu-map [auto:]THREADS CPUS...`: `1 0`, `1-2 0-1`, `auto:1/1-2 0-1`.
pub fn cpu_map(g: &mut GlobalDraft, cx: &mut Cx) {
    let [first, cpus @ ..] = cx.args else {
        cx.err("'cpu-map' needs a thread set and a CPU set, e.g. 'cpu-map 1 0' or 'cpu-map auto:1/1-2 0-1'");
        return;
    };
    if cpus.is_empty() {
        cx.err(format!(
            "'cpu-map {first}' needs the CPUs to run on, e.g. 'cpu-map {first} 0'"
        ));
        return;
    }
    let (auto, spec) = match first.strip_prefix("auto:") {
        Some(s) => (true, s),
        None => (false, first.as_str()),
    };
    // HAProxy writes `PROCESS/THREAD`; ringlb has one process, so the process part must be 1.
    let threads_spec = match spec.split_once('/') {
        Some(("1" | "all" | "odd", t)) => t,
        Some((p, _)) => {
            cx.err(format!("'cpu-map {first}': ringlb runs one process, so the part before '/' must be 1, not '{p}'"));
            return;
        }
        None => spec,
    };
    let threads = match parse_set(threads_spec) {
        Ok(t) => t,
        Err(e) => return cx.err(format!("'cpu-map': thread set {e}")),
    };
    if threads.contains(&0) {
        return cx.err("'cpu-map': threads are numbered from 1, as in HAProxy");
    }
    let mut cpu_list = Vec::new();
    for c in cpus {
        match parse_set(c) {
            Ok(mut v) => cpu_list.append(&mut v),
            Err(e) => return cx.err(format!("'cpu-map': CPU set {e}")),
        }
    }
    if auto && threads.len() > 1 && cpu_list.len() != threads.len() {
        cx.err(format!(
            "'cpu-map {first}': auto mapping needs as many CPUs as threads ({} threads, {} CPUs)",
            threads.len(),
            cpu_list.len()
        ));
        return;
    }
    if auto && threads.len() > 1 {
        // auto: thread i gets the i-th CPU of the set.
        for (t, c) in threads.iter().zip(cpu_list.iter()) {
            g.cpu_map.push(CpuMap {
                threads: vec![*t],
                cpus: vec![*c],
            });
        }
    } else {
        g.cpu_map.push(CpuMap {
            threads,
            cpus: cpu_list,
        });
    }
}

/// `3`, `1-4` -> list of ids (at most 4096, as HAProxy's thread limit).
fn parse_set(text: &str) -> Result<Vec<usize>, String> {
    let num = |s: &str| s.parse::<usize>().ok().filter(|n| *n < 4096);
    let bad = || format!("'{text}' is not a number or range like 0-3 (ids below 4096)");
    match text.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (num(a).ok_or_else(bad)?, num(b).ok_or_else(bad)?);
            if a > b {
                return Err(bad());
            }
            Ok((a..=b).collect())
        }
        None => Ok(vec![num(text).ok_or_else(bad)?]),
    }
}

/// `master-worker [no-exit-on-failure]`, as `-W` on the command line.
pub fn master_worker(g: &mut GlobalDraft, cx: &mut Cx) {
    let no_exit_on_failure = match cx.args {
        [] => false,
        [a] if a == "no-exit-on-failure" => true,
        _ => {
            // HAProxy 2.6's own wording.
            return cx.err("'master-worker' only supports 'no-exit-on-failure' option");
        }
    };
    g.master_worker = Some(super::model::MasterWorker { no_exit_on_failure });
}

pub fn pidfile(g: &mut GlobalDraft, cx: &mut Cx) {
    g.pidfile = cx.one("a file path").map(Into::into);
}

pub fn bufsize(g: &mut GlobalDraft, cx: &mut Cx) {
    let Some(a) = cx.one("a size in bytes") else {
        return;
    };
    match cx.number::<usize>("size", a) {
        Some(n) if (MIN_BUFSIZE..=(1 << 30)).contains(&n) => g.bufsize = Some(n),
        Some(_) => cx.err(format!("'tune.bufsize {a}': the buffer size must be between {MIN_BUFSIZE} and 1073741824 bytes")),
        None => {}
    }
}

pub fn maxhdr(g: &mut GlobalDraft, cx: &mut Cx) {
    let Some(a) = cx.one("a number of header lines") else {
        return;
    };
    match cx.number::<usize>("header count", a) {
        Some(n) if (1..=MAX_MAXHDR).contains(&n) => g.maxhdr = Some(n),
        Some(_) => cx.err(format!(
            "'tune.http.maxhdr {a}': must be between 1 and {MAX_MAXHDR}"
        )),
        None => {}
    }
}

pub fn driver(g: &mut GlobalDraft, cx: &mut Cx) {
    let Some(a) = cx.one("auto, io_uring or legacy") else {
        return;
    };
    g.driver = match a {
        "auto" => Some(DriverChoice::Auto),
        "io_uring" => Some(DriverChoice::IoUring),
        "legacy" => Some(DriverChoice::Legacy),
        _ => {
            let hint = suggest::hint(a, ["auto", "io_uring", "legacy"]);
            return cx.err(format!(
                "'ringlb.driver {a}': expected auto, io_uring or legacy{hint}"
            ));
        }
    };
}

/// Words of `ssl-default-bind-options` besides the version options.
const SSL_FLAGS: [&str; 3] = ["no-tls-tickets", "prefer-client-ciphers", "strict-sni"];
/// Words of `ssl-default-server-options` besides the version options.
const SERVER_SSL_FLAGS: [&str; 2] = ["no-ssl-reuse", "no-tls-tickets"];
const VERSION_WORDS: [&str; 12] = [
    "ssl-min-ver",
    "ssl-max-ver",
    "no-sslv3",
    "no-tlsv10",
    "no-tlsv11",
    "no-tlsv12",
    "no-tlsv13",
    "force-sslv3",
    "force-tlsv10",
    "force-tlsv11",
    "force-tlsv12",
    "force-tlsv13",
];

/// `ssl-default-bind-options` (for TLS binds) and `ssl-default-server-options` (for `server
/// ... ssl` lines): version options plus each side's flags.
pub fn ssl_options(g: &mut GlobalDraft, cx: &mut Cx) {
    if cx.args.is_empty() {
        return cx.err(format!(
            "'{}' needs at least one option, e.g. 'no-sslv3' or 'ssl-min-ver TLSv1.2'",
            cx.kw
        ));
    }
    let server = cx.kw == "ssl-default-server-options";
    let mut opts = g.tls.clone();
    let mut words = cx.args.iter();
    while let Some(w) = words.next() {
        let w = w.as_str();
        let flag = match (server, w) {
            (false, "no-tls-tickets") => Some(&mut opts.bind_no_tls_tickets),
            (false, "prefer-client-ciphers") => Some(&mut opts.bind_prefer_client_ciphers),
            (false, "strict-sni") => Some(&mut opts.bind_strict_sni),
            (true, "no-ssl-reuse") => Some(&mut opts.server_no_ssl_reuse),
            (true, "no-tls-tickets") => Some(&mut opts.server_no_tls_tickets),
            _ => None,
        };
        if let Some(flag) = flag {
            *flag = true;
            continue;
        }
        let versions = if server {
            &mut opts.server_versions
        } else {
            &mut opts.bind_versions
        };
        let result = match w {
            "ssl-min-ver" | "ssl-max-ver" => {
                let v = words.next().map(String::as_str);
                bind_tls::version_option(versions, w, v)
            }
            _ if VERSION_WORDS.contains(&w) => bind_tls::version_option(versions, w, None),
            _ => {
                let flags: &[&str] = if server {
                    &SERVER_SSL_FLAGS
                } else {
                    &SSL_FLAGS
                };
                let hint = suggest::hint(w, flags.iter().chain(&VERSION_WORDS).copied());
                Err(format!("unknown option '{w}'{hint}"))
            }
        };
        if let Err(e) = result {
            return cx.err(format!("'{}': {e}", cx.kw));
        }
    }
    g.tls = opts;
}

/// `ssl-server-verify none|required`: whether `server ... ssl` lines without `verify` check
/// the server's certificate.
pub fn ssl_server_verify(g: &mut GlobalDraft, cx: &mut Cx) {
    match cx.one("none or required") {
        Some("none") => g.tls.server_verify = false,
        Some("required") => g.tls.server_verify = true,
        Some(v) => {
            let hint = suggest::hint(v, ["none", "required"]);
            cx.err(format!(
                "'ssl-server-verify {v}': expected none or required{hint}"
            ));
        }
        None => {}
    }
}

/// `ssl-default-server-ciphers`: the TLS 1.2 list of TLS servers without `ciphers`.
pub fn server_ciphers(g: &mut GlobalDraft, cx: &mut Cx) {
    if let Some(a) = cx.one("an OpenSSL cipher list") {
        g.tls.server_ciphers = Some(a.to_string());
    }
}

/// `ssl-default-server-ciphersuites`: the TLS 1.3 list of TLS servers without `ciphersuites`.
pub fn server_ciphersuites(g: &mut GlobalDraft, cx: &mut Cx) {
    if let Some(a) = cx.one("an OpenSSL TLS 1.3 cipher suite list") {
        g.tls.server_ciphersuites = Some(a.to_string());
    }
}

/// `ssl-default-bind-ciphers`: the TLS 1.2 list of binds without `ciphers`.
pub fn bind_ciphers(g: &mut GlobalDraft, cx: &mut Cx) {
    if let Some(a) = cx.one("an OpenSSL cipher list") {
        g.tls.bind_ciphers = Some(a.to_string());
    }
}

/// `ssl-default-bind-ciphersuites`: the TLS 1.3 list of binds without `ciphersuites`.
pub fn bind_ciphersuites(g: &mut GlobalDraft, cx: &mut Cx) {
    if let Some(a) = cx.one("an OpenSSL TLS 1.3 cipher suite list") {
        g.tls.bind_ciphersuites = Some(a.to_string());
    }
}

/// `ssl-default-bind-curves`: the groups of binds without `curves`.
pub fn bind_curves(g: &mut GlobalDraft, cx: &mut Cx) {
    if let Some(a) = cx.one("a curve list such as X25519:P-256") {
        g.tls.bind_curves = Some(a.to_string());
    }
}

pub fn ssl_cachesize(g: &mut GlobalDraft, cx: &mut Cx) {
    if let Some(a) = cx.one("a number of entries") {
        if let Some(n) = cx.number::<u32>("entry count", a) {
            g.tls.cache_size = n;
        }
    }
}

pub fn ssl_lifetime(g: &mut GlobalDraft, cx: &mut Cx) {
    // HAProxy reads this one in seconds when no unit is given.
    if let Some(a) = cx.one("a lifetime (seconds by default)") {
        let with_unit = if a.bytes().all(|b| b.is_ascii_digit()) {
            format!("{a}s")
        } else {
            a.to_string()
        };
        if let Some(d) = cx.duration(&with_unit) {
            g.tls.lifetime = d;
        }
    }
}

/// `ca-base DIR`: where relative `ca-file` paths are.
pub fn ca_base(g: &mut GlobalDraft, cx: &mut Cx) {
    g.tls.bases.ca = cx.one("a directory").map(Into::into);
}

/// `crt-base DIR`: where relative `crt` paths (and crt-list lines) are.
pub fn crt_base(g: &mut GlobalDraft, cx: &mut Cx) {
    g.tls.bases.crt = cx.one("a directory").map(Into::into);
}

pub fn dh_param(_: &mut GlobalDraft, cx: &mut Cx) {
    let Some(a) = cx.one("a key size in bits (e.g. 2048)") else {
        return;
    };
    if let Some(n) = cx.number::<u32>("key size", a) {
        if n < 1024 {
            cx.err(format!(
                "'tune.ssl.default-dh-param {n}': must be at least 1024"
            ));
        } else {
            cx.warn(
                "'tune.ssl.default-dh-param' has no effect: ringlb's TLS (rustls) offers no finite-field Diffie-Hellman, only ECDHE and X25519 key exchange",
            );
        }
    }
}
