//! Unit tests of the record: the state each cause maps to, timers, the printed line.

use super::*;
use crate::config::model::Model;
use crate::http::body::BodyError;
use crate::io::IoFail;
use crate::worker::connect::ConnectError;
use std::io;
use std::time::{Duration, UNIX_EPOCH};

fn io_err() -> IoFail {
    IoFail::Io(io::Error::from(io::ErrorKind::ConnectionReset))
}

fn codes(states: &[TermState]) -> Vec<String> {
    states.iter().map(|s| s.to_string()).collect()
}

#[test]
fn display_is_haproxys_two_letters() {
    assert_eq!(TermState::NORMAL.to_string(), "--");
    assert_eq!(
        TermState::new(By::ClientTimeout, Phase::Data).to_string(),
        "cD"
    );
    assert_eq!(
        TermState::new(By::ServerTimeout, Phase::Headers).to_string(),
        "sH"
    );
    assert_eq!(TermState::new(By::Proxy, Phase::Request).to_string(), "PR");
    let all_by = [
        By::Client,
        By::Server,
        By::Proxy,
        By::Local,
        By::Resource,
        By::Internal,
        By::Down,
        By::Killed,
        By::ClientTimeout,
        By::ServerTimeout,
        By::Normal,
    ];
    let letters: String = all_by.iter().map(|b| b.letter()).collect();
    assert_eq!(letters, "CSPLRIDKcs-");
    let all_phase = [
        Phase::Request,
        Phase::Queue,
        Phase::Connect,
        Phase::Headers,
        Phase::Data,
        Phase::Last,
        Phase::Tarpit,
        Phase::Done,
    ];
    let letters: String = all_phase.iter().map(|p| p.letter()).collect();
    assert_eq!(letters, "RQCHDLT-");
}

#[test]
fn head_causes() {
    let got = [
        head_read_failed(&io_err()),
        head_read_failed(&IoFail::Timeout),
        BAD_REQUEST,
    ];
    assert_eq!(codes(&got), ["CR", "cR", "PR"]);
}

#[test]
fn connect_causes() {
    let got = [
        connect_failed(ConnectError::NoServer),
        connect_failed(ConnectError::Failed),
        connect_failed(ConnectError::TimedOut),
        connect_failed(ConnectError::QueueTimeout),
    ];
    assert_eq!(codes(&got), ["SC", "SC", "sC", "sQ"]);
}

#[test]
fn body_causes() {
    let errors = [
        BodyError::Client,
        BodyError::ClientStalled,
        BodyError::Server,
        BodyError::ServerTimeout,
        BodyError::Bad(400),
    ];
    let up: Vec<_> = errors.iter().map(request_body_failed).collect();
    assert_eq!(codes(&up), ["CD", "cH", "SH", "sH", "PD"]);
    let stalled = [upload_stalled(true), upload_stalled(false)];
    assert_eq!(codes(&stalled), ["sH", "cH"]);
    let down: Vec<_> = errors.iter().map(response_body_failed).collect();
    assert_eq!(codes(&down), ["CD", "cD", "SD", "sD", "SD"]);
    let writes = [
        client_write_failed(&io_err(), Phase::Data),
        client_write_failed(&IoFail::Timeout, Phase::Data),
        client_write_failed(&io_err(), Phase::Headers),
    ];
    assert_eq!(codes(&writes), ["CD", "cD", "CH"]);
}

#[test]
fn rule_causes() {
    let got = [
        rule_answered(RuleAnswer::Deny, false),
        rule_answered(RuleAnswer::Tarpit, false),
        rule_answered(RuleAnswer::Local, false),
        rule_answered(RuleAnswer::Deny, true),
        rule_answered(RuleAnswer::Local, true),
        rule_answered(RuleAnswer::Internal, false),
    ];
    assert_eq!(codes(&got), ["PR", "PT", "LR", "PH", "LH", "IR"]);
}

fn peer() -> SocketAddr {
    "127.0.0.1:40000".parse().unwrap()
}

#[test]
fn first_cause_wins_and_none_is_normal() {
    let mut rec = RequestRecord::new(FrontendId::new(0), peer(), Marks::new(Instant::now()));
    assert_eq!(rec.state(), TermState::NORMAL);
    rec.end(connect_failed(ConnectError::Failed));
    rec.end(client_write_failed(&io_err(), Phase::Connect));
    assert_eq!(rec.state().to_string(), "SC");
}

#[test]
fn timers_of_a_full_exchange() {
    let t0 = Instant::now();
    let at = |ms: u64| Some(t0 + Duration::from_millis(ms));
    let marks = Marks {
        idle_from: t0,
        handshake: Duration::from_millis(3),
        start: at(5),
        head: at(7),
        queued: true,
        slot: at(10),
        connected: at(14),
        response: at(30),
        end: at(45),
    };
    let t = marks.timers();
    assert_eq!(
        (t.th, t.ti, t.treq, t.tw, t.tc, t.tr, t.ta),
        (3, 5, 2, 3, 4, 16, 40)
    );
    // Tq and Tt include the TLS handshake (Th), as in HAProxy.
    assert_eq!((t.tq, t.tt), (10, 48));
}

#[test]
fn timers_not_reached_are_minus_one() {
    let t0 = Instant::now();
    let mut marks = Marks::new(t0);
    marks.start = Some(t0);
    marks.head = Some(t0 + Duration::from_millis(1));
    marks.end = Some(t0 + Duration::from_millis(3));
    // A denied request: never queued, never connected.
    let t = marks.timers();
    assert_eq!((t.treq, t.tw, t.tc, t.tr, t.ta), (1, -1, -1, -1, 3));
    // A request whose head never completed.
    marks.head = None;
    let t = marks.timers();
    assert_eq!((t.treq, t.tq, t.tw), (-1, -1, -1));
    assert!(t.ta >= 0);
}

#[test]
fn log_dates_are_civil() {
    let t = UNIX_EPOCH + Duration::from_millis(1_796_235_458_123);
    assert_eq!(log_date(t), "02/Dec/2026:18:17:38.123");
    assert_eq!(log_date(UNIX_EPOCH), "01/Jan/1970:00:00:00.000");
    assert_eq!(line::civil_from_days(11_016), (2000, 2, 29));
}

fn model() -> Model {
    let cfg = "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    \
               timeout server 1s\nfrontend www\n    bind 127.0.0.1:0\n    default_backend app\n\
               backend app\n    server s1 127.0.0.1:1\n    server s2 127.0.0.1:2\n\
               listen db\n    mode tcp\n    bind 127.0.0.1:0\n    server pg1 127.0.0.1:3\n";
    match crate::config::load_str("record.cfg", cfg) {
        Ok(l) => l.model,
        Err(d) => panic!("{d:?}"),
    }
}

/// A record 1 ms into each phase of a proxied request.
fn proxied() -> RequestRecord {
    let t0 = Instant::now();
    let at = |ms: u64| Some(t0 + Duration::from_millis(ms));
    let marks = Marks {
        idle_from: t0,
        handshake: Duration::ZERO,
        start: at(1),
        head: at(2),
        queued: true,
        slot: at(3),
        connected: at(4),
        response: at(5),
        end: at(6),
    };
    RequestRecord {
        backend: Some(BackendId::new(0)),
        server: Some(ServerId::new(1)),
        status: Some(200),
        bytes_out: 171,
        retries: 1,
        redispatched: true,
        request_line: Some("GET /x HTTP/1.1".into()),
        ..RequestRecord::new(FrontendId::new(0), peer(), marks)
    }
}

#[test]
fn httplog_line_is_haproxys_layout() {
    let m = model();
    let date = UNIX_EPOCH + Duration::from_millis(1_796_235_458_123);
    assert_eq!(
        proxied().httplog(&m, date),
        "127.0.0.1:40000 [02/Dec/2026:18:17:38.123] www app/s2 1/1/1/1/5 200 171 - - ---- \
         0/0/0/0/+1 0/0 \"GET /x HTTP/1.1\""
    );
    // Denied in the frontend: no backend yet, no server, no request line kept.
    let mut denied = RequestRecord::new(FrontendId::new(0), peer(), Marks::new(Instant::now()));
    denied.end(rule_answered(RuleAnswer::Deny, false));
    denied.status = Some(403);
    let line = denied.httplog(&m, date);
    assert!(line.contains(" www www/<NOSRV> -1/-1/-1/-1/"), "{line}");
    assert!(
        line.ends_with(" 403 0 - - PR-- 0/0/0/0/0 0/0 \"<BADREQ>\""),
        "{line}"
    );
}

#[test]
fn tcplog_line_is_haproxys_layout() {
    let m = model();
    let date = UNIX_EPOCH + Duration::from_millis(1_796_235_458_123);
    let t0 = Instant::now();
    let marks = Marks {
        start: Some(t0),
        head: Some(t0),
        queued: true,
        slot: Some(t0 + Duration::from_millis(2)),
        connected: Some(t0 + Duration::from_millis(5)),
        end: Some(t0 + Duration::from_millis(5012)),
        ..Marks::new(t0)
    };
    let rec = RequestRecord {
        mode: Mode::Tcp,
        backend: Some(BackendId::new(1)),
        server: Some(ServerId::new(0)),
        bytes_out: 2048,
        ..RequestRecord::new(FrontendId::new(1), peer(), marks)
    };
    assert_eq!(
        rec.tcplog(&m, date),
        "127.0.0.1:40000 [02/Dec/2026:18:17:38.123] db db/pg1 2/3/5012 2048 -- 0/0/0/0/0 0/0"
    );
}
