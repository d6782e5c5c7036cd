//! A message's framing for one target (`log ... format F`), as HAProxy 2.6 sends it:
//!
//! ```text
//!  local     <134>Dec  4 01:10:58 haproxy[13451]: MSG          (the default)
//!  rfc3164   <134>Dec  4 01:10:58 HOST haproxy[13451]: MSG     (HOST: log-send-hostname,
//!                                                               else "localhost")
//!  rfc5424   <134>1 2026-12-04T01:10:58.263096+00:00 HOST haproxy 13451 - - MSG
//!                                                              (HOST "-" when not sent)
//!  priority  <134>MSG      short  <6>MSG      timed  <6>ISO-DATE MSG
//!  iso       ISO-DATE MSG  raw    MSG
//! ```
//!
//! Every message ends in a newline; `len` bounds what comes before it (stdout and stderr are
//! never cut, as in HAProxy). Dates are UTC, as everywhere in ringlb's logs.

use std::io::Write;
use std::time::SystemTime;

use super::dates::{bsd_date, iso_date};
use crate::config::model_log::{LogTarget, SyslogFormat};

/// What every header may carry besides the target's own settings.
pub struct Origin<'a> {
    pub tag: &'a str,
    pub pid: u32,
    /// `log-send-hostname`'s name.
    pub hostname: Option<&'a str>,
}

/// A batch's header dates, formatted once for all its messages.
pub struct Dates {
    pub bsd: String,
    pub iso: String,
}

impl Dates {
    pub fn of(now: SystemTime) -> Self {
        Dates {
            bsd: bsd_date(now),
            iso: iso_date(now),
        }
    }
}

/// The format a target uses: `local` unless written, `rfc3164` when `log-send-hostname` is set.
pub fn format_of(t: &LogTarget, hostname_sent: bool) -> SyslogFormat {
    match t.format {
        Some(f) => f,
        None if hostname_sent => SyslogFormat::Rfc3164,
        None => SyslogFormat::Local,
    }
}

/// Appends the framed message to `out`.
pub fn frame(
    out: &mut Vec<u8>,
    t: &LogTarget,
    level: u8,
    o: &Origin,
    d: &Dates,
    msg: &[u8],
    cut: bool,
) {
    let start = out.len();
    let pri = u32::from(t.facility) * 8 + u32::from(level);
    let fmt = format_of(t, o.hostname.is_some());
    // Writing into a Vec cannot fail.
    let _ = match fmt {
        SyslogFormat::Local => write!(out, "<{pri}>{} {}[{}]: ", d.bsd, o.tag, o.pid),
        SyslogFormat::Rfc3164 => write!(
            out,
            "<{pri}>{} {} {}[{}]: ",
            d.bsd,
            o.hostname.unwrap_or("localhost"),
            o.tag,
            o.pid
        ),
        SyslogFormat::Rfc5424 => write!(
            out,
            "<{pri}>1 {} {} {} {} - - ",
            d.iso,
            o.hostname.unwrap_or("-"),
            o.tag,
            o.pid
        ),
        SyslogFormat::Priority => write!(out, "<{pri}>"),
        SyslogFormat::Short => write!(out, "<{level}>"),
        SyslogFormat::Timed => write!(out, "<{level}>{} ", d.iso),
        SyslogFormat::Iso => write!(out, "{} ", d.iso),
        SyslogFormat::Raw => Ok(()),
    };
    out.extend_from_slice(msg);
    if cut {
        out.truncate(start + t.len);
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::Loc;
    use crate::config::model_log::LogDest;
    use std::time::{Duration, UNIX_EPOCH};

    fn target(format: Option<SyslogFormat>, len: usize) -> LogTarget {
        LogTarget {
            dest: LogDest::Stdout,
            format,
            facility: 16,
            level: 7,
            minlevel: 0,
            len,
            loc: Loc {
                file: "t".into(),
                line: 1,
            },
        }
    }

    fn framed(format: Option<SyslogFormat>, host: Option<&str>, len: usize) -> String {
        // 2026-12-04T01:10:58.263096 UTC
        let now = UNIX_EPOCH + Duration::from_micros(1_796_346_658_263_096);
        let o = Origin {
            tag: "haproxy",
            pid: 42,
            hostname: host,
        };
        let mut out = Vec::new();
        frame(
            &mut out,
            &target(format, len),
            6,
            &o,
            &Dates::of(now),
            b"hello world",
            true,
        );
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn haproxy_framings() {
        assert_eq!(
            framed(None, None, 1024),
            "<134>Dec  4 01:10:58 haproxy[42]: hello world\n"
        );
        assert_eq!(
            framed(None, Some("h"), 1024),
            "<134>Dec  4 01:10:58 h haproxy[42]: hello world\n"
        );
        assert_eq!(
            framed(Some(SyslogFormat::Rfc3164), None, 1024),
            "<134>Dec  4 01:10:58 localhost haproxy[42]: hello world\n"
        );
        assert_eq!(
            framed(Some(SyslogFormat::Rfc5424), None, 1024),
            "<134>1 2026-12-04T01:10:58.263096+00:00 - haproxy 42 - - hello world\n"
        );
        assert_eq!(
            framed(Some(SyslogFormat::Short), None, 1024),
            "<6>hello world\n"
        );
        assert_eq!(framed(Some(SyslogFormat::Raw), None, 1024), "hello world\n");
        assert_eq!(framed(Some(SyslogFormat::Raw), None, 5), "hello\n");
    }
}
