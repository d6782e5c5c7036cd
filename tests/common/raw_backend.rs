//! A backend that answers with exact bytes: duplicate or listed framing headers, bare LF,
//! interim responses, odd chunk sizes. What the proxy must normalise, refuse or swallow on the
//! response side can only be tested with a server that sends it.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::*;

/// What a path not in the script gets.
const NOT_SCRIPTED: &[u8] = b"HTTP/1.1 404 Not Found\r\ncontent-length: 13\r\n\r\nnot scripted\n";

/// Answers each request with the bytes scripted for its path (query ignored), on keep-alive
/// connections; the bytes are written as given, in one write.
pub struct RawBackend {
    pub addr: SocketAddr,
    /// Request heads read so far.
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

pub type Script = &'static [(&'static str, &'static [u8])];

impl RawBackend {
    pub fn start(script: Script) -> RawBackend {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind raw backend");
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stop2) = (requests.clone(), stop.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(s) = conn else { continue };
                let count = count.clone();
                thread::spawn(move || {
                    let _ = serve_raw(s, script, &count);
                });
            }
        });
        RawBackend {
            addr,
            requests,
            stop,
        }
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for RawBackend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

fn serve_raw(s: TcpStream, script: Script, count: &AtomicUsize) -> io::Result<()> {
    s.set_read_timeout(Some(BACKEND_IO_TIMEOUT))?;
    s.set_write_timeout(Some(BACKEND_IO_TIMEOUT))?;
    s.set_nodelay(true)?;
    let mut c = BufConn::new(s);
    while let Some(head) = c.read_head()? {
        count.fetch_add(1, Ordering::SeqCst);
        let (line, headers) = split_head(&head)?;
        if let Some(n) = header(&headers, "content-length") {
            c.read_exact_n(n.parse().map_err(|_| bad("bad content-length"))?)?;
        } else if has_token(&headers, "transfer-encoding", "chunked") {
            c.read_chunked()?;
        }
        let target = line.split(' ').nth(1).unwrap_or("");
        let path = target.split('?').next().unwrap_or("");
        let answer = script
            .iter()
            .find(|(p, _)| *p == path)
            .map_or(NOT_SCRIPTED, |(_, bytes)| *bytes);
        c.stream.write_all(answer)?;
    }
    Ok(())
}
