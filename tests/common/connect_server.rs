//! `ConnectServer`: a server that answers CONNECT and then echoes (e2e_reuse's HTTP/1
//! tunnels, e2e_h2's CONNECT over HTTP/2).

use super::{lossy, BufConn};
use std::io::Write;
use std::net::Shutdown;
use std::thread;
use std::time::Duration;

/// A server that answers CONNECT with `status` and then echoes, prefixing `echo:`; it records
/// the head it received.
pub struct ConnectServer {
    pub addr: std::net::SocketAddr,
    pub heads: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ConnectServer {
    pub fn start(status: &'static str) -> ConnectServer {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = heads.clone();
        thread::spawn(move || {
            for s in l.incoming() {
                let Ok(s) = s else { continue };
                let seen = seen.clone();
                thread::spawn(move || serve_connect(s, status, &seen));
            }
        });
        ConnectServer { addr, heads }
    }
}

fn serve_connect(s: std::net::TcpStream, status: &str, seen: &std::sync::Mutex<Vec<String>>) {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut c = BufConn::new(s);
    let Ok(Some(head)) = c.read_head() else {
        return;
    };
    seen.lock().unwrap().push(lossy(&head));
    let answer = format!("HTTP/1.1 {status}\r\nx-server: tunnel\r\n");
    if !status.starts_with('2') {
        let _ = c
            .stream
            .write_all(format!("{answer}content-length: 3\r\n\r\nno\n").as_bytes());
        return;
    }
    if c.stream
        .write_all(format!("{answer}\r\n").as_bytes())
        .is_err()
    {
        return;
    }
    loop {
        match c.read_some() {
            Ok(data) if !data.is_empty() => {
                let mut out = b"echo:".to_vec();
                out.extend(data);
                if c.stream.write_all(&out).is_err() {
                    return;
                }
            }
            _ => {
                let _ = c.stream.shutdown(Shutdown::Write);
                return;
            }
        }
    }
}
