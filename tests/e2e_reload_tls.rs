//! TLS resumption across a `-x` reload: without `tls-ticket-keys` each process's ticket keys
//! are random, so the new process takes the old one's over the stats socket with the
//! listeners, and a client's ticket from before the reload resumes after it (TLS 1.3 and 1.2,
//! a rustls client keeping its session store across the reload). With `tls-ticket-keys FILE`
//! both processes read the file. The controls: a restart without `-x` resumes nothing, and a
//! stats socket below level admin hands the listeners over but not the keys.

mod common;

use common::*;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::HandshakeKind;

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a probe port");
    l.local_addr().unwrap().port()
}

/// `opts` on the TLS bind; `level`, the stats socket's.
fn cfg(sock: &Path, level: &str, port: u16, opts: &str, server: SocketAddr) -> String {
    format!(
        "global\n    nbthread 2\n    stats socket {} level {level} expose-fd listeners\n\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\n\
         frontend fe\n    bind 127.0.0.1:{port} ssl {opts}\n    default_backend app\n\n\
         backend app\n    server s1 {server}\n",
        sock.display()
    )
}

const VERSIONS: [(&str, &[&rustls::SupportedProtocolVersion]); 2] = [
    ("TLSv1.3", &[&rustls::version::TLS13]),
    ("TLSv1.2", &[&rustls::version::TLS12]),
];

/// One connection and one request; how its handshake went. The client config is reused:
/// rustls resumes only with the config (its verifier) that made the session.
fn handshake(addr: SocketAddr, client: &Arc<rustls::ClientConfig>) -> HandshakeKind {
    let mut t = Tls::connect(addr, client.clone(), "site.example").expect("handshake");
    assert_eq!(t.get("site.example", "/").expect("request").status, 200);
    t.negotiated().kind.expect("a finished handshake")
}

/// A client of `versions` keeping its sessions across connections.
fn client(
    pki: &Pki,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    ClientSpec {
        versions,
        sessions: Some(session_store()),
        ..ClientSpec::new(&pki.ca)
    }
    .config(true)
}

/// Sessions before the restart (one store per version, each with a ticket), the restart done
/// by `restart`, then whether each version resumed.
fn across(
    driver: &str,
    level: &str,
    opts: &str,
    restart: impl FnOnce(&Path, &str, &mut Ringlb, &str) -> Ringlb,
) -> Vec<(&'static str, HandshakeKind)> {
    let be = HttpBackend::start("s1");
    let pki = Pki::new();
    let (_, crt) = pki.server("site", "site", &["site.example"], Alg::Ecdsa);
    let dir = TempDir::new();
    let sock = dir.path().join("api.sock");
    let port = free_port();
    let text = cfg(&sock, level, port, &opts.replace("{crt}", &crt), be.addr);
    let path = dir.write("ringlb.cfg", &text);
    let mut old = Ringlb::start_files(TempDir::new(), std::slice::from_ref(&path), driver, &text);
    let addr = old.addr("fe");
    let clients: Vec<_> = VERSIONS.iter().map(|(_, v)| client(&pki, v)).collect();
    for c in &clients {
        assert_eq!(handshake(addr, c), HandshakeKind::Full);
    }
    let new = restart(&sock, &path.display().to_string(), &mut old, &text);
    assert!(
        old.wait_exit(Duration::from_secs(10)).is_some(),
        "the old process still runs:\n{}",
        old.output()
    );
    let kinds = VERSIONS
        .iter()
        .zip(&clients)
        .map(|((name, _), c)| (*name, handshake(addr, c)))
        .collect();
    drop(new);
    kinds
}

/// `ringlb -f CFG -x SOCK -sf OLD`.
/// `binds`: how many binds' random keys should cross (none with a key file).
fn x_reload(
    driver: &'static str,
    binds: usize,
) -> impl FnOnce(&Path, &str, &mut Ringlb, &str) -> Ringlb {
    move |sock, path, old, text| {
        let args = vec![
            "-x".to_string(),
            sock.display().to_string(),
            "-sf".to_string(),
            old.pid().to_string(),
        ];
        let new = Ringlb::start_files_args(TempDir::new(), &[path.into()], &args, driver, text);
        assert!(
            new.output()
                .contains(&format!("the TLS ticket keys of {binds} bind(s)")),
            "{}",
            new.output()
        );
        // The keys themselves never reach a log line.
        assert!(
            !new.output().to_lowercase().contains("secret"),
            "{}",
            new.output()
        );
        new
    }
}

both_drivers!(
    a_ticket_from_before_an_x_reload_resumes_after_it,
    |driver| {
        let kinds = across(driver, "admin", "crt {crt}", x_reload(driver, 1));
        for (name, kind) in kinds {
            assert_eq!(kind, HandshakeKind::Resumed, "{name} after the -x reload");
        }
    }
);

both_drivers!(with_a_key_file_both_processes_read_it, |driver| {
    let keys = TempDir::new();
    let file = keys.write(
        "tickets.key",
        ringlb::tls::tickets::random_key_file(3).unwrap(),
    );
    let opts = format!("crt {{crt}} tls-ticket-keys {}", file.display());
    for (name, kind) in across(driver, "admin", &opts, x_reload(driver, 0)) {
        assert_eq!(kind, HandshakeKind::Resumed, "{name} after the -x reload");
    }
});

both_drivers!(without_x_a_restart_resumes_nothing, |driver| {
    let restart = move |_: &Path, path: &str, old: &mut Ringlb, text: &str| {
        old.signal(libc::SIGTERM);
        assert!(old.wait_exit(Duration::from_secs(10)).is_some());
        Ringlb::start_files(TempDir::new(), &[path.into()], driver, text)
    };
    for (name, kind) in across(driver, "admin", "crt {crt}", restart) {
        assert_eq!(
            kind,
            HandshakeKind::Full,
            "{name}: fresh keys cannot open old tickets"
        );
    }
});

both_drivers!(keys_go_to_a_level_admin_socket_only, |driver| {
    // The listeners still cross (a lossless reload), the keys do not: fresh ones.
    for (name, kind) in across(driver, "operator", "crt {crt}", x_reload(driver, 0)) {
        assert_eq!(kind, HandshakeKind::Full, "{name}");
    }
});
