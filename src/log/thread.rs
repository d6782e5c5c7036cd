//! The logger thread: it owns every target's socket and writes what the cores hand over, in
//! batches, on a bounded channel. A core never waits on it: a full channel drops the batch
//! (counted), and the thread's own sends are non-blocking (a send that would block is a
//! dropped message, counted).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::SystemTime;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};

use super::plan::{LogPlan, SetId};
use super::syslog::{frame, Dates, Origin};
use super::target::Open;
use super::LogCounters;
use crate::config::model::Model;

/// Batches waiting for the logger thread; beyond this the cores drop (about 64k lines).
const CHANNEL_BATCHES: usize = 1024;

/// Messages formatted on one core, their text back to back.
#[derive(Default)]
pub struct Batch {
    pub text: Vec<u8>,
    pub entries: Vec<Entry>,
}

/// One message of a batch: its text ends at `end`.
#[derive(Clone, Copy)]
pub struct Entry {
    pub end: u32,
    pub level: u8,
    pub set: SetId,
}

/// What every thread that logs holds: the way to the logger thread, the plan, the counters.
#[derive(Clone)]
pub struct LogHub {
    tx: Sender<Batch>,
    pub plan: Arc<LogPlan>,
    pub counters: Arc<LogCounters>,
}

impl LogHub {
    /// Hands a batch over, or drops it (counted) when the logger thread is behind.
    pub fn send(&self, batch: Batch) {
        if batch.entries.is_empty() {
            return;
        }
        if let Err(TrySendError::Full(b) | TrySendError::Disconnected(b)) = self.tx.try_send(batch)
        {
            let lost: u64 = b
                .entries
                .iter()
                .map(|e| self.plan.fanout(e.set, e.level))
                .sum();
            self.counters.dropped.fetch_add(lost, Ordering::Relaxed);
        }
    }

    /// One message from outside the cores (health checks, start and stop).
    pub fn event(&self, set: SetId, level: u8, msg: &str) {
        let mut b = Batch::default();
        b.text.extend_from_slice(msg.as_bytes());
        b.entries.push(Entry {
            end: b.text.len() as u32,
            level,
            set,
        });
        self.send(b);
    }
}

/// The running logger thread; `stop` once every other hub has gone (the workers ended).
pub struct Logger {
    hub: LogHub,
    thread: JoinHandle<()>,
}

impl Logger {
    /// Starts the thread when some proxy logs somewhere; `Ok(None)` when nothing does.
    pub fn start(model: &Model) -> Result<Option<Logger>, String> {
        let plan = Arc::new(LogPlan::new(model));
        if plan.is_empty() {
            return Ok(None);
        }
        let (tx, rx) = bounded(CHANNEL_BATCHES);
        let counters = Arc::new(LogCounters::default());
        let hub = LogHub {
            tx,
            plan: Arc::clone(&plan),
            counters: Arc::clone(&counters),
        };
        let thread = std::thread::Builder::new()
            .name("ringlb-logger".into())
            .spawn(move || run(&rx, &plan, &counters))
            .map_err(|e| format!("cannot start the logger thread: {e}"))?;
        Ok(Some(Logger { hub, thread }))
    }

    pub fn hub(&self) -> LogHub {
        self.hub.clone()
    }

    /// The counters (for `StatsShared::log`).
    pub fn counters(&self) -> Arc<LogCounters> {
        Arc::clone(&self.hub.counters)
    }

    /// Writes what is still queued, then ends the thread. An empty batch is the stop: hubs
    /// never send one, and some may outlive the workers (a runtime's unfinished tasks).
    pub fn stop(self) {
        let _ = self.hub.tx.send(Batch::default());
        let _ = self.thread.join();
    }
}

/// Each target's framed messages of one batch, back to back, and where each ends.
#[derive(Default)]
struct Outbox {
    text: Vec<u8>,
    ends: Vec<usize>,
}

fn run(rx: &Receiver<Batch>, plan: &LogPlan, counters: &LogCounters) {
    let mut open: Vec<Open> = plan.targets.iter().map(Open::new).collect();
    let mut boxes: Vec<Outbox> = plan.targets.iter().map(|_| Outbox::default()).collect();
    while let Ok(batch) = rx.recv() {
        if batch.entries.is_empty() {
            return;
        }
        frame_batch(&batch, plan, &open, &mut boxes);
        let (mut sent, mut dropped) = (0u64, 0u64);
        for (o, b) in open.iter_mut().zip(boxes.iter_mut()) {
            if b.ends.is_empty() {
                continue;
            }
            let n = o.send_all(&b.text, &b.ends);
            sent += n as u64;
            dropped += (b.ends.len() - n) as u64;
            b.text.clear();
            b.ends.clear();
        }
        counters.sent.fetch_add(sent, Ordering::Relaxed);
        counters.dropped.fetch_add(dropped, Ordering::Relaxed);
    }
}

/// Frames every message of `batch` into the outbox of each target that takes it.
fn frame_batch(batch: &Batch, plan: &LogPlan, open: &[Open], boxes: &mut [Outbox]) {
    let dates = Dates::of(SystemTime::now());
    let mut start = 0usize;
    for e in &batch.entries {
        let end = e.end as usize;
        let msg = batch.text.get(start..end).unwrap_or(&[]);
        start = end;
        let Some(set) = plan.sets.get(e.set as usize) else {
            continue;
        };
        let origin = Origin {
            tag: &set.tag,
            pid: plan.pid,
            hostname: plan.hostname.as_deref(),
        };
        for &ti in &set.targets {
            let (Some(t), Some(o), Some(b)) =
                (plan.targets.get(ti), open.get(ti), boxes.get_mut(ti))
            else {
                continue;
            };
            let Some(level) = t.accepts(e.level) else {
                continue;
            };
            frame(&mut b.text, t, level, &origin, &dates, msg, o.cuts());
            b.ends.push(b.text.len());
        }
    }
}
