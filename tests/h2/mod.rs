//! The HTTP/2 test harness: one frontend config run by ringlb (either driver) or by HAProxy
//! 2.6, with a plain HTTP/1.1 bind, a cleartext h2 bind (`proto h2`) and a TLS bind offering
//! `alpn h2,http/1.1`; the Python `h2` clients of tests/h2/client.py; curl.
//!
//! HAProxy runs every scenario too (`Proxy::haproxy`): where it behaves as the contract says,
//! the same assertions hold for it, which shows the test itself is right; where it does not
//! (it has no flood limits of its own), its behaviour is printed.

use super::common::*;
use super::proxies::{free_port, haproxy_bin, Haproxy};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

/// A python3 that can `import h2`: `python3` on PATH first, then the system one (Debian's
/// `python3-h2` installs there, and a pyenv `python3` on PATH would not see it).
pub fn python_h2() -> Option<String> {
    static FOUND: OnceLock<Option<String>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            ["python3", "/usr/bin/python3"].iter().find_map(|p| {
                Command::new(p)
                    .args(["-c", "import h2, hpack"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .ok()
                    .filter(|s| s.success())
                    .map(|_| p.to_string())
            })
        })
        .clone()
}

/// True when `tool` (a program on PATH) runs; without it, fails under CI and skips elsewhere.
pub fn tool_or_skip(what: &str, found: bool, install: &str) -> bool {
    if found {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{what} is missing: {install} (.ci/run does)");
    }
    eprintln!("skipping: {what} is missing ({install}; CI fails here instead)");
    false
}

/// The Python h2 client is there (or the test is skipped outside CI).
pub fn python_or_skip() -> bool {
    tool_or_skip(
        "python3 with the h2 package",
        python_h2().is_some(),
        "apt-get install python3-h2, or pip install h2",
    )
}

pub fn haproxy_or_skip() -> bool {
    tool_or_skip(
        "haproxy",
        haproxy_bin().is_some(),
        "apt-get install haproxy",
    )
}

pub fn script() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/h2/client.py")
        .display()
        .to_string()
}

/// What client.py printed: `key=value` lines.
#[derive(Debug, Default)]
pub struct Flat {
    pub map: HashMap<String, String>,
    pub stdout: String,
    pub stderr: String,
}

impl Flat {
    fn parse(stdout: String, stderr: String) -> Flat {
        let map = stdout
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), unescape(v)))
            .collect();
        Flat {
            map,
            stdout,
            stderr,
        }
    }

    pub fn get(&self, key: &str) -> &str {
        self.map.get(key).map(String::as_str).unwrap_or("")
    }

    pub fn num(&self, key: &str) -> i64 {
        self.get(key).parse().unwrap_or(-1)
    }

    pub fn is(&self, key: &str) -> bool {
        self.get(key) == "true"
    }

    /// The client's JSON report (its stderr), for failure messages.
    pub fn report(&self) -> String {
        self.stderr.trim().to_string()
    }
}

/// Undoes Python's `unicode_escape` for the ASCII range the values use.
fn unescape(v: &str) -> String {
    let mut out = String::new();
    let mut it = v.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some('x') => {
                let h: String = it.by_ref().take(2).collect();
                out.push(u8::from_str_radix(&h, 16).unwrap_or(b'?') as char);
            }
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    out
}

pub fn hex_decode(h: &str) -> Vec<u8> {
    (0..h.len() / 2)
        .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// How client.py reaches the proxy.
#[derive(Clone)]
pub enum Via {
    /// Cleartext h2, prior knowledge.
    H2c(SocketAddr),
    /// TLS, ALPN h2, the certificate verified against `ca` for `sni`.
    Tls(SocketAddr, String, String),
}

impl Via {
    fn args(&self) -> Vec<String> {
        match self {
            Via::H2c(a) => vec!["--port".into(), a.port().to_string()],
            Via::Tls(a, ca, sni) => vec![
                "--port".into(),
                a.port().to_string(),
                "--tls".into(),
                "--ca".into(),
                ca.clone(),
                "--sni".into(),
                sni.clone(),
            ],
        }
    }
}

fn python_cmd(via: &Via, args: &[&str]) -> Command {
    let mut cmd = Command::new("timeout");
    cmd.arg("120")
        .arg(python_h2().expect("python3 with h2"))
        .arg(script())
        .args(via.args())
        .args(args);
    cmd
}

/// Runs client.py with `args` (after the connection options), `stdin` fed to it.
pub fn py(via: &Via, args: &[&str], stdin: &str) -> Flat {
    let mut child = python_cmd(via, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run client.py");
    let mut input = child.stdin.take().unwrap();
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    let out = child.wait_with_output().expect("wait for client.py");
    let flat = Flat::parse(
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        out.status.success(),
        "client.py {args:?} failed ({}):\n{}\n{}",
        out.status,
        flat.stdout,
        flat.stderr
    );
    flat
}

/// client.py `hold`: returns the running child once it printed `sent`.
pub fn py_hold(via: &Via, path: &str) -> (Child, BufReader<std::process::ChildStdout>) {
    let mut child = python_cmd(via, &["hold", "--path", path])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run client.py hold");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).expect("read client.py");
    assert_eq!(line.trim(), "sent", "client.py hold did not start");
    (child, out)
}

pub fn py_hold_result(mut child: Child, mut out: BufReader<std::process::ChildStdout>) -> Flat {
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        std::io::Read::read_to_string(&mut e, &mut err).unwrap();
    }
    let _ = child.wait();
    Flat::parse(rest, err)
}

// The proxies

/// A config template: `{H1}`, `{H2C}`, `{TLS}` are the three bind addresses' ports, `{CRT}`
/// the certificate file, `{BE}` the backend's address, `DIR` the temp dir.
pub struct Setup {
    pub h1: SocketAddr,
    pub h2c: SocketAddr,
    pub tls: SocketAddr,
    pub ca: String,
    pub name: &'static str,
    pub is_haproxy: bool,
    lb: Option<Ringlb>,
    hap: Option<Haproxy>,
    pub cfg: String,
    _pki: Pki,
}

/// Server name in the test certificate (and SNI).
pub const SNI: &str = "h2.test";

/// The three binds of frontend `fe`: plain HTTP/1.1, cleartext h2, TLS with ALPN.
pub fn binds() -> &'static str {
    "    bind 127.0.0.1:{H1}\n    bind 127.0.0.1:{H2C} proto h2\n    \
     bind 127.0.0.1:{TLS} ssl crt {CRT} alpn h2,http/1.1\n"
}

/// `global` (nbthread 2, plus `global_extra`), `defaults` with `timeout client`, frontend
/// `fe` with the three binds and `fe_rules`, backend `be` with `be_rules` and server `s1`.
pub fn h2_cfg(global_extra: &str, timeout_client: &str, fe_rules: &str, be_rules: &str) -> String {
    format!(
        "global\n    nbthread 2\n{global_extra}\ndefaults\n    mode http\n    timeout connect 1s\n    \
         timeout client {timeout_client}\n    timeout server 10s\n\nfrontend fe\n{}{fe_rules}\n    \
         default_backend be\n\nbackend be\n{be_rules}\n    server s1 {{BE}}\n",
        binds()
    )
}

impl Setup {
    /// ringlb on `driver`, or HAProxy 2.6 when `driver` is "haproxy".
    pub fn start(driver: &'static str, template: &str, backend: SocketAddr) -> Setup {
        if driver == "haproxy" {
            Setup::haproxy(template, backend)
        } else {
            Setup::ringlb(driver, template, backend)
        }
    }

    fn fill(template: &str, pki: &Pki, ports: [u16; 3], backend: SocketAddr) -> String {
        template
            .replace("{H1}", &ports[0].to_string())
            .replace("{H2C}", &ports[1].to_string())
            .replace("{TLS}", &ports[2].to_string())
            .replace("{CRT}", &pki.path("h2.pem").display().to_string())
            .replace("{BE}", &backend.to_string())
            .replace("DIR", &pki.dir.path().display().to_string())
    }

    fn pki() -> Pki {
        let pki = Pki::new();
        pki.server("h2", SNI, &[SNI], Alg::Ecdsa);
        write_rule_files(&pki.dir);
        pki
    }

    pub fn ringlb(driver: &'static str, template: &str, backend: SocketAddr) -> Setup {
        let pki = Setup::pki();
        let cfg = Setup::fill(template, &pki, [0, 0, 0], backend);
        let lb = Ringlb::start(&cfg, driver);
        let a = lb.addrs("fe");
        assert_eq!(a.len(), 3, "three binds:\n{}", lb.output());
        Setup {
            h1: a[0],
            h2c: a[1],
            tls: a[2],
            ca: pki.ca_file.clone(),
            name: driver,
            is_haproxy: false,
            lb: Some(lb),
            hap: None,
            cfg,
            _pki: pki,
        }
    }

    pub fn haproxy(template: &str, backend: SocketAddr) -> Setup {
        let pki = Setup::pki();
        for _ in 0..5 {
            let ports = [free_port(), free_port(), free_port()];
            let cfg = Setup::fill(template, &pki, ports, backend);
            // Haproxy::start waits for one port; the others are bound at the same time.
            let Some(h) = Haproxy::start(&cfg, ports[2]) else {
                continue;
            };
            let addr = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
            return Setup {
                h1: addr(ports[0]),
                h2c: addr(ports[1]),
                tls: addr(ports[2]),
                ca: pki.ca_file.clone(),
                name: "haproxy",
                is_haproxy: true,
                lb: None,
                hap: Some(h),
                cfg,
                _pki: pki,
            };
        }
        panic!("could not start haproxy on free ports");
    }

    pub fn via_h2c(&self) -> Via {
        Via::H2c(self.h2c)
    }

    pub fn via_tls(&self) -> Via {
        Via::Tls(self.tls, self.ca.clone(), SNI.to_string())
    }

    pub fn output(&self) -> String {
        match (&self.lb, &self.hap) {
            (Some(lb), _) => lb.output(),
            (_, Some(h)) => h.lines.lock().unwrap().join("\n"),
            _ => String::new(),
        }
    }

    /// Soft stop: SIGUSR1 to ringlb or HAProxy.
    pub fn soft_stop(&self) {
        let pid = match (&self.lb, &self.hap) {
            (Some(lb), _) => lb.pid(),
            (_, Some(h)) => h.child.id() as i32,
            _ => unreachable!(),
        };
        // SAFETY: kill(2) on our own live child.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGUSR1) }, 0);
    }

    pub fn context(&self) -> String {
        format!(
            "--- {} output ---\n{}\n--- config ---\n{}",
            self.name,
            self.output(),
            self.cfg
        )
    }
}

// curl

pub struct Curl {
    pub version: String,
    pub code: u16,
    pub body: String,
    pub stderr: String,
}

/// `curl` GET `url_path` on `addr` with `args` (`--http2`, `--http2-prior-knowledge`, ...);
/// over TLS when `ca` is given (resolving SNI to the address).
pub fn curl_h2(addr: SocketAddr, tls_ca: Option<&str>, path: &str, args: &[&str]) -> Curl {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sS",
        "-v",
        "--max-time",
        "10",
        "-w",
        "\n%{http_version} %{http_code}",
    ]);
    let url = match tls_ca {
        Some(ca) => {
            cmd.args([
                "--cacert",
                ca,
                "--resolve",
                &format!("{SNI}:{}:127.0.0.1", addr.port()),
            ]);
            format!("https://{SNI}:{}{path}", addr.port())
        }
        None => format!("http://{addr}{path}"),
    };
    let out = cmd.args(args).arg(url).output().expect("run curl");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, last) = stdout.rsplit_once('\n').unwrap_or(("", &stdout));
    let mut it = last.split_whitespace();
    Curl {
        version: it.next().unwrap_or("").to_string(),
        code: it.next().and_then(|c| c.parse().ok()).unwrap_or(0),
        body: body.to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
