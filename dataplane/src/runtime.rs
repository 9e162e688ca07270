//! A shard's thread: pinned to its core, with its own monoio runtime (io_uring, or epoll when
//! io_uring is unavailable or `MONOIO_FORCE_LEGACY_DRIVER=1`), its [`Shard`] built there, new
//! serving states swapped in between requests, and the accept loop until the shard has drained.

use std::rc::Rc;

use crate::shard::ShardSpec;

/// Start a shard thread. It returns when the shard has drained.
pub fn spawn(spec: ShardSpec) -> std::io::Result<std::thread::JoinHandle<Result<(), String>>> {
    std::thread::Builder::new()
        .name(format!("warden-shard-{}", spec.id))
        .spawn(move || run(spec))
}

fn run(spec: ShardSpec) -> Result<(), String> {
    let ready = spec.ready.clone();
    let id = spec.id;
    let result = serve(spec);
    if let Err(e) = &result {
        let _ = ready.send(Err(format!("shard {id}: {e}")));
    }
    result
}

fn serve(mut spec: ShardSpec) -> Result<(), String> {
    if let Some(core) = spec.core {
        if let Err(e) = monoio::utils::bind_to_cpu_set([core]) {
            tracing::warn!(
                shard = spec.id,
                core,
                "could not pin shard to its core: {e:?}"
            );
        }
    }
    let mut runtime = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
        .with_entries(spec.config.io_uring_entries)
        .enable_timer()
        .build()
        .map_err(|e| format!("shard {}: starting the runtime: {e}", spec.id))?;
    spec.metrics.io_uring.store(
        u64::from(monoio::utils::detect_uring()),
        std::sync::atomic::Ordering::Relaxed,
    );
    runtime.block_on(async move {
        let audit = spec.audit.take();
        let state = spec.state.take().ok_or("no serving state to start with")?;
        let shard = Rc::new(crate::shard::build(&spec, audit, state)?);
        let (_, unused) = futures_channel::mpsc::unbounded();
        let updates = std::mem::replace(&mut spec.updates, unused);
        monoio::spawn(crate::shard::apply_updates(Rc::clone(&shard), updates));
        let listener = monoio::net::TcpListener::from_std(spec.listener)
            .map_err(|e| format!("shard {}: adopting the listener: {e}", spec.id))?;
        let _ = spec.ready.send(Ok(spec.id));
        crate::listener::accept_loop(shard, listener, spec.drain).await;
        Ok(())
    })
}

/// Lower the calling thread's CPU priority (nice 10) below the shards': for work that must not
/// take a core from them where cores are short (building a pushed snapshot). Best effort.
#[allow(unsafe_code)]
pub fn lower_priority() {
    // SAFETY: setpriority reads its three integer arguments and nothing else; on Linux,
    // PRIO_PROCESS with 0 names the calling thread alone.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 10) };
    if rc != 0 {
        tracing::debug!("could not lower the snapshot thread's priority");
    }
}
