//! The admin listener (`admin_listen`): `/healthz`, `/readyz` and `/metrics` (Prometheus text).
//!
//! It runs on its own thread and runtime, off the shards' cores and rings; it reads the shards'
//! counters (atomics with a single writer each) and never touches their state. One request per
//! connection, bounded head, short timeouts: scrapers and probes need nothing more. At most
//! [`MAX_CONNECTIONS`] at once (more are closed unanswered), and each has [`HEAD_DEADLINE`] for
//! its whole head and [`BODY_DEADLINE`] for a snapshot body — a client dripping bytes cannot
//! hold a slot longer, so probes and pushes always get through again within seconds.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRent};
use monoio::net::{TcpListener, TcpStream};

use crate::error::{Error, Kind};
use crate::http::parse::{parse_request, Limits, Method};
use crate::http::respond;
use crate::metrics::{render, ShardMetrics};

const LIMITS: Limits = Limits {
    max_head: 8 * 1024,
    max_headers: 32,
};

/// Connections served at once; probes, scrapes and pushes need a handful.
pub const MAX_CONNECTIONS: usize = 64;
/// From accept to a complete head.
pub const HEAD_DEADLINE: Duration = Duration::from_secs(5);
/// For a whole snapshot body (at most `control::MAX_SNAPSHOT` bytes).
pub const BODY_DEADLINE: Duration = Duration::from_secs(30);

/// What the admin endpoints report, shared read-only with the main thread and shards.
pub struct AdminView {
    pub shards: Vec<Arc<ShardMetrics>>,
    pub snapshot_version: Arc<AtomicU64>,
    pub draining: AtomicBool,
    pub listen_sockets: usize,
    /// The audit drain's counters, when auditing is on.
    pub audit: Option<Arc<crate::audit::producer::Health>>,
    /// Snapshot intake, when a control plane manages this data plane.
    pub control: Option<Arc<crate::control::Control>>,
    /// Client TLS on `listen`, for its reload counters.
    pub tls: Option<Arc<crate::tls::ServerTls>>,
    /// TLS on this admin listener (`[admin_tls]`): snapshot pushes carry this data plane's
    /// credential, so they should not cross a network in the clear.
    pub admin_tls: Option<Arc<crate::tls::ServerTls>>,
    /// The span exporter's queue (`[telemetry]`), for its counters.
    pub telemetry: Option<Arc<warden_shared::telemetry::Telemetry>>,
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
                let open = std::rc::Rc::new(std::cell::Cell::new(0usize));
                loop {
                    match listener.accept().await {
                        Ok((stream, _)) if open.get() >= MAX_CONNECTIONS => drop(stream),
                        Ok((stream, _)) => {
                            open.set(open.get() + 1);
                            let (open, view) = (std::rc::Rc::clone(&open), Arc::clone(&view));
                            monoio::spawn(async move {
                                // A panic ends this connection, not the admin listener.
                                if crate::isolate::caught(serve(stream, view)).await.is_err() {
                                    tracing::error!("an admin connection's task panicked: the connection was closed");
                                }
                                open.set(open.get() - 1);
                            });
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

/// Ready unless the audit log cannot be written (every request would be refused); a warning,
/// still ready, while its disk runs low.
fn readiness(audit: Option<&crate::audit::producer::Health>) -> (u16, String) {
    let Some(h) = audit else {
        return (200, "ready\n".into());
    };
    if !h.healthy.load(Relaxed) {
        return (503, "not ready: the audit log cannot be written\n".into());
    }
    if h.disk_low() {
        let s = h.space();
        return (
            200,
            format!(
                "ready; warning: the audit log's disk is {}% free ({} MiB of {} MiB), below warn_free_percent {}\n",
                s.free_percent(),
                s.free >> 20,
                s.total >> 20,
                h.warn_free_percent
            ),
        );
    }
    (200, "ready\n".into())
}

/// Pushed snapshots refused, by reason; zeros on a standalone data plane (no pushes come), so
/// that a dashboard's panel shows 0 rather than no data.
fn snapshot_metrics(out: &mut String, c: Option<&crate::control::Control>) {
    use std::fmt::Write;
    let _ = writeln!(out, "# HELP warden_snapshot_rejected_total Pushed snapshots refused, by reason (signature: not signed by the pinned control-plane key).\n# TYPE warden_snapshot_rejected_total counter");
    for (i, reason) in crate::control::REJECTIONS.iter().enumerate() {
        let n = c.map_or(0, |c| c.rejected[i].load(Relaxed));
        let _ = writeln!(
            out,
            "warden_snapshot_rejected_total{{reason=\"{reason}\"}} {n}"
        );
    }
    let _ = writeln!(out, "# HELP warden_snapshots_applied_total Pushed snapshots taken, by kind (full, or a delta of the full one held).\n# TYPE warden_snapshots_applied_total counter");
    for (i, kind) in crate::control::KINDS.iter().enumerate() {
        let n = c.map_or(0, |c| c.applied[i].load(Relaxed));
        let _ = writeln!(out, "warden_snapshots_applied_total{{kind=\"{kind}\"}} {n}");
    }
    let _ = writeln!(out, "# HELP warden_snapshot_apply_seconds How long each step of taking the last pushed snapshot took (decode: signature, validation and decoding; build: the serving state, once for all shards; write: to state_dir, fsynced, before any shard serves it; swap: every shard taking it).\n# TYPE warden_snapshot_apply_seconds gauge");
    for (i, step) in crate::control::APPLY_STEPS.iter().enumerate() {
        let us = c.map_or(0, |c| c.last_apply_us[i].load(Relaxed));
        let _ = writeln!(
            out,
            "warden_snapshot_apply_seconds{{step=\"{step}\"}} {}",
            us as f64 / 1e6
        );
    }
}

fn tls_metrics(out: &mut String, t: &crate::tls::ServerTls) {
    use std::fmt::Write;
    let _ = writeln!(out, "# HELP warden_tls_reloads_total Client TLS certificate reloads (SIGHUP), by outcome; a failed one keeps the previous certificate.\n# TYPE warden_tls_reloads_total counter");
    for (outcome, n) in [("ok", &t.reloads_ok), ("failed", &t.reloads_failed)] {
        let n = n.load(Relaxed);
        let _ = writeln!(out, "warden_tls_reloads_total{{outcome=\"{outcome}\"}} {n}");
    }
}

fn audit_metrics(out: &mut String, h: &crate::audit::producer::Health) {
    use std::fmt::Write;
    let counters = [
        (
            "warden_audit_records_written_total",
            "Audit records written to segment files.",
            h.written.load(Relaxed),
        ),
        (
            "warden_audit_records_failed_total",
            "Audit records whose write failed; they stay in their rings and are written once the disk works again.",
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
    let space = h.space();
    let gauges = [
        (
            "warden_audit_disk_free_bytes",
            "Free bytes on the audit log's filesystem (checked once a second).",
            space.free,
        ),
        (
            "warden_audit_disk_total_bytes",
            "Size of the audit log's filesystem.",
            space.total,
        ),
        (
            "warden_audit_log_bytes",
            "Bytes of all audit segment files.",
            h.log_bytes.load(Relaxed),
        ),
        (
            "warden_audit_disk_low",
            "1 while free space is below warn_free_percent: retention makes room below min_free_bytes (or min_free_percent); a full disk refuses every request.",
            u64::from(h.disk_low()),
        ),
    ];
    for (name, help, v) in gauges {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
    }
    let pending = h.pending_bytes();
    let _ = writeln!(out, "# HELP warden_audit_pending_bytes Record bytes the shards have put in their rings that are not in the segment files yet.\n# TYPE warden_audit_pending_bytes gauge\nwarden_audit_pending_bytes {pending}");
    let healthy = u8::from(h.healthy.load(Relaxed));
    let _ = writeln!(out, "# HELP warden_audit_healthy 1 while the audit log can be written.\n# TYPE warden_audit_healthy gauge\nwarden_audit_healthy {healthy}");
}

/// The TLS handshake (within the head deadline) when `[admin_tls]` is set, then [`handle`].
async fn serve(stream: TcpStream, view: Arc<AdminView>) {
    let acceptor = view.admin_tls.as_ref().map(|t| t.current_acceptor());
    match acceptor {
        None => handle(stream, view).await,
        Some(acceptor) => match monoio::time::timeout(HEAD_DEADLINE, acceptor.accept(stream)).await
        {
            Ok(Ok(tls)) => handle(tls, view).await,
            _ => tracing::debug!("admin TLS handshake failed or timed out"),
        },
    }
}

async fn handle<S: AsyncReadRent + AsyncWriteRent>(mut stream: S, view: Arc<AdminView>) {
    let mut buf = Vec::with_capacity(LIMITS.max_head);
    let head = monoio::time::timeout(HEAD_DEADLINE, async {
        loop {
            if !read_more(&mut stream, &mut buf).await {
                return None;
            }
            match parse_request(&buf, LIMITS) {
                Ok(Some(head)) => return Some(head),
                Ok(None) => {}
                Err(_) => return None,
            }
        }
    })
    .await;
    let Ok(Some(head)) = head else { return };
    let path = head
        .path
        .get(&buf)
        .split(|b| *b == b'?')
        .next()
        .unwrap_or_default();
    let mut out = Vec::with_capacity(4096);
    let rid = b"admin";
    let draining = view.draining.load(Relaxed);
    let version = view.snapshot_version.load(Relaxed);
    match (head.method, path) {
        (Method::Get, b"/healthz") => {
            respond::full(&mut out, 200, "text/plain", b"ok\n", rid, false)
        }
        (Method::Get, b"/readyz") if draining => {
            respond::full(&mut out, 503, "text/plain", b"draining\n", rid, false)
        }
        // A data plane under a control plane is ready once it has a snapshot to serve.
        (Method::Get, b"/readyz") if version == 0 => respond::full(
            &mut out,
            503,
            "text/plain",
            b"waiting for a snapshot\n",
            rid,
            false,
        ),
        (Method::Get, b"/readyz") => {
            let (status, text) = readiness(view.audit.as_deref());
            respond::full(&mut out, status, "text/plain", text.as_bytes(), rid, false)
        }
        (Method::Get, b"/metrics") => {
            let mut text = render(&view.shards, version, view.listen_sockets);
            if let Some(h) = &view.audit {
                audit_metrics(&mut text, h);
            }
            snapshot_metrics(&mut text, view.control.as_deref());
            if let Some(t) = &view.tls {
                tls_metrics(&mut text, t);
            }
            if let Some(t) = &view.telemetry {
                t.render("warden", &mut text);
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
        (Method::Put, b"/v1/snapshot") if view.control.is_some() => {
            let (status, body) = intake(&mut stream, &mut buf, &head, &view).await;
            respond::full(&mut out, status, respond::JSON, body.as_bytes(), rid, false);
        }
        _ => respond::error(
            &mut out,
            &Error::new(Kind::UnknownRoute, "unknown admin path"),
            rid,
            false,
        ),
    }
    let _ = crate::client::write_out(&mut stream, &mut out).await;
}

/// `PUT /v1/snapshot` from the control plane: authenticate, read the body, apply.
async fn intake<S: AsyncReadRent>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    head: &crate::http::parse::RequestHead,
    view: &AdminView,
) -> (u16, String) {
    let Some(control) = &view.control else {
        return (404, r#"{"error":"not under a control plane"}"#.into());
    };
    let presented = head
        .authorization
        .map(|a| a.get(buf))
        .and_then(|v| v.strip_prefix(b"Bearer "))
        .unwrap_or_default();
    if !control.authorized(presented) {
        return (401, r#"{"error":"invalid data-plane token"}"#.into());
    }
    let crate::http::parse::Framing::Length(n) = head.framing else {
        return (
            411,
            r#"{"error":"a Content-Length body is required"}"#.into(),
        );
    };
    if n as usize > crate::control::MAX_SNAPSHOT {
        return (413, r#"{"error":"snapshot too large"}"#.into());
    }
    let end = head.len + n as usize;
    buf.reserve(end.saturating_sub(buf.len()));
    let read = monoio::time::timeout(BODY_DEADLINE, async {
        while buf.len() < end {
            if !read_more(stream, buf).await {
                return false;
            }
        }
        true
    })
    .await;
    if read != Ok(true) {
        return (400, r#"{"error":"body incomplete"}"#.into());
    }
    match control.apply(&buf[head.len..end]).await {
        Ok(version) => (200, format!(r#"{{"version":{version}}}"#)),
        Err((status, why)) => {
            let mut body = b"{\"error\":".to_vec();
            respond::json_string(&mut body, &why);
            body.push(b'}');
            (status, String::from_utf8_lossy(&body).into_owned())
        }
    }
}

/// One read into `buf`'s spare room (5 s at most). False at EOF, error or timeout.
async fn read_more<S: AsyncReadRent>(stream: &mut S, buf: &mut Vec<u8>) -> bool {
    if buf.capacity() - buf.len() < 4096 {
        buf.reserve(64 * 1024);
    }
    let (len, cap) = (buf.len(), buf.capacity());
    let read = monoio::time::timeout(
        Duration::from_secs(5),
        stream.read(std::mem::take(buf).slice_mut(len..cap)),
    )
    .await;
    let Ok((res, slice)) = read else { return false };
    *buf = slice.into_inner();
    matches!(res, Ok(n) if n > 0)
}
