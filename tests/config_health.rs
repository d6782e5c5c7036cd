//! Health-check configuration: what loads, and the file:line errors for bad input.

use ringlb::config::model::{CheckKind, ExpectTest, OnError, TcpStep};
use ringlb::config::{load_str, Severity};

fn cfg(backend: &str) -> String {
    format!(
        "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n\
         backend app\n{backend}\n"
    )
}

/// The first error for `backend` lines, as `file:line: message`.
fn error(backend: &str) -> String {
    match load_str("h.cfg", &cfg(backend)) {
        Ok(_) => panic!("should fail:\n{backend}"),
        Err(d) => d
            .iter()
            .find(|d| d.severity == Severity::Error)
            .map(|d| d.to_string())
            .unwrap_or_default(),
    }
}

#[test]
fn seed_style_checks_load_with_the_extension_warning() {
    let l = load_str(
        "h.cfg",
        &cfg(
            " option httpchk GET /status\n http-check expect status 200 string OK\n \
              default-server inter 100 rise 2 fall 5\n server a 127.0.0.1:1 check\n",
        ),
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    let be = &l.model.backends[0];
    assert_eq!(be.check.kind, CheckKind::Http);
    assert_eq!(be.check.expect.len(), 2);
    assert!(matches!(be.check.expect[1].test, ExpectTest::String(ref s) if s == "OK"));
    let c = be.servers[0].check.unwrap_or_else(|| panic!("check"));
    assert_eq!((c.rise, c.fall, c.inter.as_millis()), (2, 5, 100));
    assert!(l
        .warnings
        .iter()
        .any(|w| w.line == 8 && w.message.contains("HAProxy 2.6 refuses this")));
}

#[test]
fn tcp_check_sequences_and_observe_load() {
    let l = load_str(
        "h.cfg",
        &cfg(" option tcp-check\n tcp-check connect port 6379\n tcp-check send PING\\r\\n\n \
              tcp-check expect string +PONG\n server a 127.0.0.1:1 check observe layer4 error-limit 5 on-error sudden-death slowstart 10s\n"),
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    let be = &l.model.backends[0];
    assert_eq!(be.check.kind, CheckKind::TcpCheck);
    assert!(matches!(be.check.tcp_steps[0], TcpStep::Connect(c) if c.port == Some(6379)));
    assert!(matches!(&be.check.tcp_steps[1], TcpStep::Send(b) if b == b"PING\r\n"));
    let o = be.servers[0]
        .check
        .and_then(|c| c.observe)
        .unwrap_or_else(|| panic!("observe"));
    assert_eq!(
        (o.layer7, o.error_limit, o.on_error),
        (false, 5, OnError::SuddenDeath)
    );
    assert_eq!(be.servers[0].slowstart.map(|d| d.as_secs()), Some(10));
}

#[test]
fn bad_health_input_is_a_file_line_error() {
    let cases = [
        (
            " http-check expect rstring ([a-z\n server a 127.0.0.1:1 check",
            "h.cfg:7:",
            "invalid regex '([a-z'",
        ),
        (
            " server a 127.0.0.1:1 check inter 0",
            "h.cfg:7:",
            "must be above 0",
        ),
        (
            " server a 127.0.0.1:1 check inter 100d",
            "h.cfg:7:",
            "too large",
        ),
        (
            " server a 127.0.0.1:1 check inter 2d",
            "h.cfg:7:",
            "between 1ms and 24h",
        ),
        (
            " server a 127.0.0.1:1 check fastinter 100us",
            "h.cfg:7:",
            "between 1ms and 24h",
        ),
        (
            " server a 127.0.0.1:1 check addr no-such-host.invalid",
            "h.cfg:7:",
            "cannot resolve",
        ),
        (
            " server a 127.0.0.1:1 inter 2s",
            "h.cfg:7:",
            "has no 'check'",
        ),
        (
            " server a 127.0.0.1:1 observe layer7",
            "h.cfg:7:",
            "has no 'check'",
        ),
        (
            " server a 127.0.0.1:1 check on-error explode",
            "h.cfg:7:",
            "expected fastinter",
        ),
        (
            " http-check expect status 2xx",
            "h.cfg:7:",
            "not a status code",
        ),
        (
            " http-check expect stats 200",
            "h.cfg:7:",
            "did you mean 'status'",
        ),
        (
            " http-check disable-on-404",
            "h.cfg:7:",
            "only 'http-check send'",
        ),
        (" tcp-check send-binary 0g", "h.cfg:7:", "hexadecimal"),
    ];
    for (lines, at, what) in cases {
        let e = error(lines);
        assert!(e.starts_with(at) && e.contains(what), "{lines:?}: got {e}");
    }
}

#[test]
fn observe_layer7_needs_mode_http_and_spread_checks_is_bounded() {
    let text = "defaults\n mode tcp\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n\
                backend app\n server a 127.0.0.1:1 check observe layer7\n";
    let e = load_str("h.cfg", text).err().unwrap_or_default();
    assert!(
        e.iter()
            .any(|d| d.line == 7 && d.message.contains("needs 'mode http'")),
        "{e:?}"
    );
    let e = load_str("h.cfg", "global\n spread-checks 80\n")
        .err()
        .unwrap_or_default();
    assert!(
        e.iter()
            .any(|d| d.line == 2 && d.message.contains("between 0 and 50")),
        "{e:?}"
    );
}
