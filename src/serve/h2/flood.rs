//! Frame floods h2 does not bound by itself, counted on the bytes as they pass (io.rs).
//!
//! What the `h2` crate (0.4.21) already limits, and ringlb configures (mod.rs): Rapid Reset
//! (`max_pending_accept_reset_streams`, `max_local_error_reset_streams`), CONTINUATION floods
//! and HPACK bombs (`max_header_list_size`, checked while the block is decoded), SETTINGS
//! acknowledgements (one pending at a time), PING replies (one pending pong). What it does
//! not limit is the rate of frames that cost the server work but move no request forward:
//! SETTINGS, PING, PRIORITY, empty DATA without END_STREAM, empty CONTINUATION and frames of
//! unknown types (CVE-2019-9512, -9515, -9518). Those are counted here, from the frame headers
//! of the plaintext the client sends, without forking h2: over `BUDGET` in one `WINDOW` the
//! connection is flagged, and the connection level answers GOAWAY ENHANCE_YOUR_CALM and closes.

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use crate::worker::notify::Notify;

/// The client connection preface ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") precedes the frames.
const PREFACE_LEN: usize = 24;
const FRAME_HEADER: usize = 9;
/// Frames that move no request forward allowed per `WINDOW`: browsers send a handful per
/// connection; h2load and curl a few per second at most.
pub const BUDGET: u32 = 1000;
pub const WINDOW: Duration = Duration::from_secs(1);

const DATA: u8 = 0;
const HEADERS: u8 = 1;
const PRIORITY: u8 = 2;
const SETTINGS: u8 = 4;
const PING: u8 = 6;
const CONTINUATION: u8 = 9;
const ACK: u8 = 1;
const END_STREAM: u8 = 1;

struct Scan {
    preface_left: usize,
    head: [u8; FRAME_HEADER],
    have: usize,
    /// Payload bytes of the current frame still to pass.
    skip: usize,
    window_start: Instant,
    count: u32,
}

pub struct FrameCounter {
    scan: RefCell<Scan>,
    flooded: Cell<bool>,
    /// Woken when `flooded` turns true.
    pub notify: Notify,
}

impl Default for FrameCounter {
    fn default() -> Self {
        FrameCounter {
            scan: RefCell::new(Scan {
                preface_left: PREFACE_LEN,
                head: [0; FRAME_HEADER],
                have: 0,
                skip: 0,
                window_start: Instant::now(),
                count: 0,
            }),
            flooded: Cell::new(false),
            notify: Notify::default(),
        }
    }
}

/// A frame that costs work but carries no request forward.
fn is_idle_frame(kind: u8, flags: u8, len: usize) -> bool {
    match kind {
        SETTINGS | PING => flags & ACK == 0,
        PRIORITY => true,
        DATA => len == 0 && flags & END_STREAM == 0,
        HEADERS => false,
        CONTINUATION => len == 0,
        // Unknown types are ignored by h2 (RFC 9113 5.5): free for the client to send.
        k => k > CONTINUATION,
    }
}

impl FrameCounter {
    pub fn is_flooded(&self) -> bool {
        self.flooded.get()
    }

    /// Scans the next bytes the client sent.
    pub fn saw(&self, mut bytes: &[u8]) {
        if self.flooded.get() {
            return;
        }
        let mut s = self.scan.borrow_mut();
        let skip = s.preface_left.min(bytes.len());
        s.preface_left -= skip;
        bytes = &bytes[skip..];
        while !bytes.is_empty() {
            if s.skip > 0 {
                let n = s.skip.min(bytes.len());
                s.skip -= n;
                bytes = &bytes[n..];
                continue;
            }
            let have = s.have;
            let n = (FRAME_HEADER - have).min(bytes.len());
            s.head[have..have + n].copy_from_slice(&bytes[..n]);
            s.have += n;
            bytes = &bytes[n..];
            if s.have < FRAME_HEADER {
                return;
            }
            s.have = 0;
            let h = s.head;
            let len = usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
            s.skip = len;
            if is_idle_frame(h[3], h[4], len) && s.count_one() {
                self.flooded.set(true);
                self.notify.notify_all();
                return;
            }
        }
    }
}

impl Scan {
    /// Counts one idle frame; true when over the budget.
    fn count_one(&mut self) -> bool {
        let now = Instant::now();
        if now.duration_since(self.window_start) >= WINDOW {
            self.window_start = now;
            self.count = 0;
        }
        self.count += 1;
        self.count > BUDGET
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        let n = payload.len();
        let mut f = vec![
            (n >> 16) as u8,
            (n >> 8) as u8,
            n as u8,
            kind,
            flags,
            0,
            0,
            0,
            1,
        ];
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn a_ping_flood_is_flagged_and_requests_are_not() {
        let c = FrameCounter::default();
        c.saw(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        for _ in 0..5000 {
            c.saw(&frame(HEADERS, 5, b"abc"));
            c.saw(&frame(DATA, 1, b"body"));
        }
        assert!(!c.is_flooded());
        let ping = frame(PING, 0, &[0; 8]);
        let mut all = Vec::new();
        for _ in 0..=BUDGET {
            all.extend_from_slice(&ping);
        }
        // Split anywhere, even inside a frame header.
        let (a, b) = all.split_at(4);
        c.saw(a);
        c.saw(b);
        assert!(c.is_flooded());
    }

    #[test]
    fn acks_and_data_with_payload_are_free() {
        let c = FrameCounter::default();
        c.saw(&[0; PREFACE_LEN]);
        for _ in 0..3000 {
            c.saw(&frame(SETTINGS, ACK, &[]));
            c.saw(&frame(PING, ACK, &[0; 8]));
            c.saw(&frame(DATA, 0, b"x"));
        }
        assert!(!c.is_flooded());
        for _ in 0..=BUDGET {
            c.saw(&frame(DATA, 0, &[]));
        }
        assert!(c.is_flooded(), "empty DATA frames count");
    }
}
