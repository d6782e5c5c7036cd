//! Load during reloads (e2e_reload, e2e_master): real clients on loopback, a few threads of
//! each kind. Keep-alive: a request sent on a reused connection that the old process closed
//! meanwhile is retried once on a new connection, as an HTTP client does with an idempotent
//! request (that race is not the listener's). One new connection per request: never retried,
//! any reset, refusal or timeout is a lost request.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::*;

/// The requests of the load threads: answered, lost (and what the last loss was).
#[derive(Default)]
pub struct Load {
    pub stop: AtomicBool,
    pub ok: AtomicUsize,
    pub lost: AtomicUsize,
    pub last_error: std::sync::Mutex<String>,
}

impl Load {
    fn lose(&self, what: String) {
        self.lost.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut e) = self.last_error.lock() {
            *e = what;
        }
    }
}

fn connect(addr: SocketAddr) -> std::io::Result<Client> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    s.set_write_timeout(Some(Duration::from_secs(3)))?;
    s.set_nodelay(true)?;
    Ok(Client {
        conn: BufConn::new(s),
    })
}

/// One request on `c`: Ok(keep the connection), or the error.
fn request(c: &mut Client, close: bool) -> std::io::Result<bool> {
    let conn = if close { "close" } else { "keep-alive" };
    let req = format!("GET /load HTTP/1.1\r\nHost: test.local\r\nConnection: {conn}\r\n\r\n");
    c.conn.stream.write_all(req.as_bytes())?;
    let r = c.try_read_response(false)?;
    if r.status != 200 {
        return Err(std::io::Error::other(format!("status {}", r.status)));
    }
    Ok(!close && !r.has_token("connection", "close"))
}

fn keepalive_client(load: &Load, addr: SocketAddr) {
    let mut conn: Option<Client> = None;
    while !load.stop.load(Ordering::SeqCst) {
        let reused = conn.is_some();
        let mut c = match conn.take().map_or_else(|| connect(addr), Ok) {
            Ok(c) => c,
            Err(e) => {
                load.lose(format!("keep-alive connect: {e}"));
                continue;
            }
        };
        match request(&mut c, false) {
            Ok(keep) => {
                load.ok.fetch_add(1, Ordering::SeqCst);
                conn = keep.then_some(c);
            }
            // The old process closed this idle connection as the request went out: retried.
            Err(_) if reused => match connect(addr).and_then(|mut c| request(&mut c, true)) {
                Ok(_) => {
                    load.ok.fetch_add(1, Ordering::SeqCst);
                }
                Err(e) => load.lose(format!("keep-alive retry: {e}")),
            },
            Err(e) => load.lose(format!("keep-alive, new connection: {e}")),
        }
    }
}

fn close_client(load: &Load, addr: SocketAddr) {
    while !load.stop.load(Ordering::SeqCst) {
        match connect(addr).and_then(|mut c| request(&mut c, true)) {
            Ok(_) => {
                load.ok.fetch_add(1, Ordering::SeqCst);
            }
            Err(e) => load.lose(format!("new connection: {e}")),
        }
    }
}

pub fn start_load(addr: SocketAddr) -> (Arc<Load>, Vec<thread::JoinHandle<()>>) {
    let load = Arc::new(Load::default());
    let mut threads = Vec::new();
    for i in 0..4 {
        let l = Arc::clone(&load);
        threads.push(thread::spawn(move || {
            if i % 2 == 0 {
                keepalive_client(&l, addr)
            } else {
                close_client(&l, addr)
            }
        }));
    }
    (load, threads)
}

impl Load {
    /// Stops the load threads and returns (answered, lost, the last loss).
    pub fn finish(&self, threads: Vec<thread::JoinHandle<()>>) -> (usize, usize, String) {
        self.stop.store(true, Ordering::SeqCst);
        for t in threads {
            let _ = t.join();
        }
        let last = self
            .last_error
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default();
        (
            self.ok.load(Ordering::SeqCst),
            self.lost.load(Ordering::SeqCst),
            last,
        )
    }
}
