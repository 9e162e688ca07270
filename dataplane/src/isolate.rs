//! A panic kept to the connection that met it. monoio, unlike tokio, does not catch a panic in a
//! spawned task: it unwinds through the shard's runtime, the shard thread ends, and the data
//! plane drains its other shards and exits — one bad byte that reaches a bug would stop every
//! tenant's traffic. Each connection's task runs inside [`caught`] instead: a panic ends that
//! connection (the client sees it closed), is counted (`warden_panics_total`) and logged, and the
//! shard goes on serving.
//!
//! What the task held is dropped as the panic unwinds (its in-flight and open-connection guards,
//! its `RefCell` borrows of shard state), so the shard's counts stay right. A request whose
//! audit record was written and whose answer was not stays in the audit log as a request with
//! no response, as after a lost connection. Release builds unwind on panic (`Cargo.toml`);
//! without that there is nothing to catch.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::task::Poll;

/// `fut` to completion; `Err(())` when it panicked (and was dropped there).
pub async fn caught<F: Future<Output = ()>>(fut: F) -> Result<(), ()> {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| {
        // Unwind safety: after a panic the future is never polled again, only dropped, and
        // what it shared with the shard (`Cell`s and `RefCell`s of counters, pools and caches)
        // is left as each completed operation on it left it.
        match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(Poll::Ready(())) => Poll::Ready(Ok(())),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(Err(())),
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic, clippy::unwrap_used)]

    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    use super::caught;

    #[test]
    fn a_panicking_task_ends_alone_and_the_runtime_serves_on() {
        let mut runtime = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
            .enable_timer()
            .build()
            .unwrap();
        let shared = Rc::new(RefCell::new(Vec::new()));
        let finished = Rc::new(Cell::new(0));
        let outcomes = runtime.block_on({
            let (shared, finished) = (Rc::clone(&shared), Rc::clone(&finished));
            async move {
                let mut tasks = Vec::new();
                for i in 0..4u32 {
                    let (shared, finished) = (Rc::clone(&shared), Rc::clone(&finished));
                    tasks.push(monoio::spawn(caught(async move {
                        // Every task waits once, so the panic happens between other tasks'
                        // polls, with a borrow of shared state held as it unwinds.
                        monoio::time::sleep(std::time::Duration::from_millis(5)).await;
                        let mut held = shared.borrow_mut();
                        if i == 1 {
                            panic!("a bug met by one connection");
                        }
                        held.push(i);
                        finished.set(finished.get() + 1);
                    })));
                }
                let mut outcomes = Vec::new();
                for t in tasks {
                    outcomes.push(t.await);
                }
                outcomes
            }
        });
        assert_eq!(outcomes, [Ok(()), Err(()), Ok(()), Ok(())]);
        assert_eq!(finished.get(), 3);
        // The borrow the panicking task held was released as it unwound.
        assert_eq!(*shared.borrow(), [0, 2, 3]);
    }
}
