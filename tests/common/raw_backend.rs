//! A backend that answers with exact bytes: duplicate or listed framing headers, bare LF,
//! interim responses, odd chunk sizes. What the proxy must normalise, refuse or swallow on the
//! response side can only be tested with a server that sends it. It also keeps the exact bytes
//! of every request body it got (chunked framing included), for what the proxy must send on
//! the request side.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::*;

/// What a path not in the script gets.
const NOT_SCRIPTED: &[u8] = b"HTTP/1.1 404 Not Found\r\ncontent-length: 13\r\n\r\nnot scripted\n";

/// In scripted bytes: write what came before, then wait this long before the rest, so that the
/// proxy gets the answer in separate reads.
pub const PAUSE: &[u8] = b"<pause>";
const PAUSE_FOR: Duration = Duration::from_millis(60);

/// Answers each request with the bytes scripted for its path (query ignored), on keep-alive
/// connections; the bytes are written as given, in one write (or in parts at each `PAUSE`).
pub struct RawBackend {
    pub addr: SocketAddr,
    /// Each request's head and body, byte for byte as they arrived.
    received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
}

/// One request as it arrived.
#[derive(Clone, Debug)]
pub struct Received {
    pub head: Vec<u8>,
    /// The body with its framing: chunk size lines, CRLFs and trailers as they came.
    pub body: Vec<u8>,
}

pub type Script = &'static [(&'static str, &'static [u8])];

impl RawBackend {
    pub fn start(script: Script) -> RawBackend {
        RawBackend::start_closing(script, &[])
    }

    /// Like `start`, but after answering a path in `closing` the connection is closed.
    pub fn start_closing(script: Script, closing: &'static [&'static str]) -> RawBackend {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind raw backend");
        let addr = listener.local_addr().unwrap();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, stop2) = (received.clone(), stop.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(s) = conn else { continue };
                let seen = seen.clone();
                thread::spawn(move || {
                    let _ = serve_raw(s, script, closing, &seen);
                });
            }
        });
        RawBackend {
            addr,
            received,
            stop,
        }
    }

    /// Request heads read so far.
    pub fn requests(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    /// The requests read so far, in order of arrival.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for RawBackend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

fn serve_raw(
    s: TcpStream,
    script: Script,
    closing: &[&str],
    seen: &Mutex<Vec<Received>>,
) -> io::Result<()> {
    s.set_read_timeout(Some(BACKEND_IO_TIMEOUT))?;
    s.set_write_timeout(Some(BACKEND_IO_TIMEOUT))?;
    s.set_nodelay(true)?;
    let mut c = BufConn::new(s);
    while let Some(head) = c.read_head()? {
        let (line, headers) = split_head(&head)?;
        // Counted from its head on, whether or not its body turns out readable.
        let at = {
            let mut seen = seen.lock().unwrap();
            seen.push(Received {
                head,
                body: Vec::new(),
            });
            seen.len() - 1
        };
        let body = if let Some(n) = header(&headers, "content-length") {
            c.read_exact_n(n.parse().map_err(|_| bad("bad content-length"))?)?
        } else if has_token(&headers, "transfer-encoding", "chunked") {
            read_chunked_raw(&mut c)?
        } else {
            Vec::new()
        };
        seen.lock().unwrap()[at].body = body;
        let target = line.split(' ').nth(1).unwrap_or("");
        let path = target.split('?').next().unwrap_or("");
        let answer = script
            .iter()
            .find(|(p, _)| *p == path)
            .map_or(NOT_SCRIPTED, |(_, bytes)| *bytes);
        write_with_pauses(&mut c.stream, answer)?;
        if closing.contains(&path) {
            return Ok(());
        }
    }
    Ok(())
}

fn write_with_pauses(s: &mut TcpStream, mut bytes: &[u8]) -> io::Result<()> {
    while let Some(at) = find(bytes, PAUSE) {
        s.write_all(&bytes[..at])?;
        thread::sleep(PAUSE_FOR);
        bytes = &bytes[at + PAUSE.len()..];
    }
    s.write_all(bytes)
}

/// A chunked body, checked as strictly as `BufConn::read_chunked` does, returned byte for
/// byte as it arrived: size lines, data, CRLFs, trailers and the final CRLF.
pub fn read_chunked_raw(c: &mut BufConn) -> io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    let line = |c: &mut BufConn, raw: &mut Vec<u8>| -> io::Result<Vec<u8>> {
        let l = c.read_line()?;
        raw.extend_from_slice(&l);
        raw.extend_from_slice(b"\r\n");
        Ok(l)
    };
    loop {
        let size_line = line(c, &mut raw)?;
        let size = parse_chunk_size(&size_line)
            .ok_or_else(|| bad(&format!("bad chunk size line {:?}", lossy(&size_line))))?;
        if size == 0 {
            break;
        }
        raw.extend(c.read_exact_n(size)?);
        if !line(c, &mut raw)?.is_empty() {
            return Err(bad("chunk data not followed by CRLF"));
        }
    }
    loop {
        let trailer = line(c, &mut raw)?;
        if trailer.is_empty() {
            return Ok(raw);
        }
        split_header(&trailer).ok_or_else(|| bad("bad trailer line"))?;
    }
}
