//! `tune.h2.*` in global: the SETTINGS ringlb's HTTP/2 frontend announces (serve/h2/), with
//! HAProxy 2.6's names, defaults and bounds.

use super::draft::GlobalDraft;
use super::keywords::Cx;
use super::model::{H2Tune, DEFAULT_BUFSIZE};

/// HAProxy's defaults.
const HEADER_TABLE_SIZE: u32 = 4096;
const INITIAL_WINDOW_SIZE: u32 = 65535;
const MAX_CONCURRENT_STREAMS: u32 = 100;
/// RFC 9113 6.5.2: SETTINGS_MAX_FRAME_SIZE lies between 2^14 and 2^24-1.
const MIN_FRAME_SIZE: u32 = 1 << 14;
const MAX_FRAME_SIZE: u32 = (1 << 24) - 1;
/// HAProxy: "cannot be larger than 65536 bytes".
const MAX_HEADER_TABLE_SIZE: u32 = 65536;
/// RFC 9113 6.9.1: a flow-control window is at most 2^31-1.
const MAX_WINDOW: u32 = (1 << 31) - 1;

fn number(cx: &mut Cx, lo: u32, hi: u32) -> Option<u32> {
    let a = cx.one("a number")?;
    let n = cx.number::<u32>("value", a)?;
    if !(lo..=hi).contains(&n) {
        let kw = cx.kw;
        cx.err(format!("'{kw} {a}': must be between {lo} and {hi}"));
        return None;
    }
    Some(n)
}

pub fn header_table_size(g: &mut GlobalDraft, cx: &mut Cx) {
    if let Some(n) = number(cx, 0, MAX_HEADER_TABLE_SIZE) {
        g.h2_header_table_size = Some(n);
    }
}

pub fn initial_window_size(g: &mut GlobalDraft, cx: &mut Cx) {
    if let Some(n) = number(cx, 0, MAX_WINDOW) {
        g.h2_initial_window_size = Some(n);
    }
}

pub fn max_concurrent_streams(g: &mut GlobalDraft, cx: &mut Cx) {
    if let Some(n) = number(cx, 0, u32::MAX) {
        g.h2_max_concurrent_streams = Some(n);
    }
}

pub fn max_frame_size(g: &mut GlobalDraft, cx: &mut Cx) {
    if let Some(n) = number(cx, MIN_FRAME_SIZE, MAX_FRAME_SIZE) {
        g.h2_max_frame_size = Some(n);
    }
}

/// The settings as they apply: HAProxy's defaults, 0 streams meaning no limit, and no frame
/// larger than a buffer (`tune.bufsize`) announced.
pub fn finish(g: &GlobalDraft) -> H2Tune {
    let bufsize = g.bufsize.unwrap_or(DEFAULT_BUFSIZE);
    let buf = u32::try_from(bufsize).unwrap_or(MAX_FRAME_SIZE);
    let frame_cap = buf.clamp(MIN_FRAME_SIZE, MAX_FRAME_SIZE);
    H2Tune {
        header_table_size: g.h2_header_table_size.unwrap_or(HEADER_TABLE_SIZE),
        initial_window_size: g.h2_initial_window_size.unwrap_or(INITIAL_WINDOW_SIZE),
        max_concurrent_streams: match g.h2_max_concurrent_streams {
            Some(0) => u32::MAX,
            Some(n) => n,
            None => MAX_CONCURRENT_STREAMS,
        },
        max_frame_size: g.h2_max_frame_size.unwrap_or(frame_cap).min(frame_cap),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_haproxys() {
        let t = finish(&GlobalDraft::default());
        assert_eq!(t.header_table_size, 4096);
        assert_eq!(t.initial_window_size, 65535);
        assert_eq!(t.max_concurrent_streams, 100);
        assert_eq!(t.max_frame_size, 16384);
    }

    #[test]
    fn frame_size_follows_bufsize_and_zero_streams_is_unlimited() {
        let g = GlobalDraft {
            bufsize: Some(65536),
            h2_max_concurrent_streams: Some(0),
            ..GlobalDraft::default()
        };
        let t = finish(&g);
        assert_eq!(t.max_frame_size, 65536);
        assert_eq!(t.max_concurrent_streams, u32::MAX);
        let g = GlobalDraft {
            h2_max_frame_size: Some(1 << 20),
            ..GlobalDraft::default()
        };
        assert_eq!(finish(&g).max_frame_size, 16384, "never above tune.bufsize");
    }
}
