//! Differential fuzzing against HAProxy 2.6: a seeded generator (tests/fuzz_vs_haproxy/gen.rs)
//! makes a few thousand requests (valid ones, smuggling-style templates, head mutations), and
//! the same bytes go through HAProxy and through ringlb (both drivers), each proxy with its own
//! recording backend. The test fails when
//!
//! - the backend received a request the client got no answer for, or answers came back out of
//!   order or for another connection (a smuggled request, a desynchronised connection);
//! - a body the backend received is neither the body the client meant nor a prefix of the bytes
//!   behind that request's head (a body boundary the proxy moved);
//! - the backend had to guess the framing of what a proxy forwarded (CL and TE together, ...);
//! - ringlb forwards a request HAProxy refuses, or refuses one HAProxy forwards, unless
//!   `classify` says why: a case README "How ringlb differs" documents
//!   (`DOCUMENTED_STRICTER`, asserted to be refused), or a fix still pending (`PENDING_FIXES`).
//!
//! Deterministic: `FUZZ_SEED=N` (default below) picks the requests, `FUZZ_CONNS=N` how many
//! connections; the seed is printed on failure. `FUZZ_STRICT=1` lets no pending fix explain a
//! difference (what the fixes in progress still have to change); `FUZZ_SHOW=3,17` prints
//! those connections in full. HAProxy missing: skipped, or a failure under CI.

mod common;

#[path = "fuzz_vs_haproxy/classify.rs"]
mod classify;
#[path = "fuzz_vs_haproxy/client.rs"]
mod client;
#[path = "fuzz_vs_haproxy/gen.rs"]
mod gen;
#[path = "fuzz_vs_haproxy/recorder.rs"]
mod recorder;
#[path = "fuzz_vs_haproxy/templates.rs"]
mod templates;

use classify::{reasons, DOCUMENTED_STRICTER, PENDING_FIXES};
use client::{exchange, lossy, Exchange};
use common::*;
use gen::{Case, Kind};
use recorder::{Record, Recorder};
use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

const DEFAULT_SEED: u64 = 0x5eed_2026;
/// About 2.3 requests each: a few thousand requests per run.
const DEFAULT_CONNS: usize = 1200;
/// Client connections in flight at once, per proxy.
const PARALLEL: usize = 8;

/// The same for both proxies; short timeouts so a stuck request costs little.
const PROXY_CFG: &str = "global
    maxconn 1000

defaults
    mode http
    timeout connect 2s
    timeout client 3s
    timeout server 3s
    timeout http-request 3s

frontend fe
    bind 127.0.0.1:PORT
    default_backend be

backend be
    server s1 SERVER
";

fn env_number(name: &str, default: u64) -> u64 {
    let Ok(v) = std::env::var(name) else {
        return default;
    };
    let parsed = match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => v.parse(),
    };
    parsed.unwrap_or_else(|_| panic!("{name}={v} is not a number"))
}

/// `FUZZ_STRICT=1`: pending fixes explain nothing (lists what they still have to change).
fn strict() -> bool {
    std::env::var_os("FUZZ_STRICT").is_some()
}

/// The pending fixes among a request's reasons (none under FUZZ_STRICT).
fn pending_reasons(why: &[&'static str]) -> Vec<&'static str> {
    if strict() {
        return Vec::new();
    }
    why.iter()
        .copied()
        .filter(|w| PENDING_FIXES.contains(w))
        .collect()
}

fn seed() -> u64 {
    env_number("FUZZ_SEED", DEFAULT_SEED)
}

fn cases() -> &'static Vec<Case> {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| {
        gen::generate(
            seed(),
            env_number("FUZZ_CONNS", DEFAULT_CONNS as u64) as usize,
        )
    })
}

/// What one proxy did with the cases: the client's side and the backend's.
#[derive(Clone)]
struct Run {
    exchanges: Vec<Exchange>,
    records: Vec<Record>,
}

fn run_cases(addr: SocketAddr, backend: &Recorder) -> Run {
    let cases = cases();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Exchange>>> = Mutex::new(vec![None; cases.len()]);
    thread::scope(|s| {
        for _ in 0..PARALLEL {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(case) = cases.get(i) else { break };
                let ex = exchange(addr, case);
                results.lock().unwrap()[i] = Some(ex);
            });
        }
    });
    // Let the backend finish recording what is still in flight.
    thread::sleep(Duration::from_millis(200));
    Run {
        exchanges: results
            .into_inner()
            .unwrap()
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect(),
        records: backend.records(),
    }
}

// HAProxy

fn haproxy_bin() -> Option<String> {
    for p in ["/usr/sbin/haproxy", "/usr/local/sbin/haproxy"] {
        if Path::new(p).exists() {
            return Some(p.to_string());
        }
    }
    None
}

/// `haproxy -db -f CFG` on a free port, killed on drop.
struct Haproxy(Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_haproxy(dir: &TempDir, backend: SocketAddr) -> (Haproxy, SocketAddr) {
    for _attempt in 0..5 {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cfg = PROXY_CFG
            .replace("PORT", &port.to_string())
            .replace("SERVER", &backend.to_string());
        let path = dir.write("haproxy.cfg", cfg);
        let child = Command::new(haproxy_bin().unwrap())
            .args(["-db", "-f"])
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn haproxy");
        let mut h = Haproxy(child);
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                return (h, addr);
            }
            if let Ok(Some(_)) = h.0.try_wait() {
                break; // port taken meanwhile: try another
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("haproxy did not start on a free port in 5 attempts");
}

fn haproxy_run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let backend = Recorder::start();
        let dir = TempDir::new();
        let (_h, addr) = start_haproxy(&dir, backend.addr);
        run_cases(addr, &backend)
    })
}

fn ringlb_run(driver: &str) -> Run {
    let backend = Recorder::start();
    let cfg = PROXY_CFG
        .replace("PORT", "0")
        .replace("SERVER", &backend.addr.to_string());
    let lb = Ringlb::start(&cfg, driver);
    run_cases(lb.addr("fe"), &backend)
}

// What happened to each request

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Forwarded,
    /// The proxy's own answer (its status).
    Refused(u16),
    /// Neither: the connection ended first. After the first request this is no refusal: a
    /// proxy may stop reading pipelined requests once the client half-closed (HAProxy
    /// sometimes does).
    Lost,
}

/// Which client request a record is: (connection, message), or (connection, None) for a
/// request smuggled in a body.
fn identify(r: &Record) -> Option<(usize, Option<usize>)> {
    let text = String::from_utf8_lossy(&r.target).into_owned();
    if let Some(at) = text.find("smuggled-fz-") {
        let conn = text[at + 12..].split('-').next()?.parse().ok()?;
        return Some((conn, None));
    }
    let from = |s: &str| -> Option<(usize, Option<usize>)> {
        let mut it = s.split('-');
        let conn = it.next()?.parse().ok()?;
        let digits: String = it
            .next()?
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        Some((conn, Some(digits.parse().ok()?)))
    };
    if let Some(at) = text.find("fz-") {
        if let Some(id) = from(&text[at + 3..]) {
            return Some(id);
        }
    }
    from(&String::from_utf8_lossy(r.header("x-fz")?))
}

/// Where a run's problems go: failures, and what the pending fixes explain.
struct Findings<'a> {
    failures: &'a mut Vec<String>,
    pending: &'a mut Vec<String>,
}

/// One record: framing the backend had to guess, and the body it got.
fn check_record(
    name: &str,
    case: &Case,
    conn: usize,
    msg: Option<usize>,
    r: &Record,
    out: &mut Findings,
) {
    if let Some(problem) = &r.problem {
        let sent = msg
            .filter(|&m| m < case.msgs.len())
            .map_or(case.first(), |m| case.msg_bytes(m));
        let line = format!(
            "{name}: conn {conn} ({}): forwarded with ambiguous framing: {problem}\n  sent: {}",
            case.kind.name(),
            lossy(&case.bytes)
        );
        if pending_reasons(&reasons(sent)).is_empty() {
            out.failures.push(line);
        } else {
            out.pending.push(line);
        }
    }
    let Some(m) = msg else {
        if !r.body.is_empty() {
            out.failures.push(format!(
                "{name}: conn {conn}: a smuggled request with a body"
            ));
        }
        return;
    };
    let Some(sent) = case.msgs.get(m) else { return };
    let after_head = &case.bytes[sent.head_end..];
    // A mutation may end a head early (a bare LF before CR LF): then any run of the bytes
    // sent may be a body.
    let anywhere = case.kind == Kind::Mutated
        && (r.body.is_empty() || gen::find(&case.bytes, &r.body).is_some());
    if r.body != sent.body && !after_head.starts_with(&r.body) && !anywhere {
        out.failures.push(format!(
            "{name}: conn {conn} msg {m} ({}): body boundary moved: backend got {}\n  sent: {}",
            case.kind.name(),
            lossy(&r.body),
            lossy(&case.bytes)
        ));
    }
}

/// Checks one run on its own (smuggling, boundaries, order) and says what became of each
/// request: `outcomes[conn][msg]`.
fn check_run(cases: &[Case], name: &str, run: &Run, out: &mut Findings) -> Vec<Vec<Outcome>> {
    let mut seen: Vec<Vec<usize>> = vec![Vec::new(); cases.len()];
    let mut forwarded: HashMap<(usize, usize), usize> = HashMap::new();
    for (id, r) in run.records.iter().enumerate() {
        let Some((conn, msg)) = identify(r).filter(|(c, _)| *c < cases.len()) else {
            out.failures.push(format!(
                "{name}: the backend received a request no client sent: {} {}",
                lossy(&r.method),
                lossy(&r.target)
            ));
            continue;
        };
        seen[conn].push(id);
        if let Some(m) = msg {
            forwarded.insert((conn, m), id);
        }
        check_record(name, &cases[conn], conn, msg, r, out);
    }
    let mut outcomes = Vec::new();
    for (conn, case) in cases.iter().enumerate() {
        let ex = &run.exchanges[conn];
        let answered: Vec<usize> = ex.answers.iter().filter_map(|a| a.rec).collect();
        if answered != seen[conn] {
            out.failures.push(format!(
                "{name}: conn {conn} ({}): backend received records {:?}, the client got answers for {:?}{}\n  sent: {}",
                case.kind.name(), seen[conn], answered,
                ex.trouble.as_ref().map(|t| format!(" ({t})")).unwrap_or_default(),
                lossy(&case.bytes)
            ));
        }
        let own = ex
            .answers
            .iter()
            .find(|a| a.rec.is_none())
            .map_or(Outcome::Lost, |a| Outcome::Refused(a.status));
        outcomes.push(
            (0..case.msgs.len())
                .map(|m| {
                    if forwarded.contains_key(&(conn, m)) {
                        Outcome::Forwarded
                    } else {
                        own
                    }
                })
                .collect(),
        );
    }
    outcomes
}

/// Compares ringlb's outcomes with HAProxy's, request by request, up to the first one where
/// they part (what follows depends on it).
fn compare(
    hap: &[Vec<Outcome>],
    rl: &[Vec<Outcome>],
    failures: &mut Vec<String>,
    summary: &mut Summary,
) {
    for (conn, case) in cases().iter().enumerate() {
        for m in 0..case.msgs.len() {
            let (h, r) = (hap[conn][m], rl[conn][m]);
            let sent = case.msg_bytes(m);
            let why = reasons(sent);
            let documented = why.iter().any(|w| DOCUMENTED_STRICTER.contains(w));
            if m == 0 {
                summary.count(case.kind, h, r);
                if documented && r == Outcome::Forwarded {
                    failures.push(format!(
                        "ringlb forwards what README documents it refuses ({why:?}): {}",
                        lossy(sent)
                    ));
                }
            }
            if m > 0 && (h == Outcome::Lost || r == Outcome::Lost) {
                break;
            }
            if case.kind == Kind::Valid && h != Outcome::Forwarded {
                failures.push(format!(
                    "HAProxy refused a request the generator thinks valid ({h:?}): {}",
                    lossy(sent)
                ));
            }
            let refused = |o: Outcome| o != Outcome::Forwarded;
            if h == r || (refused(h) && refused(r)) {
                if h == Outcome::Forwarded {
                    continue;
                }
                break;
            }
            let pending = pending_reasons(&why);
            let line = format!("conn {conn} msg {m} ({}): HAProxy {h:?}, ringlb {r:?}, reasons {why:?}\n  sent: {}", case.kind.name(), lossy(sent));
            let explained = match r {
                Outcome::Forwarded => !pending.is_empty(),
                Outcome::Refused(_) | Outcome::Lost => documented || !pending.is_empty(),
            };
            if !explained {
                failures.push(format!("undocumented difference: {line}"));
            } else if !pending.is_empty() {
                summary.pending.push(line);
            }
            break;
        }
    }
}

/// Per kind of case: (HAProxy forwarded, ringlb forwarded, both refused, cases).
#[derive(Default)]
struct Summary {
    kinds: Vec<(&'static str, [usize; 4])>,
    pending: Vec<String>,
}

impl Summary {
    fn count(&mut self, kind: Kind, h: Outcome, r: Outcome) {
        let name = kind.name();
        let at = match self.kinds.iter().position(|(n, _)| *n == name) {
            Some(i) => i,
            None => {
                self.kinds.push((name, [0; 4]));
                self.kinds.len() - 1
            }
        };
        let c = &mut self.kinds[at].1;
        c[0] += (h == Outcome::Forwarded) as usize;
        c[1] += (r == Outcome::Forwarded) as usize;
        c[2] += (h != Outcome::Forwarded && r != Outcome::Forwarded) as usize;
        c[3] += 1;
    }

    fn print(&self, driver: &str) {
        eprintln!("fuzz_vs_haproxy ({driver}): first request of each case, forwarded by HAProxy / ringlb / refused by both / cases");
        for (name, c) in &self.kinds {
            eprintln!("  {name:28} {:4} {:4} {:4} {:4}", c[0], c[1], c[2], c[3]);
        }
        eprintln!(
            "differences explained by pending fixes ({}):",
            self.pending.len()
        );
        for p in &self.pending {
            eprintln!("  {p}");
        }
    }
}

/// `FUZZ_SHOW=3,17`: prints those connections' bytes and what each proxy did with them.
fn show_requested(hap: &Run, rl: &Run) {
    let Ok(list) = std::env::var("FUZZ_SHOW") else {
        return;
    };
    for conn in list
        .split(',')
        .filter_map(|c| c.trim().parse::<usize>().ok())
    {
        let Some(case) = cases().get(conn) else {
            continue;
        };
        eprintln!("conn {conn} ({}): {}", case.kind.name(), lossy(&case.bytes));
        for (name, run) in [("HAProxy", hap), ("ringlb", rl)] {
            let recs: Vec<String> = run
                .records
                .iter()
                .filter(|r| identify(r).is_some_and(|(c, _)| c == conn))
                .map(|r| {
                    format!(
                        "{} {} body {}",
                        lossy(&r.method),
                        lossy(&r.target),
                        lossy(&r.body)
                    )
                })
                .collect();
            eprintln!(
                "  {name}: answers {:?} trouble {:?}\n    records {recs:?}",
                run.exchanges[conn].answers, run.exchanges[conn].trouble
            );
        }
    }
}

fn differential(driver: &str) {
    if haproxy_bin().is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "install haproxy (.ci/run does)"
        );
        eprintln!("skipping fuzz_vs_haproxy: haproxy is not installed (CI fails here instead)");
        return;
    }
    let started = Instant::now();
    let requests: usize = cases().iter().map(|c| c.msgs.len()).sum();
    let hap = haproxy_run();
    let rl = ringlb_run(driver);
    let mut failures = Vec::new();
    let mut summary = Summary::default();
    let mut findings = Findings {
        failures: &mut failures,
        pending: &mut summary.pending,
    };
    let hap_outcomes = check_run(cases(), "HAProxy", hap, &mut findings);
    let rl_outcomes = check_run(cases(), "ringlb", &rl, &mut findings);
    show_requested(hap, &rl);
    compare(&hap_outcomes, &rl_outcomes, &mut failures, &mut summary);
    summary.print(driver);
    for doc in DOCUMENTED_STRICTER {
        let exercised = cases().iter().any(|c| reasons(c.first()).contains(doc));
        if !exercised {
            failures.push(format!(
                "no case exercised the documented difference '{doc}'"
            ));
        }
    }
    eprintln!(
        "fuzz_vs_haproxy ({driver}): {} connections, {requests} requests, {} + {} records, {:.1} s",
        cases().len(),
        hap.records.len(),
        rl.records.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} failures (FUZZ_SEED={:#x} reproduces):\n{}",
        failures.len(),
        seed(),
        failures.join("\n")
    );
}

both_drivers!(fuzz_vs_haproxy, |driver| {
    differential(driver);
});

/// The checks themselves, on made-up runs: they must catch a smuggled request, a moved body
/// boundary and answers out of order (without them this test could not fail on smuggling).
mod checks {
    use super::*;
    use client::Answer;

    /// A case past the templates (a seeded random kind), alone as connection 0.
    fn one_case() -> Vec<Case> {
        vec![gen::generate(1, templates::TEMPLATES.len() + 1)
            .pop()
            .unwrap()]
    }

    fn record(target: &str, body: &[u8]) -> Record {
        Record {
            method: b"GET".to_vec(),
            target: target.as_bytes().to_vec(),
            headers: Vec::new(),
            body: body.to_vec(),
            problem: None,
        }
    }

    fn answered(records: &[Record], answers: &[usize]) -> Run {
        Run {
            exchanges: vec![Exchange {
                answers: answers
                    .iter()
                    .map(|&r| Answer {
                        status: 200,
                        rec: Some(r),
                    })
                    .collect(),
                trouble: None,
            }],
            records: records.to_vec(),
        }
    }

    fn failures(cases: &[Case], run: &Run) -> Vec<String> {
        let (mut failures, mut pending) = (Vec::new(), Vec::new());
        let mut out = Findings {
            failures: &mut failures,
            pending: &mut pending,
        };
        check_run(cases, "test", run, &mut out);
        failures
    }

    #[test]
    fn faithful_run_passes() {
        let cases = one_case();
        let recs: Vec<Record> = cases[0]
            .msgs
            .iter()
            .enumerate()
            .map(|(m, msg)| record(&format!("/{}", gen::tag(0, m)), &msg.body))
            .collect();
        let ids: Vec<usize> = (0..recs.len()).collect();
        assert_eq!(
            failures(&cases, &answered(&recs, &ids)),
            Vec::<String>::new()
        );
    }

    #[test]
    fn smuggled_request_without_answer_fails() {
        let cases = one_case();
        let recs = vec![
            record(&format!("/{}", gen::tag(0, 0)), &cases[0].msgs[0].body),
            record("/smuggled-fz-0-0", b""),
        ];
        let f = failures(&cases, &answered(&recs, &[0]));
        assert!(
            f.iter().any(|l| l.contains("the client got answers for")),
            "{f:?}"
        );
    }

    #[test]
    fn unknown_request_fails() {
        let cases = one_case();
        let f = failures(&cases, &answered(&[record("/elsewhere", b"")], &[0]));
        assert!(f.iter().any(|l| l.contains("no client sent")), "{f:?}");
    }

    #[test]
    fn moved_body_boundary_fails() {
        let cases = one_case();
        let recs = vec![record(
            &format!("/{}", gen::tag(0, 0)),
            b"not what was sent",
        )];
        let f = failures(&cases, &answered(&recs, &[0]));
        assert!(f.iter().any(|l| l.contains("body boundary moved")), "{f:?}");
    }

    #[test]
    fn answers_out_of_order_fail() {
        let cases = one_case();
        let recs = vec![
            record(&format!("/{}", gen::tag(0, 0)), &cases[0].msgs[0].body),
            record(&format!("/{}", gen::tag(0, 1)), b""),
        ];
        let f = failures(&cases, &answered(&recs, &[1, 0]));
        assert!(
            f.iter().any(|l| l.contains("the client got answers for")),
            "{f:?}"
        );
    }

    #[test]
    fn generation_is_deterministic() {
        let (a, b) = (gen::generate(7, 300), gen::generate(7, 300));
        assert!(a.iter().zip(&b).all(|(x, y)| x.bytes == y.bytes));
        assert_ne!(gen::generate(8, 300)[200].bytes, a[200].bytes);
    }
}
