//! Every example config must load; every config in configs/invalid must fail with the errors its
//! `# expect: LINE: SUBSTRING` comments announce (warnings count too, e.g. the U+00A0 one), and
//! with nothing else when it says `# expect-exactly`.

use ringlb::config::{self, model, Diagnostic, Severity};
use std::path::{Path, PathBuf};

fn cfgs(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "cfg"))
        .collect();
    v.sort();
    v
}

fn show(d: &[Diagnostic]) -> String {
    d.iter().map(|d| format!("  {d}\n")).collect()
}

#[test]
fn example_configs_load() {
    let files = cfgs("configs");
    assert!(files.len() >= 4);
    let certs = CertDir::new();
    for f in files {
        let f = certs.localize(f);
        match config::load(std::slice::from_ref(&f)) {
            Ok(l) => {
                let noisy: Vec<_> = l
                    .warnings
                    .iter()
                    .filter(|w| w.severity == Severity::Error)
                    .collect();
                assert!(noisy.is_empty());
            }
            Err(d) => panic!("{} should load:\n{}", f.display(), show(&d)),
        }
    }
}

/// The seed's https bind names `./key.pem` and `./key.ca`, relative to where ringlb runs; the
/// loader here runs in the crate root. A config with such a bind is loaded as a copy whose
/// `global` section first sets `crt-base`/`ca-base` to a directory where
/// `scripts/make-certs.sh` made the files: the bind line stays as written.
struct CertDir(PathBuf);

impl CertDir {
    fn new() -> CertDir {
        let dir = std::env::temp_dir().join(format!("ringlb-config-load-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/make-certs.sh");
        let out = std::process::Command::new("bash")
            .arg(&script)
            .arg(&dir)
            .output()
            .expect("run scripts/make-certs.sh");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        CertDir(dir)
    }

    fn localize(&self, f: PathBuf) -> PathBuf {
        let text = std::fs::read_to_string(&f).unwrap();
        if !text.contains("ssl crt ./") {
            return f;
        }
        let base = self.0.display();
        let text = text.replacen(
            "global\n",
            &format!("global\n        crt-base {base}\n        ca-base {base}\n"),
            1,
        );
        let copy = self.0.join(f.file_name().unwrap());
        std::fs::write(&copy, text).unwrap();
        copy
    }
}

impl Drop for CertDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn expectations(text: &str) -> Vec<(u32, String)> {
    text.lines()
        .filter_map(|l| l.split_once("# expect:").map(|(_, r)| r.trim()))
        .filter_map(|r| {
            let (line, sub) = r.split_once(':')?;
            Some((line.trim().parse().ok()?, sub.trim().to_string()))
        })
        .collect()
}

#[test]
fn invalid_configs_fail_with_expected_messages() {
    let files = cfgs("configs/invalid");
    assert!(files.len() >= 15);
    for f in files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with("maxconn-fd-limit") && config::validate::nofile_limit() >= 200_100 {
            eprintln!("skipping {name}: RLIMIT_NOFILE is high enough for maxconn 100000");
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{name}: {e}"));
        let expect = expectations(&text);
        assert!(!expect.is_empty(), "{name} has no '# expect:' lines");
        let diags = match config::load(std::slice::from_ref(&f)) {
            Ok(_) => panic!("{name} should fail to load"),
            Err(d) => d,
        };
        for (line, sub) in &expect {
            assert!(
                diags
                    .iter()
                    .any(|d| d.line == *line && d.message.contains(sub.as_str())),
                "{name}: expected at line {line}: {sub}\ngot:\n{}",
                show(&diags)
            );
        }
        // `# expect-exactly`: no other message, warnings included (no knock-on messages).
        if text.lines().any(|l| l.trim() == "# expect-exactly") {
            assert_eq!(
                diags.len(),
                expect.len(),
                "{name}: expected exactly the '# expect:' messages, got:\n{}",
                show(&diags)
            );
        }
        // Sorted by line within the file.
        assert!(
            diags.windows(2).all(|w| w[0].line <= w[1].line),
            "{name}: not sorted\n{}",
            show(&diags)
        );
    }
}

#[test]
fn display_format() {
    let d = Diagnostic {
        severity: Severity::Warning,
        file: "a.cfg".into(),
        line: 3,
        message: "m".into(),
    };
    assert_eq!(d.to_string(), "a.cfg:3: warning: m");
    let d = Diagnostic {
        severity: Severity::Error,
        ..d
    };
    assert_eq!(d.to_string(), "a.cfg:3: m");
}

fn load_ok(text: &str) -> config::Loaded {
    config::load_str("t.cfg", text).unwrap_or_else(|d| panic!("should load:\n{}", show(&d)))
}

#[test]
fn defaults_inheritance_and_listen() {
    let l = load_ok(
        "global\n maxconn 500\n tune.bufsize 32768\n cpu-map auto:1/1-2 0-1\n nbthread 2\n\
         defaults base\n mode http\n timeout connect 1s\n timeout client 2s\n timeout server 3s\n maxconn 100\n\
         default-server inter 500ms fall 4\n option http-server-close\n\
         defaults other\n timeout client 9s\n\
         frontend web from base\n bind 127.0.0.1:0\n default_backend app\n\
         backend app from base\n option httpclose\n retries 5\n server a 127.0.0.1:9001 check\n\
         server b 127.0.0.1:9002 check inter 1s weight 0 backup\n\
         listen both\n bind 127.0.0.1:0\n server c 127.0.0.1:9003 disabled\n",
    );
    let m = &l.model;
    assert_eq!(m.global.maxconn, 500);
    assert_eq!(m.global.bufsize, 32768);
    assert_eq!(m.global.maxhdr, model::DEFAULT_MAXHDR);
    assert_eq!(m.global.cpu_map.len(), 2);
    let web = &m.frontends[0];
    assert_eq!(web.mode, model::Mode::Http);
    assert_eq!(web.maxconn, 100);
    assert_eq!(web.conn_mode, model::HttpConnMode::ServerClose);
    assert_eq!(web.default_backend, Some(model::BackendId::new(0)));
    let app = &m.backends[0];
    assert_eq!(app.conn_mode, model::HttpConnMode::Close);
    assert_eq!(app.retries, 5);
    assert_eq!(app.timeouts.server, Some(std::time::Duration::from_secs(3)));
    let ca = app.servers[0].check.unwrap_or_else(|| panic!("check"));
    assert_eq!((ca.inter.as_millis(), ca.fall, ca.rise), (500, 4, 2));
    let cb = app.servers[1].check.unwrap_or_else(|| panic!("check"));
    assert_eq!(
        (cb.inter.as_millis(), cb.fastinter.as_millis()),
        (1000, 1000)
    );
    assert!(app.servers[1].backup && app.servers[1].weight == 0);
    // `listen both` takes the last defaults section ("other"): mode tcp, no connect timeout.
    let both = &m.frontends[1];
    assert_eq!(both.mode, model::Mode::Tcp);
    assert_eq!(both.default_backend, Some(model::BackendId::new(1)));
    assert_eq!(m.backends[1].retries, model::DEFAULT_RETRIES);
    assert!(m.backends[1].servers[0].disabled);
    assert!(l
        .warnings
        .iter()
        .any(|w| w.message.contains("missing timeouts for listen 'both'")));
}

#[test]
fn conditions_resolve_to_acl_indexes() {
    let l = load_ok(
        "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n\
         frontend f\n bind 127.0.0.1:0\n acl a path_beg /a\n acl a path_beg /b\n acl h hdr(Host) -i X.com\n\
         use_backend b1 if a !h || { method POST } METH_GET\n use_backend b2 unless h\n default_backend b1\n\
         backend b1\n balance hdr(Host)\n server s 127.0.0.1:1\nbackend b2\n balance uri whole\n\
         frontend b1\n bind 127.0.0.1:0\n default_backend b1\n",
    );
    let f = &l.model.frontends[0];
    assert_eq!(f.switching.len(), 2);
    let c = f.switching[0]
        .cond
        .as_ref()
        .unwrap_or_else(|| panic!("cond"));
    assert_eq!(c.any_of.len(), 2);
    assert_eq!(f.acls[c.any_of[0][0].acl].name, "a");
    assert_eq!(f.acls[c.any_of[0][0].acl].matchers.len(), 2);
    assert!(c.any_of[0][1].negate);
    assert_eq!(f.acls[c.any_of[1][0].acl].name, "");
    assert_eq!(f.acls[c.any_of[1][1].acl].name, "METH_GET");
    assert!(f.switching[1].cond.as_ref().is_some_and(|c| c.unless));
    assert_eq!(f.switching[1].backend, model::BackendId::new(1));
    assert_eq!(
        l.model.backends[0].balance,
        model::Balance::Hdr("host".into())
    );
    assert_eq!(
        l.model.backends[1].balance,
        model::Balance::Uri { whole: true }
    );
}

#[test]
fn directory_loads_cfg_files_in_order() {
    let dir = std::env::temp_dir().join(format!("ringlb-cfgdir-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let write = |n: &str, t: &str| std::fs::write(dir.join(n), t).unwrap_or_else(|e| panic!("{e}"));
    write(
        "20-proxies.cfg",
        "frontend f\n bind 127.0.0.1:0\n default_backend b\nbackend b\n server s 127.0.0.1:1\n",
    );
    write(
        "10-defaults.cfg",
        "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n",
    );
    write("ignored.txt", "garbage\n");
    let r = config::load(std::slice::from_ref(&dir));
    let _ = std::fs::remove_dir_all(&dir);
    let l = r.unwrap_or_else(|d| panic!("{}", show(&d)));
    assert_eq!(l.model.frontends[0].mode, model::Mode::Http);
}

#[test]
fn missing_file_is_reported() {
    let d = config::load(&[PathBuf::from("/nonexistent/ringlb.cfg")])
        .err()
        .unwrap_or_default();
    assert_eq!(
        d[0].to_string(),
        "/nonexistent/ringlb.cfg: configuration file does not exist",
        "{}",
        show(&d)
    );
}

#[test]
fn junk_never_panics() {
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let words = [
        "global",
        "defaults",
        "frontend",
        "backend",
        "listen",
        "bind",
        "server",
        "acl",
        "use_backend",
        "if",
        "unless",
        "{",
        "}",
        "!",
        "||",
        "\"",
        "'",
        "\\",
        "#",
        "${X",
        "$",
        "maxconn",
        "99999999999999999999",
        "-1",
        ":80",
        "*:0",
        "[::1]:0",
        "hdr(host)",
        "path_reg",
        "(",
        "-m",
        "-i",
        "timeout",
        "client",
        "option",
        "\u{a0}",
        "\u{ff4d}",
        "\n",
        "a",
        "b",
        "127.0.0.1:1",
        "default_backend",
        "mode",
        "http",
        "tcp",
        "balance",
        "from",
        "cpu-map",
        "log",
    ];
    for _ in 0..300 {
        let n = (next() % 200) as usize;
        let text: String = (0..n)
            .map(|_| {
                let w = words[(next() % words.len() as u64) as usize];
                if next() % 4 == 0 {
                    format!("{w}\n")
                } else {
                    format!("{w} ")
                }
            })
            .collect();
        let _ = config::load_str("fuzz.cfg", &text);
    }
    let bytes: Vec<u8> = (0..5000).map(|_| (next() % 256) as u8).collect();
    let _ = config::load_str("bin.cfg", &String::from_utf8_lossy(&bytes));
    let _ = config::load_str("empty.cfg", "");
    let _ = config::load_str(
        "long.cfg",
        &format!("global\n maxconn {}\n", "9".repeat(10_000)),
    );
}

#[test]
fn errorfile_may_be_as_large_as_tune_bufsize() {
    let dir = std::env::temp_dir().join(format!("ringlb-errorfile-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let page = |name: &str, len: usize| {
        let head = "HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/html\r\n\r\n";
        let p = dir.join(name);
        std::fs::write(&p, format!("{head}{}", "x".repeat(len - head.len())))
            .unwrap_or_else(|e| panic!("{e}"));
        p.display().to_string()
    };
    let (fits, over) = (page("fits.http", 16384), page("over.http", 16385));
    let cfg = |file: &str, global: &str| {
        format!(
            "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n\
             frontend f\n bind 127.0.0.1:0\n errorfile 503 {file}\n default_backend b\n\
             backend b\n server s 127.0.0.1:1\n{global}"
        )
    };
    assert!(config::load_str("t.cfg", &cfg(&fits, "")).is_ok());
    let d = config::load_str("t.cfg", &cfg(&over, ""))
        .err()
        .unwrap_or_default();
    assert_eq!(
        d.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
        vec![format!(
            "t.cfg:8: errorfile '{over}' is larger than tune.bufsize (16384 bytes); an error page \
             must fit in one buffer, as in HAProxy (shorten the page or raise tune.bufsize)"
        )]
    );
    // The bound is the final tune.bufsize, even when the global section comes last.
    let raised = config::load_str("t.cfg", &cfg(&over, "global\n tune.bufsize 32768\n"));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        raised.is_ok(),
        "{}",
        show(&raised.err().unwrap_or_default())
    );
}

#[test]
fn a_frontend_whose_bind_failed_is_still_checked() {
    // The failed bind is one message; the frontend's other mistakes are still found, and
    // "has no 'bind' line" is not added.
    let d = config::load_str(
        "t.cfg",
        "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n\
         frontend f\n bind 127.0.0.1\n use_backend b if nope\n default_backend b\n\
         backend b\n server s 127.0.0.1:1\n",
    )
    .err()
    .unwrap_or_default();
    let got: Vec<String> = d.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        got,
        vec![
            "t.cfg:7: bind: '127.0.0.1': a bind address needs a port, e.g. '*:80' or '127.0.0.1:8080'",
            "t.cfg:8: use_backend: no such ACL 'nope'; declare it first, e.g. 'acl nope path_beg /x'",
        ]
    );
}
