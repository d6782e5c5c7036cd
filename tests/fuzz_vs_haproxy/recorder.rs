//! The recording backend: one per proxy run. It reads requests strictly (CRLF heads; a body
//! by chunked when Transfer-Encoding ends with chunked, else by Content-Length), keeps every
//! complete request it received with its exact body, and answers each with `x-rec: N`, N
//! being the record's index, so the client can say which request an answer belongs to.
//! What it cannot frame unambiguously is recorded as a problem: a proxy forwarded it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// Backend reads give up after this: the proxies' own timeouts are shorter.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_HEAD: usize = 1 << 16;

#[derive(Clone, Debug)]
pub struct Record {
    pub method: Vec<u8>,
    pub target: Vec<u8>,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub body: Vec<u8>,
    /// Framing the backend had to guess at (the record is kept, the guess answered).
    pub problem: Option<String>,
}

impl Record {
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v.as_slice())
    }
}

pub struct Recorder {
    pub addr: SocketAddr,
    records: Arc<Mutex<Vec<Record>>>,
    stop: Arc<AtomicBool>,
}

impl Recorder {
    pub fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind recorder");
        let addr = listener.local_addr().unwrap();
        let records: Arc<Mutex<Vec<Record>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (recs, st) = (records.clone(), stop.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = conn else { continue };
                let recs = recs.clone();
                thread::spawn(move || serve(stream, &recs));
            }
        });
        Recorder {
            addr,
            records,
            stop,
        }
    }

    pub fn records(&self) -> Vec<Record> {
        self.records.lock().unwrap().clone()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    /// Reads until `buf` holds at least `n` bytes; false at EOF or error.
    fn fill(&mut self, n: usize) -> bool {
        let mut chunk = [0u8; 16384];
        while self.buf.len() < n {
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return false,
                Ok(k) => self.buf.extend_from_slice(&chunk[..k]),
            }
        }
        true
    }

    fn take(&mut self, n: usize) -> Option<Vec<u8>> {
        self.fill(n).then(|| self.buf.drain(..n).collect())
    }

    /// The bytes up to and including `delim`.
    fn take_through(&mut self, delim: &[u8], max: usize) -> Option<Vec<u8>> {
        loop {
            if let Some(at) = super::gen::find(&self.buf, delim) {
                return self.take(at + delim.len());
            }
            if self.buf.len() > max || !self.fill(self.buf.len() + 1) {
                return None;
            }
        }
    }
}

fn serve(stream: TcpStream, records: &Mutex<Vec<Record>>) {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let _ = stream.set_nodelay(true);
    let mut c = Conn {
        stream,
        buf: Vec::new(),
    };
    while let Some(record) = read_request(&mut c) {
        let close = record
            .header("connection")
            .is_some_and(|v| v.to_ascii_lowercase().windows(5).any(|w| w == b"close"));
        let id = {
            let mut recs = records.lock().unwrap();
            recs.push(record);
            recs.len() - 1
        };
        let body = format!("rec {id}");
        let answer = format!(
            "HTTP/1.1 200 OK\r\nx-rec: {id}\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if c.stream.write_all(answer.as_bytes()).is_err() || close {
            return;
        }
    }
}

/// One complete request, or None (EOF, timeout, or bytes that are no request: recorded as a
/// problem record so that the comparison sees them).
fn read_request(c: &mut Conn) -> Option<Record> {
    let head = c.take_through(b"\r\n\r\n", MAX_HEAD)?;
    let mut lines = head[..head.len() - 4].split(|&b| b == b'\n');
    let line = strip_cr(lines.next()?);
    let parts: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let mut rec = Record {
        method: parts.first().map(|p| p.to_vec()).unwrap_or_default(),
        target: parts.get(1).map(|p| p.to_vec()).unwrap_or_default(),
        headers: Vec::new(),
        body: Vec::new(),
        problem: None,
    };
    if parts.len() != 3 {
        rec.problem = Some(format!("request line {:?}", String::from_utf8_lossy(line)));
    }
    for l in lines {
        let l = strip_cr(l);
        match l.iter().position(|&b| b == b':') {
            Some(i) => rec
                .headers
                .push((l[..i].to_vec(), trim(&l[i + 1..]).to_vec())),
            None => rec.problem = Some(format!("header line {:?}", String::from_utf8_lossy(l))),
        }
    }
    match framing(&rec) {
        Ok(Framing::Chunked) => rec.body = read_chunked(c)?,
        Ok(Framing::Length(n)) => rec.body = c.take(n)?,
        Ok(Framing::None) => {}
        Err(problem) => {
            rec.problem = Some(problem);
            return Some(rec);
        }
    }
    Some(rec)
}

enum Framing {
    None,
    Length(usize),
    Chunked,
}

/// RFC 9112 6.3, with every ambiguity a problem.
fn framing(rec: &Record) -> Result<Framing, String> {
    let values = |name: &str| -> Vec<Vec<u8>> {
        rec.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v.clone())
            .collect()
    };
    let te = values("transfer-encoding");
    let cl = values("content-length");
    if !te.is_empty() {
        if !cl.is_empty() {
            return Err("Transfer-Encoding and Content-Length forwarded together".into());
        }
        let all = te.join(&b","[..]).to_ascii_lowercase();
        let codings: Vec<&[u8]> = all
            .split(|&b| b == b',')
            .map(trim)
            .filter(|c| !c.is_empty())
            .collect();
        if codings != [b"chunked"] {
            return Err(format!(
                "Transfer-Encoding {:?} forwarded",
                String::from_utf8_lossy(&all)
            ));
        }
        return Ok(Framing::Chunked);
    }
    if cl.is_empty() {
        return Ok(Framing::None);
    }
    if cl.len() > 1 || cl[0].contains(&b',') {
        return Err(format!("Content-Length {:?} forwarded", cl));
    }
    std::str::from_utf8(&cl[0])
        .ok()
        .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
        .map(Framing::Length)
        .ok_or_else(|| {
            format!(
                "Content-Length {:?} forwarded",
                String::from_utf8_lossy(&cl[0])
            )
        })
}

/// Strict chunked decoding; None on anything else (the proxy forwarded broken framing).
fn read_chunked(c: &mut Conn) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = c.take_through(b"\r\n", 4096)?;
        let size = &line[..line.len() - 2];
        let size = size.split(|&b| b == b';').next()?;
        let n = usize::from_str_radix(std::str::from_utf8(trim(size)).ok()?, 16).ok()?;
        if n == 0 {
            // Trailers up to the empty line.
            loop {
                let t = c.take_through(b"\r\n", MAX_HEAD)?;
                if t.len() == 2 {
                    return Some(body);
                }
            }
        }
        body.extend_from_slice(&c.take(n)?);
        if c.take(2)? != b"\r\n" {
            return None;
        }
    }
}

fn strip_cr(l: &[u8]) -> &[u8] {
    l.strip_suffix(b"\r").unwrap_or(l)
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}
