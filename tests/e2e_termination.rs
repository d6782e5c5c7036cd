//! Every request ends in one record: the same traffic goes through HAProxy 2.6 (logging with
//! `option httplog` to its stdout) and through `ringlb -d` (one httplog line per request on
//! stderr, serve/record/), and the two lines are compared: the termination state, the
//! status, the bytes sent to the client (each proxy's against what its client received: their
//! heads differ), and the timers (each -1 or >= 0, -1 in the same places as HAProxy's, Ta at
//! least the sum of the others). One test per termination state ringlb produces, on both
//! drivers. Where ringlb and HAProxy differ by design, the test asserts ringlb's value and says
//! why.

mod common;
#[path = "termination/proxies.rs"]
mod proxies;
#[path = "termination/scripts.rs"]
mod scripts;

use common::*;
use proxies::*;
use scripts::*;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

both_drivers!(normal_end, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = get_case("");
    let (h, r) = compare(&case, backend(answer_hello), driver, "--");
    assert_eq!((r.backend.as_str(), r.server.as_str()), ("be", "s1"));
    assert_eq!(r.request, h.request);
    assert_eq!(r.retries, "0");
});

both_drivers!(rule_return_is_lr, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = get_case("    http-request return status 200 content-type text/plain string hi\n");
    let (_, r) = compare(&case, backend(answer_hello), driver, "LR");
    assert_eq!(r.server, "<NOSRV>");
});

both_drivers!(rule_redirect_is_lr, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = get_case("    http-request redirect location /elsewhere\n");
    compare(&case, backend(answer_hello), driver, "LR");
});

both_drivers!(rule_deny_is_pr, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = get_case("    http-request deny\n");
    compare(&case, backend(answer_hello), driver, "PR");
});

both_drivers!(rule_tarpit_is_pt, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = get_case("    timeout tarpit 200ms\n    http-request tarpit\n");
    let (_, r) = compare(&case, backend(answer_hello), driver, "PT");
    assert_eq!(r.status, 500);
    // The tarpit's hold is in Tw, as in HAProxy.
    assert!(r.timers[1] >= 190, "{}", r.line);
});

both_drivers!(client_closed_in_head_is_cr, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = Case {
        sections: listen(""),
        client: |a| {
            let mut c = TcpStream::connect(a).unwrap();
            c.write_all(b"GET /x HTTP/1.1\r\nhost: t\r\n").unwrap();
            thread::sleep(Duration::from_millis(100));
            let _ = c.shutdown(Shutdown::Write);
            let mut got = Vec::new();
            c.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
            let _ = c.read_to_end(&mut got);
            Got {
                received: got.len(),
            }
        },
    };
    compare(&case, backend(answer_hello), driver, "CR");
});

both_drivers!(head_timeout_is_cr_lowercase, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = Case {
        sections: listen("    timeout http-request 300ms\n"),
        client: |a| send_read_all(a, b"GET /x HTTP/1.1\r\nhost: t\r\n"),
    };
    let (_, r) = compare(&case, backend(answer_hello), driver, "cR");
    assert_eq!(r.status, 408);
});

both_drivers!(connect_refused_is_sc, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = get_case("");
    let (h, r) = compare(&case, refused_addr(), driver, "SC");
    assert_eq!(r.status, 503);
    assert_eq!((r.backend.as_str(), r.server.as_str()), ("be", "s1"));
    // HAProxy's default `retries 3`, each refused.
    assert_eq!(r.retries, h.retries, "{}\n{}", h.line, r.line);
});

both_drivers!(redispatch_is_counted, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    // s1 refuses; `balance first` picks it first in both proxies, the redispatch goes to s2.
    let good = backend(answer_hello);
    let sections = listen("")
        .replace(
            "\nbackend be\n",
            "\nbackend be\n    balance first\n    retries 1\n    option redispatch\n",
        )
        .replace("@SRV@\n", &format!("@SRV@\n    server s2 {good}\n"));
    let case = Case {
        sections,
        client: |a| send_read_all(a, GET),
    };
    let (h, r) = compare(&case, refused_addr(), driver, "--");
    // `+1`: one retry, redispatched.
    assert_eq!(h.retries, "+1", "{}", h.line);
    assert_eq!(r.retries, h.retries, "{}\n{}", h.line, r.line);
    assert_eq!(r.server, "s2");
});

/// A server whose accept queue is full: the kernel drops further SYNs, so a connect to it
/// times out (the listener and the connections filling its queue live as long as the test).
fn blackhole() -> SocketAddr {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    s.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    s.listen(0).unwrap();
    let addr = s.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(c) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            fillers.push(c);
        }
    }
    std::mem::forget((s, fillers));
    addr
}

both_drivers!(connect_timeout_is_sc_lowercase, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let sections = listen("").replace(
        "\nbackend be\n",
        "\nbackend be\n    retries 0\n    timeout connect 300ms\n",
    );
    let case = Case {
        sections,
        client: |a| send_read_all(a, GET),
    };
    let (_, r) = compare(&case, blackhole(), driver, "sC");
    assert_eq!(r.status, 503);
    assert!(r.timers[4] >= 290, "{}", r.line);
});

both_drivers!(queue_timeout_is_sq_lowercase, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let sections = listen("")
        .replace("\nbackend be\n", "\nbackend be\n    timeout queue 300ms\n")
        .replace("@SRV@\n", "@SRV@ maxconn 1\n");
    let case = Case {
        sections,
        client: |a| {
            // The first request holds the server's only slot for 1.5 s; the second waits.
            let first = thread::spawn(move || send_read_all(a, GET));
            thread::sleep(Duration::from_millis(200));
            let second = send_read_all(a, GET);
            let _ = first.join();
            second
        },
    };
    let (_, r) = compare(&case, backend(answer_late), driver, "sQ");
    assert_eq!(r.status, 503);
    assert!(r.timers[1] >= 290, "Tw is the time queued: {}", r.line);
});

both_drivers!(no_request_in_time_is_cr_lowercase, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = Case {
        sections: listen("    timeout http-request 300ms\n"),
        client: |a| send_read_all(a, b""),
    };
    let (_, r) = compare(&case, backend(answer_hello), driver, "cR");
    assert_eq!(r.status, 408);
    assert_eq!(r.request, "<BADREQ>");
});

both_drivers!(no_backend_is_logged_as_haproxy, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = Case {
        sections: "frontend fe\n    bind @BIND@\n    use_backend be if { path /nothing }\n\n\
                   backend be\n    server s1 @SRV@\n"
            .to_string(),
        client: |a| send_read_all(a, GET),
    };
    let (_, r) = compare(&case, backend(answer_hello), driver, "SC");
    assert_eq!(r.status, 503);
});

both_drivers!(server_closed_before_head_is_sh, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = get_case("");
    let (_, r) = compare(&case, backend(close_before_head), driver, "SH");
    assert_eq!(r.status, 502);
});

both_drivers!(server_timeout_on_head_is_sh_lowercase, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = Case {
        sections: listen("").replace("\nbackend be\n", "\nbackend be\n    timeout server 300ms\n"),
        client: |a| send_read_all(a, GET),
    };
    let (_, r) = compare(&case, backend(answer_late), driver, "sH");
    assert_eq!(r.status, 504);
});

both_drivers!(bad_response_is_ph, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = get_case("");
    let (_, r) = compare(&case, backend(answer_garbage), driver, "PH");
    assert_eq!(r.status, 502);
});

both_drivers!(server_closed_mid_body_is_sd, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = get_case("");
    let (_, r) = compare(&case, backend(close_mid_body), driver, "SD");
    assert_eq!(r.status, 200);
});

both_drivers!(server_timeout_mid_body_is_sd_lowercase, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = Case {
        sections: listen("").replace("\nbackend be\n", "\nbackend be\n    timeout server 300ms\n"),
        client: |a| send_read_all(a, GET),
    };
    let (_, r) = compare(&case, backend(stall_mid_body), driver, "sD");
    assert_eq!(r.status, 200);
});

both_drivers!(bad_request_is_pr, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = Case {
        sections: listen(""),
        client: |a| send_read_all(a, b"GET /x HTTP/1.1\r\nhost: t\r\nno colon here\r\n\r\n"),
    };
    let (_, r) = compare(&case, backend(answer_hello), driver, "PR");
    assert_eq!(r.status, 400);
});

both_drivers!(client_closed_mid_body_is_cd, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = Case {
        sections: listen(""),
        client: |a| {
            let mut c = TcpStream::connect(a).unwrap();
            c.write_all(GET).unwrap();
            let mut some = vec![0u8; 64 << 10];
            c.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
            let n = c.read(&mut some).unwrap_or(0);
            // Closed with unread bytes: a reset, as a client that gives up.
            drop(c);
            Got { received: HUGE + n }
        },
    };
    let (_, r) = compare(&case, backend(answer_huge), driver, "CD");
    assert_eq!(r.status, 200);
    assert!(r.bytes > 0);
});

both_drivers!(client_timeout_mid_body_is_cd_lowercase, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = Case {
        sections: listen("    timeout client 500ms\n"),
        client: |a| {
            let mut c = TcpStream::connect(a).unwrap();
            c.write_all(GET).unwrap();
            // Reads nothing until the proxy gives up on it.
            thread::sleep(Duration::from_millis(2500));
            drop(c);
            Got { received: HUGE }
        },
    };
    let (_, r) = compare(&case, backend(answer_huge), driver, "cD");
    assert_eq!(r.status, 200);
});

// mode tcp: one record per connection, HAProxy's tcplog layout

/// Sends "hello", reads its echo, closes its side, reads the rest (the echo server's "bye").
fn echo_client(a: SocketAddr) -> Got {
    let mut c = TcpStream::connect(a).unwrap();
    c.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    c.write_all(b"hello").unwrap();
    let mut echo = [0u8; 5];
    c.read_exact(&mut echo).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    let _ = c.read_to_end(&mut rest);
    Got {
        received: echo.len() + rest.len(),
    }
}

both_drivers!(tcp_normal_end, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let echo = TcpEchoBackend::start();
    let case = Case {
        sections: tcp(&listen("")),
        client: echo_client,
    };
    let (h, r) = compare(&case, echo.addr, driver, "--");
    assert_eq!(r.bytes, h.bytes, "{}\n{}", h.line, r.line);
    assert_eq!((r.backend.as_str(), r.server.as_str()), ("be", "s1"));
});

both_drivers!(tcp_connect_refused_is_sc, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = Case {
        sections: tcp(&listen("")),
        client: |a| send_read_all(a, b"hello"),
    };
    let (h, r) = compare(&case, refused_addr(), driver, "SC");
    assert_eq!(r.retries, h.retries, "{}\n{}", h.line, r.line);
});

both_drivers!(tcp_client_timeout_is_cd_lowercase, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let echo = TcpEchoBackend::start();
    let case = Case {
        sections: tcp(&listen("    timeout client 300ms\n")),
        client: |a| send_read_all(a, b""),
    };
    compare(&case, echo.addr, driver, "cD");
});

both_drivers!(client_closed_mid_upload_is_cd, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = Case {
        sections: listen(""),
        client: |a| {
            let mut c = TcpStream::connect(a).unwrap();
            c.write_all(POST_PART).unwrap();
            thread::sleep(Duration::from_millis(200));
            let _ = c.shutdown(Shutdown::Write);
            let mut got = Vec::new();
            c.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
            let _ = c.read_to_end(&mut got);
            Got {
                received: got.len(),
            }
        },
    };
    compare(&case, backend(drain), driver, "CD");
});

both_drivers!(
    upload_stalled_under_timeout_server_is_sh_lowercase,
    |driver| {
        if !haproxy_or_skip() {
            return;
        }
        let case = Case {
            sections: listen("")
                .replace("\nbackend be\n", "\nbackend be\n    timeout server 300ms\n"),
            client: |a| {
                let mut c = TcpStream::connect(a).unwrap();
                c.write_all(POST_PART).unwrap();
                let mut got = Vec::new();
                c.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                let _ = c.read_to_end(&mut got);
                Got {
                    received: got.len(),
                }
            },
        };
        let (_, r) = compare(&case, backend(drain), driver, "sH");
        assert_eq!(r.status, 504);
    }
);

// ringlb sends the head on before it reads the body, so a bad chunk size in the body is seen
// in the data phase, after the connect (`PD`). HAProxy 2.6 parses the chunk framing that came
// with the head before anything goes to a server, and refuses the request (`PR`, no server).
both_drivers!(bad_chunked_upload_is_pd, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = Case {
        sections: listen(""),
        client: |a| {
            send_read_all(
                a,
                b"POST /up HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nabc\r\n",
            )
        },
    };
    let (_, r) = compare_differing(&case, backend(drain), driver, "PR", "PD");
    assert_eq!(r.status, 400);
    assert_eq!(r.server, "s1");
});

both_drivers!(response_deny_is_ph, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = get_case("    http-response deny\n");
    let r = compare_response_rule(&case, backend(answer_hello), driver, "PH");
    assert_eq!(r.server, "s1");
});

both_drivers!(response_return_is_lh, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = get_case("    http-response return status 202 content-type text/plain string ok\n");
    let r = compare_response_rule(&case, backend(answer_hello), driver, "LH");
    assert_eq!(r.status, 202);
});

// Without -d no record is printed.
both_drivers!(records_print_only_with_d, |driver| {
    let server = backend(answer_hello);
    let case = get_case("");
    let cfg = config(&case, "127.0.0.1:0", server);
    let lb = Ringlb::start(&cfg, driver);
    let seen = send_read_all(lb.addr("fe"), GET);
    assert!(seen.received >= HELLO.len());
    // The request has ended; give a line time to come, if one were coming.
    thread::sleep(Duration::from_millis(200));
    let out = lb.output();
    assert!(
        !out.lines().any(|l| parse_line(l).is_some()),
        "no -d, yet a record was printed:\n{out}"
    );
});

// Each request of a keep-alive connection ends in its own record, with its own bytes.
both_drivers!(each_keep_alive_request_has_a_record, |driver| {
    let server = backend(answer_hello);
    let case = get_case("");
    let cfg = config(&case, "127.0.0.1:0", server);
    let dir = TempDir::new();
    let path = dir.write("ringlb.cfg", &cfg);
    let lb = Ringlb::start_files_args(dir, &[path], &["-d".to_string()], driver, &cfg);
    let mut c = Client::connect(lb.addr("fe"));
    let first = c.get("/one");
    let second = c.get("/two");
    assert_eq!((first.status, second.status), (200, 200));
    let lines = || lb.output().lines().map(String::from).collect::<Vec<_>>();
    let one = wait_line("ringlb", 0, lines);
    let two = wait_line("ringlb", 1, lines);
    for (l, path) in [(&one, "/one"), (&two, "/two")] {
        assert_eq!(l.state, "--", "{}", l.line);
        assert_eq!(l.status, 200, "{}", l.line);
        assert!(l.request.contains(path), "{}", l.line);
        assert_eq!(l.bytes, HELLO.len() as u64, "{}", l.line);
        timers_sane(l, &l.line, true);
    }
});
