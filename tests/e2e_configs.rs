//! The example configs shipped in `configs/*.cfg`, run by the real binary with real traffic.
//!
//! Each file is read as published and localized: every `bind ADDR` becomes `127.0.0.1:0` and
//! every `server NAME ADDR` points at a backend started here (an `HttpBackend` named NAME for
//! mode http, a `TcpEchoBackend` for mode tcp). Every other byte is kept, so what runs is the
//! example itself. Each file then gets a scenario that checks what its routing promises; a new
//! file without one fails `every_example_config_has_a_scenario`, and still has to start and
//! accept connections on every bind in `every_example_config_starts_and_accepts`.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};

/// Every example with its scenario. Keep in step with `configs/*.cfg`.
type Scenario = (&'static str, fn(&Env));
const SCENARIOS: &[Scenario] = &[
    ("api-gateway.cfg", api_gateway),
    ("minimal-http.cfg", minimal_http),
    ("routing-leastconn.cfg", routing_leastconn),
    ("tcp.cfg", tcp),
    ("seed-fixed.cfg", seed_fixed),
];

fn configs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
}

/// The `*.cfg` file names directly in `configs/` (not `configs/invalid/`), sorted.
fn example_configs() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(configs_dir())
        .expect("read configs/")
        .map(|e| e.expect("configs/ entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "cfg"))
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

// Localizing a config

const SECTION_KEYWORDS: &[&str] = &[
    "global",
    "defaults",
    "frontend",
    "backend",
    "listen",
    "resolvers",
    "peers",
    "userlist",
    "mailers",
    "program",
    "http-errors",
    "ring",
    "cache",
];

/// The words of a config line with their byte offsets, up to a `#` comment.
fn words(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line
        .char_indices()
        .chain(std::iter::once((line.len(), ' ')))
    {
        if c.is_whitespace() {
            if let Some(s) = start.take() {
                out.push((s, &line[s..i]));
            }
        } else if start.is_none() {
            if c == '#' {
                break;
            }
            start = Some(i);
        }
    }
    out
}

struct Section {
    kind: String,
    name: String,
    /// The section's own `mode`, or the one of the `defaults` before it (tcp without either).
    mode: String,
}

/// Splits `text` into sections (`None` before the first header) and gives each its mode.
fn sections(text: &str) -> Vec<(usize, Section)> {
    let mut out: Vec<(usize, Section)> = Vec::new();
    let mut defaults_mode = "tcp".to_string();
    for (n, line) in text.lines().enumerate() {
        let w = words(line);
        let Some(&(_, first)) = w.first() else {
            continue;
        };
        if SECTION_KEYWORDS.contains(&first) {
            if let Some((_, prev)) = out.last() {
                if prev.kind == "defaults" {
                    defaults_mode = prev.mode.clone();
                }
            }
            out.push((
                n,
                Section {
                    kind: first.to_string(),
                    name: w.get(1).map(|x| x.1.to_string()).unwrap_or_default(),
                    // A new `defaults` starts over from HAProxy's own defaults.
                    mode: if first == "defaults" {
                        "tcp".to_string()
                    } else {
                        defaults_mode.clone()
                    },
                },
            ));
        } else if first == "mode" {
            if let (Some((_, s)), Some(&(_, m))) = (out.last_mut(), w.get(1)) {
                s.mode = m.to_string();
            }
        }
    }
    out
}

/// A localized example and the backends it points at.
struct Env {
    file: String,
    cfg: String,
    lb: Ringlb,
    http: BTreeMap<String, HttpBackend>,
    tcp: BTreeMap<String, TcpEchoBackend>,
    /// (proxy, mode) for every proxy with a bind line, once per bind.
    binds: Vec<(String, String)>,
}

struct Localized {
    cfg: String,
    http: BTreeMap<String, HttpBackend>,
    tcp: BTreeMap<String, TcpEchoBackend>,
    binds: Vec<(String, String)>,
}

fn replace_word(line: &str, (at, old): (usize, &str), new: &str) -> String {
    format!("{}{new}{}", &line[..at], &line[at + old.len()..])
}

fn localize(file: &str, text: &str) -> Localized {
    let secs = sections(text);
    let mut out = Localized {
        cfg: String::with_capacity(text.len()),
        http: BTreeMap::new(),
        tcp: BTreeMap::new(),
        binds: Vec::new(),
    };
    for (n, raw) in text.split_inclusive('\n').enumerate() {
        let body = raw.trim_end_matches(['\r', '\n']);
        let ending = &raw[body.len()..];
        let sec = secs
            .iter()
            .rev()
            .find(|(start, _)| *start <= n)
            .map(|s| &s.1);
        let w = words(body);
        let line = match (w.first().map(|x| x.1), sec) {
            (Some("bind"), Some(s)) => {
                let addr = *w
                    .get(1)
                    .unwrap_or_else(|| panic!("{file}:{}: bind without address", n + 1));
                out.binds.push((s.name.clone(), s.mode.clone()));
                replace_word(body, addr, "127.0.0.1:0")
            }
            (Some("server"), Some(s)) => {
                let (name, addr) = match (w.get(1), w.get(2)) {
                    (Some(name), Some(addr)) => (name.1, *addr),
                    _ => panic!("{file}:{}: server without name and address", n + 1),
                };
                let local = if s.mode == "http" {
                    let b = HttpBackend::start(name);
                    let a = b.addr;
                    assert!(
                        out.http.insert(name.to_string(), b).is_none(),
                        "{file}: server name {name} used twice: give each its own"
                    );
                    a
                } else {
                    let b = TcpEchoBackend::start();
                    let a = b.addr;
                    assert!(
                        out.tcp.insert(name.to_string(), b).is_none(),
                        "{file}: server name {name} used twice: give each its own"
                    );
                    a
                };
                replace_word(body, addr, &local.to_string())
            }
            _ => body.to_string(),
        };
        out.cfg.push_str(&line);
        out.cfg.push_str(ending);
    }
    assert!(!out.binds.is_empty(), "{file}: no bind line found");
    assert_eq!(
        out.cfg.lines().count(),
        text.lines().count(),
        "localizing must keep every line"
    );
    out
}

fn start_example(file: &str, driver: &str) -> Env {
    let path = configs_dir().join(file);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let l = localize(file, &text);
    let lb = if has_tls_bind(&text) {
        // The seed's `crt ./key.pem ca-file ./key.ca`: relative to where ringlb runs, made by
        // the script a user runs.
        let dir = TempDir::new();
        make_certs(dir.path());
        Ringlb::start_in_cwd(dir, &l.cfg, driver)
    } else {
        Ringlb::start(&l.cfg, driver)
    };
    Env {
        file: file.to_string(),
        cfg: l.cfg,
        lb,
        http: l.http,
        tcp: l.tcp,
        binds: l.binds,
    }
}

/// Whether some `bind` line of `text` has the `ssl` option.
fn has_tls_bind(text: &str) -> bool {
    text.lines().any(|l| {
        let w = words(l);
        w.first().is_some_and(|x| x.1 == "bind") && w.iter().any(|x| x.1 == "ssl")
    })
}

impl Env {
    fn addr(&self, proxy: &str) -> SocketAddr {
        self.lb.addr(proxy)
    }

    fn http(&self, server: &str) -> &HttpBackend {
        self.http
            .get(server)
            .unwrap_or_else(|| panic!("{}: no http server {server}", self.file))
    }

    fn echo(&self, server: &str) -> &TcpEchoBackend {
        self.tcp
            .get(server)
            .unwrap_or_else(|| panic!("{}: no tcp server {server}", self.file))
    }

    /// Counts per http server name: (heads received).
    fn heads(&self) -> BTreeMap<String, usize> {
        self.http
            .iter()
            .map(|(n, b)| (n.clone(), b.heads()))
            .collect()
    }

    fn context(&self) -> String {
        format!(
            "--- {} as run ---\n{}\n--- ringlb output ---\n{}",
            self.file,
            self.cfg,
            self.lb.output()
        )
    }
}

/// One GET with the given Host header on `c`; the response must be a 200 with a description.
fn get_host(c: &mut Client, host: &str, path: &str) -> Response {
    c.send(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n"));
    c.read_response()
}

/// `get_host` on a fresh connection; returns the answering server, checking what it saw.
fn route(env: &Env, proxy: &str, host: &str, path: &str) -> String {
    let mut c = Client::connect(env.addr(proxy));
    let r = get_host(&mut c, host, path);
    assert_eq!(
        r.status,
        200,
        "Host {host} {path}: {}\n{}",
        r.describe(),
        env.context()
    );
    let seen = r.seen();
    assert_eq!(seen.target, path, "the backend saw another path");
    assert_eq!(seen.header("host"), Some(host), "Host not relayed as sent");
    r.server()
}

/// Echoes `msg` through `addr` on a fresh connection, then half-closes and expects `bye`.
fn echo_through(addr: SocketAddr, msg: &[u8]) {
    let mut s = TcpStream::connect_timeout(&addr, IO_TIMEOUT).expect("connect");
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s.write_all(msg).unwrap();
    let mut got = vec![0u8; msg.len()];
    s.read_exact(&mut got)
        .unwrap_or_else(|e| panic!("reading the echo of {:?}: {e}", lossy(msg)));
    assert_eq!(got, msg);
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    s.read_to_end(&mut rest)
        .expect("read until the relay closes");
    assert_eq!(lossy(&rest), "bye", "half-close not relayed");
}

// The scenarios

/// One frontend, `default_backend app`, two servers with the default roundrobin.
fn minimal_http(env: &Env) {
    let mut seen = Vec::new();
    for i in 0..20 {
        let r = get_once(env.addr("web"), &format!("/m{i}"));
        assert_eq!(r.status, 200, "{}\n{}", r.describe(), env.context());
        assert_eq!(r.seen().target, format!("/m{i}"));
        // No `option forwardfor` here: nothing may be added.
        assert_eq!(r.seen().header("x-forwarded-for"), None);
        seen.push(r.server());
    }
    let t = tally(seen);
    // Each core alternates app1/app2; 20 connections put at least 2 on some core.
    assert!(
        t.contains_key("app1") && t.contains_key("app2") && t.len() == 2,
        "roundrobin over app1/app2 expected, got {t:?}\n{}",
        env.context()
    );
}

/// Host and path ACLs in order, leastconn backends, a backup server that must stay idle.
fn routing_leastconn(env: &Env) {
    let api = ["api1", "api2"];
    let cases: &[(&str, &str, &[&str], &str)] = &[
        // (host, path, allowed servers, why)
        ("api.example.com", "/", &api, "host_api"),
        (
            "API.Example.COM",
            "/x.css",
            &api,
            "host_api is -i and wins over is_static",
        ),
        ("test.local", "/api/users", &api, "path_api /api/"),
        ("test.local", "/v1/items", &api, "path_api /v1/"),
        ("test.local", "/style.css", &["static1"], "is_static"),
        ("test.local", "/app.js", &["static1"], "is_static"),
        ("test.local", "/logo.png", &["static1"], "is_static"),
        ("api.other.org", "/", &api, "hdr_beg(host) -i api."),
        (
            "api.other.org",
            "/a.css",
            &["static1"],
            "is_static !host_api comes before hdr_beg",
        ),
        ("test.local", "/", &["static1"], "default_backend static"),
        ("test.local", "/apix", &["static1"], "/apix is not /api/"),
        ("www.example.com", "/v2/x", &["static1"], "no rule matches"),
    ];
    for (host, path, allowed, why) in cases {
        let server = route(env, "web", host, path);
        assert!(
            allowed.contains(&server.as_str()),
            "Host {host} {path} ({why}): answered by {server}, expected one of {allowed:?}\n{}",
            env.context()
        );
    }
    // option forwardfor (defaults), several requests on one kept-alive client connection.
    let mut c = Client::connect(env.addr("web"));
    let mut api_servers = Vec::new();
    for i in 0..6 {
        let r = get_host(&mut c, "api.example.com", &format!("/ka{i}"));
        assert_eq!(r.status, 200, "{}", r.describe());
        assert_eq!(
            r.seen().header("x-forwarded-for"),
            Some("127.0.0.1"),
            "option forwardfor: {}",
            r.describe()
        );
        api_servers.push(r.server());
    }
    let t = tally(api_servers);
    assert!(
        t.keys().all(|s| api.contains(&s.as_str())),
        "api requests left the api backend: {t:?}"
    );
    // Idle leastconn ties go round the servers: sequential requests reach both.
    let t = tally((0..12).map(|i| route(env, "web", "api.example.com", &format!("/lc{i}"))));
    assert_eq!(
        t.len(),
        2,
        "leastconn on an idle backend should use api1 and api2: {t:?}\n{}",
        env.context()
    );
    assert_eq!(
        env.http("static2").heads(),
        0,
        "the backup server got requests while static1 was up: {:?}",
        env.heads()
    );
}

/// mode tcp: a frontend with an ACL to a roundrobin pool, and a `listen` section.
fn tcp(env: &Env) {
    let n = 20;
    for i in 0..n {
        echo_through(env.addr("tcp-in"), format!("pool-{i}").as_bytes());
    }
    let (s1, s2) = (env.echo("s1").connections(), env.echo("s2").connections());
    assert_eq!(s1 + s2, n, "every tcp-in connection reaches the pool once");
    assert!(
        s1 > 0 && s2 > 0,
        "roundrobin over s1/s2 expected: s1={s1} s2={s2}\n{}",
        env.context()
    );
    assert_eq!(
        env.echo("e1").connections(),
        0,
        "tcp-in reached the echo listen"
    );
    for i in 0..5 {
        echo_through(env.addr("echo"), format!("listen-{i}").as_bytes());
    }
    assert_eq!(env.echo("e1").connections(), 5);
    assert_eq!(
        env.echo("s1").connections() + env.echo("s2").connections(),
        n,
        "the listen section's traffic reached the pool"
    );
}

/// One request on a fresh connection to the gateway.
fn gw(env: &Env, method: &str, host: &str, path: &str, extra: &str) -> Response {
    let mut c = Client::connect(env.addr("gateway"));
    c.send(format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n"
    ));
    c.read_response()
}

/// The API gateway: method allow-list, hygiene, redirects, auth, rewrite, routing, headers.
fn api_gateway(env: &Env) {
    let ctx = env.context();
    // Routing by host and by path, with the v1 -> current rewrite before routing.
    let r = gw(
        env,
        "GET",
        "api.example.com:8080",
        "/users",
        "X-Internal-Token: t\r\nProxy: p\r\n",
    );
    assert_eq!(r.server(), "api1", "{ctx}");
    let seen = r.seen();
    assert!(seen.header("x-internal-token").is_none() && seen.header("proxy").is_none());
    assert_eq!(
        seen.header("x-forwarded-host"),
        Some("api.example.com:8080")
    );
    assert_eq!(seen.header("x-real-ip"), Some("127.0.0.1"));
    assert_eq!(seen.header("x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(seen.header("x-request-line"), Some("GET /users"));
    assert_eq!(
        seen.header("x-api-version"),
        Some("2"),
        "the api backend's own rule"
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("x-served-by"), Some("api"));
    let r = gw(env, "GET", "www.example.com", "/api/v1/orders?id=7", "");
    assert_eq!(r.server(), "api1");
    assert_eq!(r.seen().target, "/api/orders?id=7");
    assert_eq!(
        r.seen().header("x-api-original-path"),
        Some("/api/v1/orders")
    );
    let r = gw(env, "GET", "www.example.com", "/app.css", "");
    assert_eq!(r.server(), "static1");
    assert_eq!(r.header("cache-control"), Some("public, max-age=3600"));
    assert_eq!(gw(env, "GET", "www.example.com", "/", "").server(), "web1");
    // Method allow-list.
    assert_eq!(gw(env, "TRACE", "www.example.com", "/", "").status, 405);
    assert_eq!(
        gw(env, "DELETE", "www.example.com", "/", "").server(),
        "web1"
    );
    // The gateway's own answers.
    let r = gw(env, "GET", "www.example.com", "/healthz", "");
    assert_eq!((r.status, r.text().as_str()), (200, "ok"));
    let r = gw(env, "GET", "www.example.com", "/documentation", "");
    assert_eq!((r.status, r.header("location")), (301, Some("/docs/")));
    let r = gw(env, "GET", "www.example.com", "/manual/x?y", "");
    assert_eq!(
        (r.status, r.header("location")),
        (302, Some("/docs/manual/x?y"))
    );
    let r = gw(env, "GET", "secure.example.com", "/a", "");
    assert_eq!(r.header("location"), Some("https://secure.example.com/a"));
    // Operators only on /admin.
    let r = gw(env, "GET", "www.example.com", "/admin/", "");
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Basic realm=\"GatewayAdmin\"")
    );
    // viewer:view-only and alice:secret
    let r = gw(
        env,
        "GET",
        "www.example.com",
        "/admin/",
        "Authorization: Basic dmlld2VyOnZpZXctb25seQ==\r\n",
    );
    assert_eq!(r.status, 401, "viewer is not in ops");
    let r = gw(
        env,
        "GET",
        "www.example.com",
        "/admin/",
        "Authorization: Basic YWxpY2U6c2VjcmV0\r\n",
    );
    assert_eq!(r.server(), "admin1", "{ctx}");
    assert_eq!(env.http("admin1").requests(), 1);
}

/// The seed sample: both host ACL and default go to test_server, leastconn over three servers.
fn seed_fixed(env: &Env) {
    seed_fixed_plain(env);
    seed_fixed_https(env);
}

/// The seed's https bind as written (`ssl crt ./key.pem ca-file ./key.ca verify optional
/// alpn h2,http/1.1`), with the certificates `scripts/make-certs.sh` made, through curl.
fn seed_fixed_https(env: &Env) {
    let addrs = env.lb.addrs("https-in");
    assert_eq!(
        addrs.len(),
        2,
        "the plain and the https bind\n{}",
        env.context()
    );
    let tls = addrs[1];
    let dir = env.lb.dir.path();
    let file = |f: &str| dir.join(f).display().to_string();
    let ca = file("key.ca");
    assert!(
        !env.lb.output().contains("h2 is not offered"),
        "alpn h2 is served now\n{}",
        env.context()
    );
    // curl offers h2 and gets it (the seed's `alpn h2,http/1.1`); the seed's rules run as on
    // the plain bind.
    let c = curl(tls, "test.server.com", "/tls", &ca, &["--http2"]);
    assert_eq!(c.code(), 200, "{}\n{}", c.all(), env.context());
    assert!(c.stdout.contains("target /tls"), "{}", c.stdout);
    assert!(
        c.stdout.contains("header x-forwarded-for: 127.0.0.1"),
        "{}",
        c.stdout
    );
    assert!(
        c.stderr.contains("ALPN: server accepted h2"),
        "{}",
        c.stderr
    );
    assert!(c.stderr.contains("< HTTP/2 200"), "{}", c.stderr);
    // verify optional: a client certificate from key.ca is accepted, so is none.
    let c = curl(
        tls,
        "test.server.com",
        "/cert",
        &ca,
        &["--cert", &file("client.pem")],
    );
    assert_eq!(c.code(), 200, "{}", c.all());
    // ...but one from another CA is refused.
    let other = Ca::new("not the seed's CA");
    let tmp = TempDir::new();
    let (cert, key) = other.client("stranger").write_pair(&tmp, "stranger");
    let c = curl(
        tls,
        "test.server.com",
        "/bad",
        &ca,
        &["--cert", &cert, "--key", &key],
    );
    assert_ne!(c.code(), 200, "a certificate from another CA: {}", c.all());
    // TLS 1.2 is limited to the seed's ECDHE-RSA-AES128-GCM-SHA256.
    let c = curl(tls, "test.server.com", "/tls12", &ca, &["--tls-max", "1.2"]);
    assert_eq!(c.code(), 200, "{}", c.all());
    assert!(
        c.curl_tls().contains("ECDHE-RSA-AES128-GCM-SHA256"),
        "{}",
        c.curl_tls()
    );
}

fn seed_fixed_plain(env: &Env) {
    let servers = ["server-001", "server-002", "server-003"];
    for host in ["test.server.com", "TEST.SERVER.COM", "other.example"] {
        let s = route(env, "https-in", host, "/");
        assert!(
            servers.contains(&s.as_str()),
            "Host {host}: answered by {s}\n{}",
            env.context()
        );
    }
    // The seed's stats backend: its page with the seed's password, nothing else (a stats
    // backend has no servers: 503 for any other URI, as in HAProxy).
    let mut c = Client::connect(env.addr("https-in"));
    assert_eq!(get_host(&mut c, "test.haproxy.com", "/stats").status, 401);
    let mut c = Client::connect(env.addr("https-in"));
    c.send(
        "GET /stats;csv HTTP/1.1\r\nHost: test.haproxy.com\r\n\
         Authorization: Basic aWQ6cGFzc3dvcmQ=\r\n\r\n",
    );
    let r = c.read_response();
    assert_eq!(r.status, 200, "{}", r.describe());
    assert!(
        r.text().contains("\ntest_server,server-001,"),
        "{}",
        r.text()
    );
    let mut c = Client::connect(env.addr("https-in"));
    assert_eq!(get_host(&mut c, "test.haproxy.com", "/").status, 503);
    let mut c = Client::connect(env.addr("https-in"));
    let mut seen = Vec::new();
    for i in 0..9 {
        let r = get_host(&mut c, "test.server.com", &format!("/seed{i}"));
        assert_eq!(r.status, 200, "{}", r.describe());
        assert_eq!(r.seen().header("x-forwarded-for"), Some("127.0.0.1"));
        seen.push(r.server());
    }
    // The seed's rules: a method allow-list, the port stripped from Host before routing.
    let mut c = Client::connect(env.addr("https-in"));
    c.send("PATCH /x HTTP/1.1\r\nHost: test.server.com\r\n\r\n");
    assert_eq!(
        c.read_response().status,
        403,
        "PATCH is not in valid_method"
    );
    let r = get_host(
        &mut Client::connect(env.addr("https-in")),
        "test.server.com:8080",
        "/port",
    );
    assert_eq!(r.seen().header("host"), Some("test.server.com"));
    // Fresh connections too: one of them may stick to a server in some designs.
    seen.extend((0..9).map(|i| route(env, "https-in", "test.server.com", &format!("/f{i}"))));
    let t = tally(seen);
    assert_eq!(
        t.len(),
        3,
        "leastconn over three idle servers should reach all of them: {t:?}\n{}",
        env.context()
    );
}

// The tests

fn run_example(file: &str, driver: &str) {
    let scenario = SCENARIOS
        .iter()
        .find(|(f, _)| *f == file)
        .unwrap_or_else(|| panic!("no scenario for {file}"))
        .1;
    let env = start_example(file, driver);
    scenario(&env);
}

#[test]
fn every_example_config_has_a_scenario() {
    let on_disk = example_configs();
    let known: Vec<String> = SCENARIOS.iter().map(|(f, _)| f.to_string()).collect();
    let missing: Vec<&String> = on_disk.iter().filter(|f| !known.contains(f)).collect();
    assert!(
        missing.is_empty(),
        "configs/{missing:?} has no scenario: add one to SCENARIOS in tests/e2e_configs.rs \
         that sends traffic proving what the config routes"
    );
    let gone: Vec<&String> = known.iter().filter(|f| !on_disk.contains(f)).collect();
    assert!(
        gone.is_empty(),
        "scenarios for configs that no longer exist: {gone:?}"
    );
}

#[test]
fn localize_keeps_everything_but_addresses() {
    let text = "defaults\n    mode http # web\n\nfrontend f\n\tbind 10.0.0.1:80 name x\n    \
                # bind 1.2.3.4:5\n    default_backend b\n\nbackend b\n    server a 10.0.0.2:81 check\r\n";
    let l = localize("inline", text);
    let a = l.http.get("a").expect("server a started as http").addr;
    assert_eq!(
        l.cfg,
        format!(
            "defaults\n    mode http # web\n\nfrontend f\n\tbind 127.0.0.1:0 name x\n    \
             # bind 1.2.3.4:5\n    default_backend b\n\nbackend b\n    server a {a} check\r\n"
        )
    );
    assert_eq!(l.binds, vec![("f".to_string(), "http".to_string())]);
    // Without `mode`, HAProxy proxies are tcp.
    let l = localize("inline", "listen l\n  bind :1\n  server t 1.1.1.1:2\n");
    assert!(l.tcp.contains_key("t") && l.http.is_empty());
}

both_drivers!(every_example_config_starts_and_accepts, |driver| {
    // Also runs files that have no scenario yet: each must load and take connections.
    for file in example_configs() {
        let env = start_example(&file, driver);
        for (proxy, _) in &env.binds {
            for addr in env.lb.addrs(proxy) {
                TcpStream::connect_timeout(&addr, IO_TIMEOUT).unwrap_or_else(|e| {
                    panic!(
                        "{file}: connect to {proxy} at {addr}: {e}\n{}",
                        env.context()
                    )
                });
            }
        }
    }
});

both_drivers!(minimal_http_cfg, |driver| {
    run_example("minimal-http.cfg", driver)
});

both_drivers!(routing_leastconn_cfg, |driver| {
    run_example("routing-leastconn.cfg", driver)
});

both_drivers!(tcp_cfg, |driver| { run_example("tcp.cfg", driver) });

both_drivers!(seed_fixed_cfg, |driver| {
    run_example("seed-fixed.cfg", driver)
});

both_drivers!(api_gateway_cfg, |driver| {
    run_example("api-gateway.cfg", driver)
});
