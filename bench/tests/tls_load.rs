//! `ringlb-bench load --tls` against a small rustls server started inside the test (its
//! certificate made here with rcgen): the three TLS modes, the resumed share, a refused
//! certificate counted as `tls` errors, and a big body over TLS.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

const BIN: &str = env!("CARGO_BIN_EXE_ringlb-bench");
const BODY: &[u8] = &[b'x'; 100_000];

/// A TLS HTTP/1.1 server on a loopback port: one thread per connection, keep-alive unless
/// the request says close, `/big` answers 100,000 bytes, anything else `ok`.
struct Server {
    port: u16,
    dir: std::path::PathBuf,
}

impl Server {
    fn start(name: &str) -> Server {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["bench.test".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let dir =
            std::env::temp_dir().join(format!("ringlb-bench-tls-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ca.pem"), cert.pem()).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(cert.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap();
        config.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new().unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let config = config.clone();
                std::thread::spawn(move || serve(config, tcp));
            }
        });
        Server { port, dir }
    }

    fn ca(&self) -> String {
        self.dir.join("ca.pem").to_string_lossy().into_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn serve(config: Arc<ServerConfig>, tcp: TcpStream) {
    let Ok(conn) = ServerConnection::new(config) else {
        return;
    };
    let mut s = StreamOwned::new(conn, tcp);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        buf.drain(..end + 4);
        let close = head.contains("connection: close");
        let body: &[u8] = if head.starts_with("get /big") {
            BODY
        } else {
            b"ok"
        };
        let mut out = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n", body.len()).into_bytes();
        if close {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        if s.write_all(&out).and_then(|()| s.flush()).is_err() || close {
            s.conn.send_close_notify();
            let _ = s.flush();
            return;
        }
    }
}

/// Runs `load ARGS URL` and returns its stdout (the run must succeed).
fn load(args: &[&str], url: &str) -> String {
    let (ok, stdout, stderr) = load_status(args, url);
    assert!(ok, "{stdout}{stderr}");
    stdout
}

/// Runs `load ARGS URL`: (exit status success, stdout, stderr).
fn load_status(args: &[&str], url: &str) -> (bool, String, String) {
    let out = Command::new(BIN)
        .arg("load")
        .args(args)
        .args(["--no-pin", "-q", "-c", "4", url])
        .output()
        .expect("run load");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The number after `word` in `text` (e.g. `requests in` lines: "N requests").
fn number_before(text: &str, word: &str) -> f64 {
    let at = text
        .find(word)
        .unwrap_or_else(|| panic!("'{word}' in {text}"));
    text[..at]
        .split_whitespace()
        .last()
        .and_then(|n| n.trim_start_matches('(').parse().ok())
        .unwrap_or_else(|| panic!("a number before '{word}' in {text}"))
}

/// The number right after `word` in `text`.
fn number_after(text: &str, word: &str) -> f64 {
    let at = text
        .find(word)
        .unwrap_or_else(|| panic!("'{word}' in {text}"));
    text[at + word.len()..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a number after '{word}' in {text}"))
}

#[test]
fn full_handshake_per_request_never_resumes() {
    let s = Server::start("full");
    let url = format!("https://127.0.0.1:{}/", s.port);
    let out = load(
        &[
            "-n",
            "200",
            "--close",
            "--ca",
            &s.ca(),
            "--sni",
            "bench.test",
        ],
        &url,
    );
    assert_eq!(number_before(&out, "requests in"), 200.0, "{out}");
    assert!(number_before(&out, "handshakes,") >= 200.0, "{out}");
    assert!(out.contains("resumed 0 (0.0%)"), "{out}");
    assert!(out.contains("errors: 0 "), "{out}");
}

#[test]
fn tls_resume_resumes_nearly_every_reconnect() {
    let s = Server::start("resume");
    let url = format!("https://127.0.0.1:{}/", s.port);
    let out = load(
        &[
            "-n",
            "200",
            "--close",
            "--tls-resume",
            "--ca",
            &s.ca(),
            "--sni",
            "bench.test",
        ],
        &url,
    );
    assert_eq!(number_before(&out, "requests in"), 200.0, "{out}");
    let handshakes = number_before(&out, "handshakes,");
    let resumed = number_after(&out, "resumed ");
    // Only the first connection of each of the 4 may have nothing to resume.
    assert!(resumed >= handshakes - 4.0, "{out}");
}

#[test]
fn keepalive_over_tls_and_a_big_body() {
    let s = Server::start("keepalive");
    let url = format!("https://127.0.0.1:{}/big", s.port);
    let out = load(&["-n", "100", "--tls", "--insecure", "--warmup", "0"], &url);
    assert_eq!(number_before(&out, "requests in"), 100.0, "{out}");
    // 4 connections, each one handshake, all within the window (no warm-up).
    assert_eq!(number_before(&out, "handshakes,"), 4.0, "{out}");
    assert!(out.contains("errors: 0 "), "{out}");
}

#[test]
fn a_certificate_the_ca_does_not_sign_is_a_tls_error() {
    let s = Server::start("refused");
    let other = Server::start("other-ca");
    let url = format!("https://127.0.0.1:{}/", s.port);
    let (ok, out, err) = load_status(
        &[
            "-d",
            "0.3",
            "--warmup",
            "0",
            "--ca",
            &other.ca(),
            "--sni",
            "bench.test",
        ],
        &url,
    );
    // Every request failed: the summary says why, the exit status says it failed.
    assert!(!ok && err.contains("every request failed"), "{err}");
    assert!(number_before(&out, "requests in") == 0.0, "{out}");
    let tls_errors = number_after(&out, "tls ");
    assert!(tls_errors > 0.0, "{out}");
}

#[test]
fn tls_options_need_a_verification_choice() {
    let out = Command::new(BIN)
        .args(["load", "-q", "-n", "1", "https://127.0.0.1:1/"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--ca FILE"));
    let out = Command::new(BIN)
        .args(["load", "-q", "-n", "1", "--insecure", "http://127.0.0.1:1/"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("need --tls"));
}
