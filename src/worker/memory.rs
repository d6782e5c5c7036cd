//! Giving freed buffer memory back to the system.
//!
//! A crowd of clients that connect at about the same time holds a 16 KiB buffer or two each for
//! a moment, then goes idle and gives them back. glibc keeps the freed heap (the resident size
//! stays where the peak was) unless asked to return it. So, once enough buffer memory was freed
//! on a core, the core asks glibc to give its free pages back (`malloc_trim`), at most once
//! per `TRIM_INTERVAL`: a trim walks the heap, and a busy core frees buffers all the time.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Buffer memory freed on a core before a trim is worth it. What is freed after a core's last
/// trim stays until the next one: 4 MiB left ~1.6 KB per idle client behind (5,000 clients,
/// 2 cores) in the runs of scripts/idle-clients.sh, 1 MiB less than 0.4 KB.
const TRIM_AFTER: usize = 1 << 20;
/// The least time between two trims asked for by one core.
const TRIM_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct Reclaim {
    freed: Cell<usize>,
    last: Cell<Option<Instant>>,
    /// A trim is scheduled for the end of the current interval.
    scheduled: Cell<bool>,
}

impl Reclaim {
    /// Records `bytes` of buffer memory freed; trims now, or at the end of the interval.
    pub fn freed(self: &Rc<Self>, bytes: usize) {
        let freed = self.freed.get().saturating_add(bytes);
        self.freed.set(freed);
        if freed < TRIM_AFTER || self.scheduled.get() {
            return;
        }
        let wait = self.last.get().map_or(Duration::ZERO, |t| {
            TRIM_INTERVAL.saturating_sub(t.elapsed())
        });
        if wait.is_zero() {
            self.trim();
            return;
        }
        self.scheduled.set(true);
        let me = Rc::clone(self);
        monoio::spawn(async move {
            monoio::time::sleep(wait).await;
            me.scheduled.set(false);
            me.trim();
        });
    }

    fn trim(&self) {
        self.freed.set(0);
        self.last.set(Some(Instant::now()));
        release_free_heap();
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn release_free_heap() {
    // SAFETY: malloc_trim only returns free pages of the allocator's arenas to the kernel; it
    // touches no memory in use.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_free_heap() {}
