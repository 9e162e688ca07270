//! The admin listener (`admin_listen`): `/healthz`, `/readyz` and `/metrics` (Prometheus text).
//!
//! It runs on its own thread and runtime, off the shards' cores and rings; it reads the shards'
//! counters (atomics with a single writer each) and never touches their state. One request per
//! connection, bounded head, short timeouts: scrapers and probes need nothing more.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use monoio::buf::IoBufMut;
use monoio::io::AsyncReadRent;
use monoio::net::{TcpListener, TcpStream};

use crate::error::{Error, Kind};
use crate::http::parse::{parse_request, Limits, Method};
use crate::http::respond;
use crate::metrics::{render, ShardMetrics};

const LIMITS: Limits = Limits {
    max_head: 8 * 1024,
    max_headers: 32,
};

/// What the admin endpoints report, shared read-only with the main thread and shards.
pub struct AdminView {
    pub shards: Vec<Arc<ShardMetrics>>,
    pub snapshot_version: AtomicU64,
    pub draining: AtomicBool,
    pub listen_sockets: usize,
    /// The audit drain's counters, when auditing is on.
    pub audit: Option<Arc<crate::audit::ring::Health>>,
}

/// Bind and serve on a thread of its own. Returns the bound address.
pub fn spawn(addr: SocketAddr, view: Arc<AdminView>) -> std::io::Result<SocketAddr> {
    let std_listener = std::net::TcpListener::bind(addr)?;
    std_listener.set_nonblocking(true)?;
    let local = std_listener.local_addr()?;
    std::thread::Builder::new()
        .name("warden-admin".into())
        .spawn(move || {
            let runtime = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
                .enable_timer()
                .build();
            let mut runtime = match runtime {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!("admin listener could not start its runtime: {e}");
                    return;
                }
            };
            runtime.block_on(async move {
                let listener = match TcpListener::from_std(std_listener) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::error!("admin listener: {e}");
                        return;
                    }
                };
                loop {
                    match listener.accept().await {
                        Ok((stream, _)) => {
                            monoio::spawn(handle(stream, Arc::clone(&view)));
                        }
                        Err(e) => {
                            tracing::warn!("admin accept failed: {e}");
                            monoio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
            });
        })?;
    Ok(local)
}

fn audit_metrics(out: &mut String, h: &crate::audit::ring::Health) {
    use std::fmt::Write;
    let counters = [
        (
            "warden_audit_records_written_total",
            "Audit records written to segment files.",
            h.written.load(Relaxed),
        ),
        (
            "warden_audit_records_failed_total",
            "Audit records that could not be written (their requests got 503).",
            h.failed.load(Relaxed),
        ),
        (
            "warden_audit_syncs_total",
            "fdatasync calls on the audit log.",
            h.syncs.load(Relaxed),
        ),
    ];
    for (name, help, v) in counters {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
        );
    }
    let healthy = u8::from(h.healthy.load(Relaxed));
    let _ = writeln!(out, "# HELP warden_audit_healthy 1 while the audit log can be written.\n# TYPE warden_audit_healthy gauge\nwarden_audit_healthy {healthy}");
}

async fn handle(mut stream: TcpStream, view: Arc<AdminView>) {
    let mut buf = Vec::with_capacity(LIMITS.max_head);
    let head = loop {
        let (len, cap) = (buf.len(), buf.capacity());
        let read = monoio::time::timeout(
            Duration::from_secs(5),
            stream.read(std::mem::take(&mut buf).slice_mut(len..cap)),
        )
        .await;
        let Ok((Ok(n), slice)) = read else { return };
        buf = slice.into_inner();
        if n == 0 {
            return;
        }
        match parse_request(&buf, LIMITS) {
            Ok(Some(head)) => break head,
            Ok(None) => {}
            Err(_) => return,
        }
    };
    let path = head
        .path
        .get(&buf)
        .split(|b| *b == b'?')
        .next()
        .unwrap_or_default();
    let mut out = Vec::with_capacity(4096);
    let rid = b"admin";
    let draining = view.draining.load(Relaxed);
    match (head.method, path) {
        (Method::Get, b"/healthz") => {
            respond::full(&mut out, 200, "text/plain", b"ok\n", rid, false)
        }
        (Method::Get, b"/readyz") if draining => {
            respond::full(&mut out, 503, "text/plain", b"draining\n", rid, false)
        }
        (Method::Get, b"/readyz") => {
            respond::full(&mut out, 200, "text/plain", b"ready\n", rid, false)
        }
        (Method::Get, b"/metrics") => {
            let mut text = render(
                &view.shards,
                view.snapshot_version.load(Relaxed),
                view.listen_sockets,
            );
            if let Some(h) = &view.audit {
                audit_metrics(&mut text, h);
            }
            respond::full(
                &mut out,
                200,
                "text/plain; version=0.0.4",
                text.as_bytes(),
                rid,
                false,
            );
        }
        _ => respond::error(
            &mut out,
            &Error::new(Kind::UnknownRoute, "unknown admin path"),
            rid,
            false,
        ),
    }
    let _ = crate::conn::flush(&mut stream, &mut out).await;
}
