//! A single-threaded "wake everyone waiting" primitive for tasks of one core.
//!
//! Used where a core's tasks wait for something another task of the same core does: a server
//! slot freed (the maxconn queue), a connection closed (the accept gate), a stop requested. It
//! never crosses threads, so it needs no lock: a generation counter and the wakers of those
//! waiting. A waiter that is dropped before being woken (it lost a `select!` or timed out) takes
//! its waker out again, so long-lived loops that wait many times do not pile wakers up.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

#[derive(Default)]
pub struct Notify {
    generation: Cell<u64>,
    waiters: RefCell<Vec<Option<Waker>>>,
    free: RefCell<Vec<usize>>,
}

impl Notify {
    /// Wakes every task currently waiting.
    pub fn notify_all(&self) {
        self.generation.set(self.generation.get().wrapping_add(1));
        if self.waiters.borrow().is_empty() {
            return; // the common case: nobody waits, nothing to wake or free
        }
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        self.free.borrow_mut().clear();
        for w in waiters.into_iter().flatten() {
            w.wake();
        }
    }

    /// Resolves at the next `notify_all` after this call.
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            generation: self.generation.get(),
            slot: None,
        }
    }
}

pub struct Notified<'a> {
    notify: &'a Notify,
    generation: u64,
    slot: Option<usize>,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let notify = self.notify;
        if notify.generation.get() != self.generation {
            self.slot = None;
            return Poll::Ready(());
        }
        let mut waiters = notify.waiters.borrow_mut();
        match self.slot {
            Some(i) if i < waiters.len() => waiters[i] = Some(cx.waker().clone()),
            _ => {
                let i = match notify.free.borrow_mut().pop() {
                    Some(i) if i < waiters.len() => {
                        waiters[i] = Some(cx.waker().clone());
                        i
                    }
                    _ => {
                        waiters.push(Some(cx.waker().clone()));
                        waiters.len() - 1
                    }
                };
                drop(waiters);
                self.slot = Some(i);
            }
        }
        Poll::Pending
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        let Some(i) = self.slot else { return };
        if self.notify.generation.get() != self.generation {
            return; // already woken: the slots were recycled by notify_all
        }
        if let Some(w) = self.notify.waiters.borrow_mut().get_mut(i) {
            *w = None;
            self.notify.free.borrow_mut().push(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::Wake;

    struct Flag;
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {}
    }

    #[test]
    fn dropped_waiters_free_their_slot() {
        let n = Notify::default();
        let waker = Waker::from(Arc::new(Flag));
        let mut cx = Context::from_waker(&waker);
        for _ in 0..1000 {
            let mut f = Box::pin(n.notified());
            assert!(f.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(n.waiters.borrow().len(), 1);
        let mut f = Box::pin(n.notified());
        assert!(f.as_mut().poll(&mut cx).is_pending());
        n.notify_all();
        assert!(f.as_mut().poll(&mut cx).is_ready());
    }
}
