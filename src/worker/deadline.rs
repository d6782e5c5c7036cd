//! Deadlines for the connections of one core that wait long and in great numbers (idle
//! keep-alive clients, new connections before their first bytes), served by one timer task.
//!
//! A monoio timer costs about 640 bytes per waiting future (its wheel entry is cache-padded):
//! with thousands of idle connections that was most of what each of them cost. Here a waiting
//! connection costs one entry in an ordered map (its deadline and its waker); one task per
//! core sleeps until the earliest deadline with a single monoio timer, wakes whoever is due,
//! and ends when nothing is left to wait for (the next deadline starts it again).
//!
//! Core-local like everything in `worker`: `Cell`/`RefCell`, no lock.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use super::notify::{Notified, Notify};

/// A deadline and a sequence number, unique among the entries.
type Key = (Instant, u64);

#[derive(Default)]
pub struct Deadlines {
    due: RefCell<BTreeMap<Key, Waker>>,
    next_seq: Cell<u64>,
    /// The timer task is alive.
    running: Cell<bool>,
    /// The deadline the timer task sleeps until.
    armed: Cell<Option<Instant>>,
    /// Wakes the timer task when an earlier deadline arrives.
    rearm: Notify,
}

impl Deadlines {
    /// Resolves at `when` (at once if it has passed).
    pub fn at(self: &Rc<Self>, when: Instant) -> Deadline {
        Deadline {
            q: Rc::clone(self),
            when,
            key: None,
        }
    }

    /// Waits for `fut`, until `when` (`None`: no deadline) or until `stop` fires, whichever
    /// comes first: one small future, with neither `select!` state nor a monoio timer.
    pub fn bounded<'s, F: Future>(
        self: &Rc<Self>,
        fut: F,
        when: Option<Instant>,
        stop: Notified<'s>,
    ) -> Bounded<'s, F> {
        Bounded {
            fut,
            deadline: when.map(|w| self.at(w)),
            stop: Some(stop),
        }
    }

    /// Like `bounded`, for a wait that a stop must not end (it never ends `Stopped`).
    pub fn until<F: Future>(self: &Rc<Self>, fut: F, when: Option<Instant>) -> Bounded<'static, F> {
        Bounded {
            fut,
            deadline: when.map(|w| self.at(w)),
            stop: None,
        }
    }

    /// Entries waiting (for tests and diagnostics).
    pub fn len(&self) -> usize {
        self.due.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn register(self: &Rc<Self>, key: Option<Key>, when: Instant, waker: &Waker) -> Key {
        let key = key.unwrap_or_else(|| {
            let seq = self.next_seq.get();
            self.next_seq.set(seq.wrapping_add(1));
            (when, seq)
        });
        let mut due = self.due.borrow_mut();
        match due.get_mut(&key) {
            Some(w) if w.will_wake(waker) => {}
            Some(w) => w.clone_from(waker),
            None => {
                due.insert(key, waker.clone());
            }
        }
        drop(due);
        if !self.running.replace(true) {
            monoio::spawn(run(Rc::clone(self)));
        } else if self.armed.get().is_none_or(|a| a > when) {
            self.rearm.notify_all();
        }
        key
    }

    fn forget(&self, key: &Key) {
        self.due.borrow_mut().remove(key);
    }

    /// Wakes every entry due by `now`; returns the next deadline left.
    fn wake_due(&self, now: Instant) -> Option<Instant> {
        let mut due = self.due.borrow_mut();
        while let Some(entry) = due.first_entry() {
            if entry.key().0 > now {
                return Some(entry.key().0);
            }
            // The entry goes: its future finds its deadline passed when polled.
            entry.remove().wake();
        }
        None
    }
}

/// The timer task of one core: sleeps until the earliest deadline, wakes those due, and ends
/// when none is left.
async fn run(q: Rc<Deadlines>) {
    loop {
        let Some(next) = q.wake_due(Instant::now()) else {
            q.armed.set(None);
            q.running.set(false);
            return;
        };
        q.armed.set(Some(next));
        let left = next.saturating_duration_since(Instant::now());
        let rearm = q.rearm.notified();
        monoio::select! {
            _ = monoio::time::sleep(left) => {}
            _ = rearm => {}
        }
    }
}

/// How a `bounded` wait ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended<T> {
    Done(T),
    Deadline,
    Stopped,
}

/// `fut` raced against a deadline and a stop notice (see `Deadlines::bounded`).
pub struct Bounded<'s, F> {
    fut: F,
    deadline: Option<Deadline>,
    stop: Option<Notified<'s>>,
}

impl<F: Future> Future for Bounded<'_, F> {
    type Output = Ended<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `fut` is pinned along with `self` and never moved out of it (no method
        // takes it by value and `Bounded` has no `Drop`); the other fields are `Unpin`.
        let this = unsafe { self.get_unchecked_mut() };
        let fut = unsafe { Pin::new_unchecked(&mut this.fut) };
        if let Poll::Ready(v) = fut.poll(cx) {
            return Poll::Ready(Ended::Done(v));
        }
        if this
            .stop
            .as_mut()
            .is_some_and(|s| Pin::new(s).poll(cx).is_ready())
        {
            return Poll::Ready(Ended::Stopped);
        }
        match this.deadline.as_mut().map(|d| Pin::new(d).poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(Ended::Deadline),
            _ => Poll::Pending,
        }
    }
}

/// A future that resolves at a deadline; it costs one map entry while it waits.
pub struct Deadline {
    q: Rc<Deadlines>,
    when: Instant,
    key: Option<Key>,
}

impl Future for Deadline {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.when {
            if let Some(key) = self.key.take() {
                self.q.forget(&key);
            }
            return Poll::Ready(());
        }
        let key = self.q.register(self.key, self.when, cx.waker());
        self.key = Some(key);
        Poll::Pending
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.q.forget(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn block_on<F: Future>(f: F) -> F::Output {
        monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    #[test]
    fn deadlines_fire_in_order_and_leave_nothing_behind() {
        block_on(async {
            let q = Rc::new(Deadlines::default());
            let start = Instant::now();
            let late = q.at(start + Duration::from_millis(60));
            let early = q.at(start + Duration::from_millis(20));
            let order = Rc::new(RefCell::new(Vec::new()));
            let (o1, o2) = (order.clone(), order.clone());
            monoio::join!(
                async move {
                    late.await;
                    o1.borrow_mut().push("late");
                },
                async move {
                    early.await;
                    o2.borrow_mut().push("early");
                }
            );
            assert_eq!(*order.borrow(), ["early", "late"]);
            assert!(start.elapsed() >= Duration::from_millis(60));
            assert!(q.is_empty());
        });
    }

    #[test]
    fn bounded_waits_end_by_result_deadline_or_stop() {
        block_on(async {
            let q = Rc::new(Deadlines::default());
            let stop = Notify::default();
            let soon = Some(Instant::now() + Duration::from_millis(20));
            let done = q.bounded(async { 7 }, soon, stop.notified()).await;
            assert_eq!(done, Ended::Done(7));
            let never = std::future::pending::<()>();
            let timed_out = q.bounded(never, soon, stop.notified()).await;
            assert_eq!(timed_out, Ended::Deadline);
            let never = std::future::pending::<()>();
            let waiting = q.bounded(never, None, stop.notified());
            stop.notify_all();
            assert_eq!(waiting.await, Ended::Stopped);
            assert!(q.is_empty());
        });
    }

    #[test]
    fn a_dropped_deadline_takes_its_entry_out() {
        block_on(async {
            let q = Rc::new(Deadlines::default());
            let far = q.at(Instant::now() + Duration::from_secs(60));
            let won = monoio::select! {
                _ = far => false,
                _ = monoio::time::sleep(Duration::from_millis(10)) => true,
            };
            assert!(won);
            assert!(q.is_empty(), "the losing deadline left its entry");
            // A past deadline resolves at once.
            q.at(Instant::now()).await;
        });
    }
}
