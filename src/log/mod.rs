//! Logs: HAProxy's access lines and event messages, sent to syslog targets without ever
//! making a core wait.
//!
//! ```text
//!  plan.rs     which targets each proxy's messages go to (`LogPlan`, `SetId`)
//!  format.rs   a record's line: a `LogLine` (config/log_format.rs parses log-format strings
//!              and HAProxy's httplog/tcplog/clf layouts) rendered into bytes
//!  core.rs     `CoreLog`, one per worker: lines formatted into a core-local batch, handed
//!              over when full or on a 10 ms tick (`record::Sink::Log` calls it)
//!  thread.rs   the logger thread (`Logger`, `LogHub`): a bounded channel of batches; it
//!              frames each message for each target and sends it, non-blocking
//!  dates.rs    the dates lines and headers print (UTC)
//!  syslog.rs   framing: local / rfc3164 / rfc5424 / priority / short / timed / iso / raw
//!  target.rs   the open sockets: UDP, unix datagram, stdout, stderr
//!  events.rs   HAProxy's messages at a soft stop (`Proxy www stopped ...`)
//! ```
//!
//! Flow: `end_request` -> `Sink::Log` -> `CoreLog::record` (format, no syscall) -> batch ->
//! `try_send` -> logger thread -> `send` per target. The health checker and the launcher
//! send their messages through a `LogHub` too. Lost messages (a full channel, a target that
//! would block or is unreachable) are counted in `LogCounters`, never waited for.

pub mod core;
pub mod dates;
pub mod events;
pub mod format;
pub mod plan;
pub mod syslog;
pub mod target;
pub mod thread;

/// Messages written to a target, and messages lost (each counted once per target it was
/// for): the stats module's `LogCounts`, shared by the cores, the logger thread and the
/// reports (`StatsShared::log`, the stats page, metrics).
pub use crate::stats::LogCounts as LogCounters;

pub use self::core::{CoreLog, FLUSH_EVERY};
pub use plan::{LogPlan, SetId};
pub use thread::{LogHub, Logger};

#[cfg(test)]
mod tests;
