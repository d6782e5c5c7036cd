//! The client side: sends a connection's bytes at once, half-closes, reads everything until
//! the proxy closes, and splits what came back into answers (its own parser: the test must not
//! trust the crate's).

use super::gen::Case;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

/// A proxy that neither answers nor closes within this long is stuck (all proxy timeouts in
/// the configs are shorter).
const READ_TIMEOUT: Duration = Duration::from_secs(8);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// `x-rec`: the backend record this answer came from; None for the proxy's own answers.
    pub rec: Option<usize>,
}

#[derive(Clone, Debug, Default)]
pub struct Exchange {
    pub answers: Vec<Answer>,
    /// Why reading stopped early (timeout, unparseable bytes), if it did.
    pub trouble: Option<String>,
}

pub fn exchange(addr: SocketAddr, case: &Case) -> Exchange {
    let mut out = Exchange::default();
    let mut stream = match TcpStream::connect(addr) {
        Ok(s) => s,
        Err(e) => {
            out.trouble = Some(format!("connect: {e}"));
            return out;
        }
    };
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let _ = stream.set_nodelay(true);
    // A proxy may refuse and close before reading everything: a failed write is an answer too.
    let _ = stream.write_all(&case.bytes);
    let _ = stream.shutdown(Shutdown::Write);
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            // A reset after the proxy's answers (unread request bytes) ends the exchange.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => {
                out.trouble = Some(format!("read: {e} after {} bytes", bytes.len()));
                break;
            }
        }
    }
    if let Err(e) = split_answers(&bytes, &mut out.answers) {
        out.trouble.get_or_insert(e);
    }
    out
}

/// Responses one after another: Content-Length, chunked, or to the end; 1xx skipped.
fn split_answers(mut bytes: &[u8], out: &mut Vec<Answer>) -> Result<(), String> {
    while !bytes.is_empty() {
        let end = super::gen::find(bytes, b"\r\n\r\n")
            .ok_or_else(|| format!("unended response head {:?}", lossy(bytes)))?;
        let head = &bytes[..end];
        let rest = &bytes[end + 4..];
        let text = String::from_utf8_lossy(head);
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("status line {status_line:?}"))?;
        let mut length = None;
        let mut chunked = false;
        let mut rec = None;
        for l in lines {
            let Some((n, v)) = l.split_once(':') else {
                continue;
            };
            let (n, v) = (n.trim().to_ascii_lowercase(), v.trim());
            match n.as_str() {
                "content-length" => length = v.parse::<usize>().ok(),
                "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
                "x-rec" => rec = v.parse().ok(),
                _ => {}
            }
        }
        let body_len = if (100..200).contains(&status) {
            0
        } else if chunked {
            chunked_len(rest).ok_or("bad chunked response")?
        } else {
            length.unwrap_or(rest.len())
        };
        if body_len > rest.len() {
            return Err(format!("response body cut short ({status})"));
        }
        if !(100..200).contains(&status) {
            out.push(Answer { status, rec });
        }
        bytes = &rest[body_len..];
    }
    Ok(())
}

/// Length of a chunked body (through its last CRLF) at the start of `b`.
fn chunked_len(b: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        let eol = super::gen::find(&b[at..], b"\r\n")? + at;
        let size = std::str::from_utf8(&b[at..eol]).ok()?;
        let n = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        at = eol + 2;
        if n == 0 {
            loop {
                let e = super::gen::find(&b[at..], b"\r\n")? + at;
                let empty = e == at;
                at = e + 2;
                if empty {
                    return Some(at);
                }
            }
        }
        at += n + 2;
    }
}

pub fn lossy(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b.iter().take(400) {
        match c {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    if b.len() > 400 {
        s.push_str(&format!("...({} bytes)", b.len()));
    }
    s
}
