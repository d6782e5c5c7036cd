//! A proxy's log settings from its draft: `log global` expanded to the global targets, the
//! line layout chosen by `option httplog` / `option tcplog` / `log-format`, parsed once.

use super::draft::{LogEntry, LogLineDraft, ProxyDraft};
use super::error::Diags;
use super::log_format::{self, HTTPLOG, HTTPLOG_CLF, TCPLOG};
use super::model::{Global, Mode};
use super::model_log::{LineFormat, LogLine, ProxyLog};

/// HAProxy's default tag is the program's name.
pub const DEFAULT_LOG_TAG: &str = "ringlb";

pub fn proxy_log(p: &ProxyDraft, mode: Mode, global: &Global, diags: &mut Diags) -> ProxyLog {
    let d = &p.log;
    let targets = d
        .entries
        .iter()
        .flat_map(|e| match e {
            LogEntry::Global => global.logs.clone(),
            LogEntry::Target(t) => vec![t.clone()],
        })
        .collect();
    let line = match &d.line {
        None => LineFormat::Connect,
        Some((l, loc)) => {
            let l = match (l, mode) {
                (LogLineDraft::Http | LogLineDraft::HttpClf, Mode::Tcp) if p.is_frontend() => {
                    diags.warn(loc, format!("'option httplog' not usable with proxy '{}' (needs 'mode http'); falling back to 'option tcplog'", p.name));
                    LogLineDraft::Tcp
                }
                (l, _) => l.clone(),
            };
            LineFormat::End(layout(l))
        }
    };
    ProxyLog {
        targets,
        tag: d.tag.clone(),
        line,
        dontlognull: d.dontlognull,
        separate_errors: d.separate_errors,
        dontlog_normal: d.dontlog_normal,
        captures: d.captures.clone(),
    }
}

fn layout(l: LogLineDraft) -> LogLine {
    let text = match l {
        LogLineDraft::Custom(line) => return line,
        LogLineDraft::Http => HTTPLOG,
        LogLineDraft::HttpClf => HTTPLOG_CLF,
        LogLineDraft::Tcp => TCPLOG,
    };
    // HAProxy's own layouts always parse (log_format's tests check them).
    log_format::parse(text).unwrap_or_default()
}

/// The system's host name (`log-send-hostname` without a name).
pub fn system_hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}
