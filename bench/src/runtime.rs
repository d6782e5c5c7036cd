//! Building one thread's monoio runtime: io_uring with a deliberate ring setup, or the legacy
//! epoll driver (also the fallback where io_uring is unavailable, with a message).

use std::future::Future;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driver {
    IoUring,
    Legacy,
}

/// Runs `make()`'s future to completion on a new runtime of `driver` on this thread.
pub fn block_on<F: Future>(driver: Driver, make: impl Fn() -> F) -> Result<F::Output, String> {
    if driver == Driver::IoUring {
        // coop taskrun: the default ring is ~25% slower here (see design.md).
        let mut ring = io_uring::IoUring::builder();
        ring.setup_coop_taskrun();
        match monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
            .enable_timer()
            .uring_builder(ring)
            .build()
        {
            Ok(mut rt) => return Ok(rt.block_on(make())),
            Err(e) => eprintln!("ringlb-bench: io_uring unavailable ({e}); using legacy"),
        }
    }
    let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
        .map_err(|e| format!("cannot build the legacy runtime: {e}"))?;
    Ok(rt.block_on(make()))
}

/// Pins the current thread to `core` when it exists.
pub fn pin(core: Option<usize>) {
    if let Some(core) = core {
        let ids = core_affinity::get_core_ids().unwrap_or_default();
        if let Some(id) = ids.into_iter().find(|c| c.id == core) {
            core_affinity::set_for_current(id);
        }
    }
}
