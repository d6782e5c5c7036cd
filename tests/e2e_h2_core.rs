//! HTTP/2 on the frontend, the core cases: curl over TLS (ALPN h2, http/1.1 beside it on the
//! same bind) and over cleartext (`proto h2`, prior knowledge), many streams with bodies both
//! ways on one connection, trailers, the record's `HTTP/2.0`, and the connection-level
//! defences (Rapid Reset, a PING flood, an idle connection) answered with GOAWAY while a
//! second client is served. Both monoio drivers. The broad suites (conformance, Python h2,
//! rule parity, floods, benchmarks) live in the other `e2e_h2*` files.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A cleartext `proto h2` bind (`h2c`), a TLS bind offering h2 and http/1.1, one backend.
struct Site {
    pki: Pki,
    backend: HttpBackend,
    lb: Ringlb,
}

impl Site {
    fn start(driver: &str, global: &str, timeout_client: &str) -> Site {
        let pki = Pki::new();
        let (_leaf, crt) = pki.server("site", "site", &["site.example"], Alg::Ecdsa);
        let backend = HttpBackend::start("s1");
        let cfg = format!(
            "global\n    nbthread 2\n{global}\n\ndefaults\n    mode http\n    timeout connect 1s\n    \
             timeout client {timeout_client}\n    timeout server 5s\n\n\
             frontend tls\n    bind 127.0.0.1:0 ssl crt {crt} alpn h2,http/1.1\n    \
             http-request set-header x-alpn %[ssl_fc_alpn]\n    default_backend be\n\n\
             frontend plain\n    bind 127.0.0.1:0\n    bind 127.0.0.1:0 proto h1\n    default_backend be\n\n\
             frontend h2c\n    bind 127.0.0.1:0 proto h2\n    stats enable\n    stats uri /stats\n    \
             http-request deny deny_status 403 if {{ path_beg /forbidden }}\n    default_backend be\n\n\
             backend be\n    server s1 {}\n",
            backend.addr
        );
        // `-d`: the records are printed, with their request lines.
        let dir = TempDir::new();
        let path = dir.write("h2.cfg", &cfg);
        let lb = Ringlb::start_files_args(dir, &[path], &["-d".into()], driver, &cfg);
        Site { pki, backend, lb }
    }

    fn h2c(&self) -> SocketAddr {
        self.lb.addr("h2c")
    }

    fn tls_curl(&self, path: &str, extra: &[&str]) -> CliRun {
        curl(
            self.lb.addr("tls"),
            "site.example",
            path,
            &self.pki.ca_file,
            extra,
        )
    }
}

/// `curl -sS -v --http2-prior-knowledge URL... extra`, with `stdin` fed to it.
fn curl_h2c(urls: &[String], extra: &[&str], stdin: &[u8]) -> CliRun {
    let mut child = Command::new("timeout")
        .args([
            "10",
            "curl",
            "-sS",
            "-v",
            "--http2-prior-knowledge",
            "--max-time",
            "8",
        ])
        .args(extra)
        .args(urls)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run curl");
    if let Some(mut i) = child.stdin.take() {
        let _ = i.write_all(stdin);
    }
    let out = child.wait_with_output().expect("wait for curl");
    CliRun {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn url(addr: SocketAddr, path: &str) -> String {
    format!("http://{addr}{path}")
}

both_drivers!(
    curl_over_tls_negotiates_h2_and_http11_on_one_bind,
    |driver| {
        let site = Site::start(driver, "", "5s");
        let c = site.tls_curl("/hello", &["--http2"]);
        assert_eq!(c.code(), 200, "{}\n{}", c.all(), site.lb.output());
        assert!(c.stderr.contains("< HTTP/2 200"), "{}", c.stderr);
        // The server gets HTTP/1.1, with the authority as Host, through the frontend's rules.
        assert!(c.stdout.contains("version HTTP/1.1"), "{}", c.stdout);
        let port = site.lb.addr("tls").port();
        assert!(
            c.stdout
                .contains(&format!("header host: site.example:{port}")),
            "{}",
            c.stdout
        );
        assert!(c.stdout.contains("header x-alpn: h2"), "{}", c.stdout);
        let c = site.tls_curl("/hello", &["--http1.1"]);
        assert_eq!(c.code(), 200, "{}", c.all());
        assert!(c.stderr.contains("< HTTP/1.1 200"), "{}", c.stderr);
        assert!(c.stdout.contains("header x-alpn: http/1.1"), "{}", c.stdout);
        // The record says HTTP/2.0 with the absolute-form target, as HAProxy logs it.
        let line = format!("\"GET https://site.example:{port}/hello HTTP/2.0\"");
        assert!(
            site.lb.wait_for_output(&line, Duration::from_secs(3)),
            "{}",
            site.lb.output()
        );
    }
);

both_drivers!(h2c_prior_knowledge_bodies_trailers_and_rules, |driver| {
    let site = Site::start(driver, "", "5s");
    let a = site.h2c();
    let c = curl_h2c(&[url(a, "/x")], &[], b"");
    assert!(
        c.ok && c.stderr.contains("< HTTP/2 200"),
        "{}\n{}",
        c.all(),
        site.lb.output()
    );
    // A request body with a length, then one without (chunked to the server).
    let c = curl_h2c(&[url(a, "/up")], &["--data-binary", "@-"], &[b'a'; 100_000]);
    assert!(c.stdout.contains("body-len 100000"), "{}", c.all());
    assert!(
        c.stdout.contains("header content-length: 100000"),
        "{}",
        c.stdout
    );
    let c = curl_h2c(
        &[url(a, "/up")],
        &["-T", "-", "-X", "POST"],
        b"streamed body",
    );
    assert!(c.stdout.contains("body-len 13"), "{}", c.all());
    assert!(
        c.stdout.contains("header transfer-encoding: chunked"),
        "{}",
        c.stdout
    );
    // A chunked response: its payload as DATA, its trailer as a trailing HEADERS frame.
    let c = curl_h2c(&[url(a, "/chunked/3")], &[], b"");
    assert!(c.ok, "{}", c.all());
    assert!(c.stderr.contains("x-trailer: done-3"), "{}", c.stderr);
    // A rule's answer, and a large response body.
    let c = curl_h2c(&[url(a, "/forbidden")], &["-o", "/dev/null"], b"");
    assert!(c.stderr.contains("< HTTP/2 403"), "{}", c.stderr);
    let c = curl_h2c(
        &[url(a, "/size/1000000")],
        &["-o", "/dev/null", "-w", "%{size_download}"],
        b"",
    );
    assert_eq!(c.stdout.trim(), "1000000", "{}", c.all());
    // Counted as requests like HTTP/1 ones (the stats page, itself over h2).
    let c = curl_h2c(&[url(a, "/stats;csv")], &[], b"");
    let req_tot = csv_field(&c.stdout, "h2c", "FRONTEND", "req_tot");
    assert!(req_tot >= 6, "req_tot {req_tot}\n{}", c.stdout);
    let hrsp_4xx = csv_field(&c.stdout, "h2c", "FRONTEND", "hrsp_4xx");
    assert_eq!(hrsp_4xx, 1, "the 403\n{}", c.stdout);
});

/// A number in the stats CSV: the row of `px`/`sv`, the column named `field`.
fn csv_field(csv: &str, px: &str, sv: &str, field: &str) -> u64 {
    let mut lines = csv.lines();
    let header = lines.next().unwrap_or("").trim_start_matches("# ");
    let Some(col) = header.split(',').position(|h| h == field) else {
        panic!("no column {field}: {header}");
    };
    let row = lines.find(|l| l.starts_with(&format!("{px},{sv},")));
    let value = row.and_then(|r| r.split(',').nth(col));
    value.and_then(|v| v.parse().ok()).unwrap_or(0)
}

both_drivers!(
    many_streams_on_one_connection_with_bodies_both_ways,
    |driver| {
        let site = Site::start(driver, "", "5s");
        let a = site.h2c();
        // Responses: 30 GETs multiplexed by curl over TLS (it waits for the first connection's
        // SETTINGS, then opens every stream on it; curl 7.88 fails that on h2c, against HAProxy
        // as well). Each URL with its own `-o`: the helper's own URL comes last.
        let port = site.lb.addr("tls").port();
        let mut extra: Vec<String> = ["--http2", "--parallel", "--parallel-max", "30"]
            .map(String::from)
            .to_vec();
        extra.extend([
            "-w".into(),
            "%{http_version} %{size_download} %{num_connects}\\n".into(),
        ]);
        for i in 0..29 {
            extra.extend(["-o".into(), "/dev/null".into()]);
            extra.push(format!("https://site.example:{port}/size/{}", 50_000 + i));
        }
        extra.extend(["-o".into(), "/dev/null".into()]);
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let c = site.tls_curl("/size/50029", &extra);
        let lines: Vec<&str> = c.stdout.lines().collect();
        let brief = |t: &str| t.chars().take(3000).collect::<String>();
        assert_eq!(lines.len(), 30, "{}\n{}", brief(&c.all()), site.lb.output());
        let mut sizes: Vec<u64> = Vec::new();
        let mut connects = 0;
        for l in &lines {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.first(), Some(&"2"), "{l}");
            sizes.push(f[1].parse().unwrap_or(0));
            connects += f[2].parse::<u32>().unwrap_or(99);
        }
        sizes.sort();
        assert_eq!(sizes, (0..30).map(|i| 50_000 + i).collect::<Vec<u64>>());
        assert_eq!(connects, 1, "one connection carried every stream");
        // Requests with bodies larger than a stream's window, side by side on one connection
        // (nghttp: curl 7.88 fails a second multiplexed upload, against HAProxy as well).
        let body = site.lb.dir.write("body.bin", vec![b'b'; 70_000]);
        let mut args = vec!["-d".to_string(), body.display().to_string()];
        args.extend((0..30).map(|i| url(a, &format!("/up/{i}"))));
        let out = Command::new("timeout")
            .arg("10")
            .arg("nghttp")
            .args(&args)
            .output()
            .expect("run nghttp (apt-get install nghttp2-client)");
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            text.matches("body-len 70000").count(),
            30,
            "{}\n{}",
            brief(&text),
            site.lb.output()
        );
        for i in 0..30 {
            assert!(
                text.contains(&format!("target /up/{i}\n")),
                "{i}: {}",
                brief(&text)
            );
        }
    }
);

// Raw frames, for what curl will not send.

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0;
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const PING: u8 = 6;
const GOAWAY: u8 = 7;
const CONTINUATION: u8 = 9;
const WINDOW_UPDATE: u8 = 8;
const ENHANCE_YOUR_CALM: u32 = 0xb;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let n = payload.len();
    let mut f = vec![(n >> 16) as u8, (n >> 8) as u8, n as u8, kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// `GET /` for `localhost`, HPACK: indexed :method GET, :scheme http, :path /, then
/// :authority as a literal with an indexed name.
fn get_block() -> Vec<u8> {
    let mut b = vec![0x82, 0x86, 0x84, 0x01, 9];
    b.extend_from_slice(b"localhost");
    b
}

fn raw_connect(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(200))).ok();
    let mut hello = PREFACE.to_vec();
    hello.extend(frame(SETTINGS, 0, 0, &[]));
    s.write_all(&hello).expect("preface");
    s
}

/// Reads frames until a GOAWAY (its error code) or the end of the connection (None).
fn goaway_code(s: &mut TcpStream, within: Duration) -> Option<u32> {
    let deadline = Instant::now() + within;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    while Instant::now() < deadline {
        while buf.len() >= 9 {
            let len =
                (usize::from(buf[0]) << 16) | (usize::from(buf[1]) << 8) | usize::from(buf[2]);
            if buf.len() < 9 + len {
                break;
            }
            if buf[3] == GOAWAY && len >= 8 {
                return Some(u32::from_be_bytes([buf[13], buf[14], buf[15], buf[16]]));
            }
            buf.drain(..9 + len);
        }
        match s.read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return None,
        }
    }
    None
}

fn still_served(site: &Site) {
    let c = curl_h2c(&[url(site.h2c(), "/after")], &[], b"");
    assert!(
        c.ok && c.stderr.contains("< HTTP/2 200"),
        "{}\n{}",
        c.all(),
        site.lb.output()
    );
}

both_drivers!(rapid_reset_gets_goaway_and_other_clients_go_on, |driver| {
    let site = Site::start(driver, "", "5s");
    let mut s = raw_connect(site.h2c());
    let block = get_block();
    let mut burst = Vec::new();
    for i in 0..500u32 {
        let id = 2 * i + 1;
        burst.extend(frame(HEADERS, 0x4 | 0x1, id, &block));
        burst.extend(frame(RST_STREAM, 0, id, &8u32.to_be_bytes()));
    }
    let _ = s.write_all(&burst);
    assert_eq!(
        goaway_code(&mut s, Duration::from_secs(5)),
        Some(ENHANCE_YOUR_CALM),
        "{}",
        site.lb.output()
    );
    still_served(&site);
});

both_drivers!(ping_flood_gets_goaway_and_other_clients_go_on, |driver| {
    let site = Site::start(driver, "", "5s");
    let mut s = raw_connect(site.h2c());
    let mut burst = Vec::new();
    for _ in 0..3000 {
        burst.extend(frame(PING, 0, 0, &[7; 8]));
    }
    let _ = s.write_all(&burst);
    assert_eq!(
        goaway_code(&mut s, Duration::from_secs(5)),
        Some(ENHANCE_YOUR_CALM),
        "{}",
        site.lb.output()
    );
    still_served(&site);
});

both_drivers!(
    an_idle_connection_gets_goaway_after_timeout_client,
    |driver| {
        let site = Site::start(driver, "", "1s");
        let mut s = raw_connect(site.h2c());
        let started = Instant::now();
        // NO_ERROR: a graceful goodbye.
        assert_eq!(
            goaway_code(&mut s, Duration::from_secs(5)),
            Some(0),
            "{}",
            site.lb.output()
        );
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "{:?}",
            started.elapsed()
        );
        still_served(&site);
    }
);

both_drivers!(
    soft_stop_sends_goaway_and_lets_open_streams_finish,
    |driver| {
        let mut site = Site::start(driver, "", "5s");
        let a = site.h2c();
        let slow = std::thread::spawn(move || curl_h2c(&[url(a, "/delay/1500")], &[], b""));
        site.backend
            .wait_for("the slow request", Duration::from_secs(5), |c| c.heads >= 1);
        let mut idle = raw_connect(a);
        std::thread::sleep(Duration::from_millis(100));
        site.lb.signal(libc::SIGUSR1);
        // An idle connection is told at once (NO_ERROR); the busy one finishes its stream.
        assert_eq!(
            goaway_code(&mut idle, Duration::from_secs(3)),
            Some(0),
            "{}",
            site.lb.output()
        );
        let c = slow.join().expect("curl thread");
        assert!(
            c.ok && c.stderr.contains("< HTTP/2 200"),
            "{}\n{}",
            c.all(),
            site.lb.output()
        );
        assert!(c.stdout.contains("target /delay/1500"), "{}", c.stdout);
        assert!(
            site.lb.wait_exit(Duration::from_secs(10)).is_some(),
            "{}",
            site.lb.output()
        );
    }
);

/// `GET path` for `localhost` (`:path` as a literal with an indexed name).
fn get_path_block(path: &str) -> Vec<u8> {
    let mut b = vec![0x82, 0x86, 0x04, path.len() as u8];
    b.extend_from_slice(path.as_bytes());
    b.extend_from_slice(&[0x01, 9]);
    b.extend_from_slice(b"localhost");
    b
}

/// Frames as (type, flags, stream, payload length), read until `done` says so or `within`.
fn read_frames(
    s: &mut TcpStream,
    within: Duration,
    mut done: impl FnMut(u8, u8, u32, usize) -> bool,
) -> bool {
    let deadline = Instant::now() + within;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    while Instant::now() < deadline {
        while buf.len() >= 9 {
            let len =
                (usize::from(buf[0]) << 16) | (usize::from(buf[1]) << 8) | usize::from(buf[2]);
            if buf.len() < 9 + len {
                break;
            }
            let id = u32::from_be_bytes([buf[5], buf[6], buf[7], buf[8]]) & 0x7fff_ffff;
            if done(buf[3], buf[4], id, len) {
                return true;
            }
            buf.drain(..9 + len);
        }
        match s.read(&mut chunk) {
            Ok(0) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return false,
        }
    }
    false
}

both_drivers!(
    a_stream_whose_window_stays_shut_stalls_no_other_and_is_reset,
    |driver| {
        let site = Site::start(driver, "", "1s");
        let mut s = TcpStream::connect(site.h2c()).expect("connect");
        s.set_read_timeout(Some(Duration::from_millis(200))).ok();
        // Every stream starts with a zero window; only stream 3's (and the connection's) opens.
        let mut hello = PREFACE.to_vec();
        hello.extend(frame(SETTINGS, 0, 0, &[0, 4, 0, 0, 0, 0]));
        hello.extend(frame(HEADERS, 0x5, 1, &get_path_block("/size/1000000")));
        hello.extend(frame(HEADERS, 0x5, 3, &get_path_block("/size/1000000")));
        hello.extend(frame(WINDOW_UPDATE, 0, 3, &(1u32 << 30).to_be_bytes()));
        hello.extend(frame(WINDOW_UPDATE, 0, 0, &(1u32 << 30).to_be_bytes()));
        s.write_all(&hello).expect("write");
        let (mut got1, mut got3) = (0usize, 0usize);
        let whole = read_frames(&mut s, Duration::from_secs(5), |kind, flags, id, len| {
            if kind == DATA {
                if id == 1 {
                    got1 += len;
                } else {
                    got3 += len;
                }
            }
            kind == DATA && id == 3 && flags & 1 == 1
        });
        assert!(
            whole,
            "stream 3 complete: {got3} bytes\n{}",
            site.lb.output()
        );
        assert_eq!((got1, got3), (0, 1_000_000));
        // Stream 1 waits for room under `timeout client` (1s), then is reset.
        let reset = read_frames(&mut s, Duration::from_secs(5), |kind, _, id, _| {
            kind == RST_STREAM && id == 1
        });
        assert!(reset, "stream 1 reset\n{}", site.lb.output());
        still_served(&site);
    }
);

both_drivers!(
    a_plain_bind_detects_the_h2_preface_unless_proto_h1,
    |driver| {
        let site = Site::start(driver, "", "5s");
        let binds = site.lb.addrs("plain");
        let (plain, h1_only) = (binds[0], binds[1]);
        let c = curl_h2c(&[url(plain, "/pk")], &[], b"");
        assert!(
            c.ok && c.stderr.contains("< HTTP/2 200"),
            "{}\n{}",
            c.all(),
            site.lb.output()
        );
        assert!(c.stdout.contains("target /pk"), "{}", c.stdout);
        let mut http1 = Client::connect(plain);
        let r = http1.get("/h1");
        assert_eq!(r.status, 200);
        // `proto h1`: the preface is an HTTP/1 request like any other, of a version not served.
        let c = curl_h2c(&[url(h1_only, "/pk")], &[], b"");
        assert!(!c.ok, "{}", c.all());
    }
);

both_drivers!(
    continuation_flood_and_oversized_heads_are_refused,
    |driver| {
        let site = Site::start(driver, "", "5s");
        // A head over `tune.bufsize` (HPACK decoding is bounded by it): 431, the connection goes on.
        let big = format!("x-big: {}", "a".repeat(20_000));
        let c = curl_h2c(
            &[url(site.h2c(), "/big")],
            &["-H", &big, "-o", "/dev/null"],
            b"",
        );
        assert!(c.stderr.contains("< HTTP/2 431"), "{}", c.stderr);
        // A head that never ends: CONTINUATION after CONTINUATION (CVE-2024-27316's kind).
        let mut s = raw_connect(site.h2c());
        let mut field = vec![0x00, 0x01, b'a', 100];
        field.extend_from_slice(&[b'b'; 100]);
        let fragment: Vec<u8> = field.repeat(10);
        let mut flood = frame(HEADERS, 0x1, 1, &get_block());
        for _ in 0..2000 {
            flood.extend(frame(CONTINUATION, 0, 1, &fragment));
        }
        let _ = s.write_all(&flood);
        // GOAWAY (h2 answers ENHANCE_YOUR_CALM), and others are served.
        let ended = goaway_code(&mut s, Duration::from_secs(5));
        assert!(ended.is_some(), "{}", site.lb.output());
        still_served(&site);
    }
);

// A malformed request (RFC 9113 8.1.1) is a stream error PROTOCOL_ERROR, logged as HAProxy
// 2.6 logs it (`PR--`, status 0, `"<BADREQ>"`); the connection's next stream is served.
both_drivers!(malformed_request_is_reset_and_logged_as_badreq, |driver| {
    let site = Site::start(driver, "", "5s");
    let mut s = raw_connect(site.h2c());
    // GET / with a field value that starts with a space (RFC 9113 8.2.1), a literal field
    // without indexing.
    let mut block = get_path_block("/bad");
    block.extend_from_slice(&[0x00, 5]);
    block.extend_from_slice(b"x-pad");
    block.extend_from_slice(&[7]);
    block.extend_from_slice(b" padded");
    s.write_all(&frame(HEADERS, 0x5, 1, &block)).unwrap();
    let reset = read_frames(&mut s, Duration::from_secs(3), |kind, _, id, _| {
        kind == RST_STREAM && id == 1
    });
    assert!(reset, "stream 1 reset\n{}", site.lb.output());
    assert!(
        site.lb.wait_for_output("PR-- ", Duration::from_secs(3))
            && site.lb.output().contains(" 0 0 - - PR-- ")
            && site.lb.output().contains("\"<BADREQ>\""),
        "logged as HAProxy does\n{}",
        site.lb.output()
    );
    assert_eq!(site.backend.requests(), 0, "nothing reached the server");
    // The connection goes on: stream 3 is answered.
    s.write_all(&frame(HEADERS, 0x5, 3, &get_path_block("/good")))
        .unwrap();
    let answered = read_frames(&mut s, Duration::from_secs(3), |kind, _, id, _| {
        kind == HEADERS && id == 3
    });
    assert!(answered, "stream 3 served\n{}", site.lb.output());
});
