//! Mode tcp: byte relay in both directions, half-close, large payloads, balancing.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;

fn tcp_cfg(servers: &[(&str, SocketAddr)], be_lines: &str) -> String {
    let mut cfg = String::from(
        "global\n    nbthread 2\n\ndefaults\n    mode tcp\n    timeout connect 1s\n    \
         timeout client 5s\n    timeout server 5s\n\nfrontend fe\n    bind 127.0.0.1:0\n    \
         default_backend echo\n\nbackend echo\n",
    );
    cfg.push_str(be_lines);
    cfg.push('\n');
    for (name, addr) in servers {
        cfg.push_str(&format!("    server {name} {addr}\n"));
    }
    cfg
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT).expect("connect");
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s
}

fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf)
        .unwrap_or_else(|e| panic!("reading {n} relayed bytes: {e}"));
    buf
}

fn read_to_end(s: &mut TcpStream) -> Vec<u8> {
    let mut rest = Vec::new();
    s.read_to_end(&mut rest)
        .expect("reading until the relay closes");
    rest
}

both_drivers!(relay_with_half_close, |driver| {
    let echo = TcpEchoBackend::start();
    let lb = Ringlb::start(&tcp_cfg(&[("e1", echo.addr)], ""), driver);
    let mut s = connect(lb.addr("fe"));
    for msg in [&b"hello"[..], b"\x00\xffbinary", b"GET / HTTP/1.1\r\n\r\n"] {
        s.write_all(msg).unwrap();
        assert_eq!(read_n(&mut s, msg.len()), msg);
    }
    // Our side is done writing; the server's late answer must still come through.
    s.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(lossy(&read_to_end(&mut s)), "bye", "half-close not relayed");
});

both_drivers!(relay_large_payload_both_ways, |driver| {
    let echo = TcpEchoBackend::start();
    let lb = Ringlb::start(&tcp_cfg(&[("e1", echo.addr)], ""), driver);
    let mut s = connect(lb.addr("fe"));
    let data = pattern(2 << 20);
    let mut w = s.try_clone().unwrap();
    let to_send = data.clone();
    let writer = thread::spawn(move || {
        w.write_all(&to_send)?;
        w.shutdown(std::net::Shutdown::Write)
    });
    let got = read_to_end(&mut s);
    writer
        .join()
        .unwrap()
        .expect("writing 2 MiB through the relay");
    assert_eq!(got.len(), data.len() + 3, "relayed byte count");
    assert!(got[..data.len()] == data[..], "payload corrupted");
    assert_eq!(&got[data.len()..], b"bye");
});

both_drivers!(balance_across_two_servers, |driver| {
    let e1 = TcpEchoBackend::start();
    let e2 = TcpEchoBackend::start();
    let lb = Ringlb::start(
        &tcp_cfg(
            &[("e1", e1.addr), ("e2", e2.addr)],
            "    balance roundrobin",
        ),
        driver,
    );
    for i in 0..20 {
        let mut s = connect(lb.addr("fe"));
        let msg = format!("conn-{i}");
        s.write_all(msg.as_bytes()).unwrap();
        assert_eq!(lossy(&read_n(&mut s, msg.len())), msg);
        s.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(read_to_end(&mut s), b"bye");
    }
    let (c1, c2) = (e1.connections(), e2.connections());
    assert_eq!(c1 + c2, 20);
    assert!(
        c1 >= 5 && c2 >= 5,
        "roundrobin in mode tcp unfair: e1={c1} e2={c2}"
    );
});

both_drivers!(dead_server_closes_client, |driver| {
    let lb = Ringlb::start(
        &tcp_cfg(&[("dead", refused_addr())], "    retries 1"),
        driver,
    );
    let mut s = connect(lb.addr("fe"));
    let _ = s.write_all(b"anyone?");
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Ok(n) => panic!("got bytes from a dead server: {:?}", lossy(&buf[..n])),
        Err(e) => panic!("client not closed after the server was unreachable: {e}"),
    }
});
