//! The line `ringlb -d` prints for a record: HAProxy 2.6's `option httplog` layout, or
//! `option tcplog` for a mode tcp connection, with its date.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::RequestRecord;
use crate::config::model::{Mode, Model};
use crate::worker::Worker;

impl RequestRecord {
    /// `backend/server` names as HAProxy logs them: the frontend's name before routing,
    /// `<NOSRV>` before a server was tried.
    pub fn names<'m>(&'m self, model: &'m Model) -> (&'m str, &'m str, &'m str) {
        let fe = model.frontend(self.frontend);
        let fe_name = fe.map_or("-", |f| f.name.as_str());
        let be = self.backend.and_then(|b| model.backend(b));
        let be_name = be.map_or(fe_name, |b| b.name.as_str());
        let srv_name = be
            .zip(self.server)
            .and_then(|(b, s)| b.server(s))
            .map(|s| s.name.as_str())
            .or(self.added_server.as_deref())
            .or(self.service)
            .unwrap_or("<NOSRV>");
        (fe_name, be_name, srv_name)
    }

    /// `%ft`'s transport mark: `~` after the frontend's name on a TLS connection.
    fn tilde(&self) -> &'static str {
        if self.tls {
            "~"
        } else {
            ""
        }
    }

    /// `%rc`: the retries, `+` first when redispatched.
    fn retries_field(&self) -> String {
        let plus = if self.redispatched { "+" } else { "" };
        format!("{plus}{}", self.retries)
    }

    /// The line `ringlb -d` prints for a mode tcp connection: HAProxy's `option tcplog`
    /// layout, `%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq`
    /// (connection counts and queue lengths not recorded: 0).
    pub fn tcplog(&self, model: &Model, date: SystemTime) -> String {
        let (fe_name, be_name, srv_name) = self.names(model);
        let t = self.marks.timers();
        format!(
            "{peer} [{date}] {fe_name}{tilde} {be_name}/{srv_name} {}/{}/{} {bytes} {state} \
             0/0/0/0/{retries} 0/0",
            t.tw,
            t.tc,
            t.tt,
            peer = self.peer,
            tilde = self.tilde(),
            date = log_date(date),
            bytes = self.bytes_out,
            state = self.state(),
            retries = self.retries_field(),
        )
    }

    /// The line `ringlb -d` prints: HAProxy's `option httplog` layout,
    /// `%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc
    /// %sq/%bq %hr %hs %{+Q}r`. Connection counts and queue lengths are not recorded (0);
    /// there are no captures (no `{}`), and no persistence cookies (`--` after the state).
    pub fn httplog(&self, model: &Model, date: SystemTime) -> String {
        let (fe_name, be_name, srv_name) = self.names(model);
        let t = self.marks.timers();
        let status = self.status.map_or(-1, i64::from);
        let line = self.request_line.as_deref().unwrap_or("<BADREQ>");
        format!(
            "{peer} [{date}] {fe_name}{tilde} {be_name}/{srv_name} {}/{}/{}/{}/{} {status} {bytes} - - \
             {state}-- 0/0/0/0/{retries} 0/0 \"{line}\"",
            t.treq,
            t.tw,
            t.tc,
            t.tr,
            t.ta,
            peer = self.peer,
            tilde = self.tilde(),
            date = log_date(date),
            bytes = self.bytes_out,
            state = self.state(),
            retries = self.retries_field(),
        )
    }
}

#[cold]
pub(super) fn print_record(w: &Worker, rec: &RequestRecord) {
    // `%tr` is the date the request started, `%t` the connection's accept: now, less how
    // long it lasted.
    let t = rec.marks.timers();
    let lasted = match rec.mode {
        Mode::Http => t.ta,
        Mode::Tcp => t.tt,
    };
    let date = SystemTime::now()
        .checked_sub(Duration::from_millis(lasted.max(0) as u64))
        .unwrap_or_else(SystemTime::now);
    let line = match rec.mode {
        Mode::Http => rec.httplog(&w.model, date),
        Mode::Tcp => rec.tcplog(&w.model, date),
    };
    eprintln!("{line}");
}

/// `02/Dec/2026:18:17:38.123`, in UTC (HAProxy prints local time; the machines here run UTC).
pub fn log_date(t: SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{d:02}/{}/{y}:{:02}:{:02}:{:02}.{:03}",
        MONTHS.get(m.saturating_sub(1) as usize).unwrap_or(&"Jan"),
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31): Howard Hinnant's algorithm.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}
