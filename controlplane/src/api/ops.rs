//! What operators and orchestrators ask the control plane, without the admin token: is it up
//! (`/healthz`), can it serve (`/readyz`: the store answers and a snapshot is published), and
//! its Prometheus metrics (`/metrics`). None of them carries a key or a tenant's data. Also the
//! snapshot status (`/admin/v1/snapshot`, with the admin token).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::Admin;
use crate::app::App;
use crate::error::ApiResult;

/// The process is up and answering (no auth: load balancers and orchestrators ask).
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, body = String, content_type = "text/plain", description = "`ok`")))]
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Prometheus text: the build, the snapshot, pushes by outcome, and per data plane the version
/// it acknowledged, how far behind it is and when it was last seen; the store's round trip.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, body = String, content_type = "text/plain; version=0.0.4",
        description = "Prometheus text exposition.")))]
pub async fn metrics(State(app): State<Arc<App>>) -> ([(&'static str, &'static str); 1], String) {
    use std::fmt::Write;
    use std::sync::atomic::Ordering::Relaxed;
    let started = std::time::Instant::now();
    let store_up = app.store.ping().await.is_ok();
    let ping = started.elapsed().as_secs_f64();
    let latest = app.latest();
    // A store that does not answer still gets its gauges (warden_cp_store_up 0).
    let planes = app.store.dataplanes().await.unwrap_or_default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut out = String::with_capacity(2048);
    let _ = writeln!(out, "# HELP warden_build_info The running build.\n# TYPE warden_build_info gauge\nwarden_build_info{{version=\"{}\",plane=\"control\"}} 1", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(out, "# HELP warden_log_lines_dropped_total Log lines dropped because stderr could not keep up.\n# TYPE warden_log_lines_dropped_total counter\nwarden_log_lines_dropped_total {}", warden_shared::logs::dropped());
    let version = app.version();
    let _ = writeln!(out, "# HELP warden_cp_snapshot_version The newest published snapshot.\n# TYPE warden_cp_snapshot_version gauge\nwarden_cp_snapshot_version {version}");
    let _ = writeln!(out, "# HELP warden_cp_leader Whether this control plane leads its cluster (builds and pushes snapshots).\n# TYPE warden_cp_leader gauge\nwarden_cp_leader {}", u8::from(app.leading()));
    let _ = writeln!(out, "# HELP warden_cp_snapshot_bytes The size of the newest full snapshot, and of the newest delta of it (0 when the newest version is the full one).\n# TYPE warden_cp_snapshot_bytes gauge\nwarden_cp_snapshot_bytes{{kind=\"full\"}} {}\nwarden_cp_snapshot_bytes{{kind=\"delta\"}} {}", latest.full.bytes.len(), latest.delta.as_ref().map_or(0, |d| d.bytes.len()));
    let _ = writeln!(out, "# HELP warden_cp_snapshot_build_seconds How long building the newest snapshot took, by step (store: reading the store and assembling it; encode; sign).\n# TYPE warden_cp_snapshot_build_seconds gauge");
    for (step, us) in crate::app::BUILD_STEPS.iter().zip(latest.took_us) {
        let _ = writeln!(
            out,
            "warden_cp_snapshot_build_seconds{{step=\"{step}\"}} {}",
            us as f64 / 1e6
        );
    }
    let _ = writeln!(out, "# HELP warden_cp_pushes_total Snapshot pushes to data planes, by outcome.\n# TYPE warden_cp_pushes_total counter");
    for (i, outcome) in ["acked", "failed", "timeout"].iter().enumerate() {
        let _ = writeln!(
            out,
            "warden_cp_pushes_total{{outcome=\"{outcome}\"}} {}",
            app.pushes[i].load(Relaxed)
        );
    }
    let alerts: std::collections::HashMap<String, i64> = app
        .store
        .alert_counts()
        .await
        .unwrap_or_default()
        .into_iter()
        .collect();
    let _ = writeln!(out, "# HELP warden_cp_audit_chain_alerts_total Data planes' audit logs found cut short, rewritten, or with a range never shipped (GET /admin/v1/dataplanes says which and where).\n# TYPE warden_cp_audit_chain_alerts_total counter");
    for reason in crate::store::anchors::AlertReason::ALL {
        let n = alerts.get(reason.name()).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "warden_cp_audit_chain_alerts_total{{reason=\"{}\"}} {n}",
            reason.name()
        );
    }
    if let Some(t) = &app.telemetry {
        t.render("warden_cp", &mut out);
    }
    let _ = writeln!(out, "# HELP warden_cp_dataplanes Registered data planes.\n# TYPE warden_cp_dataplanes gauge\nwarden_cp_dataplanes {}", planes.len());
    let _ = writeln!(out, "# HELP warden_cp_dataplane_lag_versions Snapshot versions a data plane is behind.\n# TYPE warden_cp_dataplane_lag_versions gauge");
    for d in &planes {
        let (id, acked) = (&d.id, d.acked_version);
        let lag = version.saturating_sub(u64::try_from(acked).unwrap_or(0));
        let _ = writeln!(
            out,
            "warden_cp_dataplane_lag_versions{{dataplane=\"{}\"}} {lag}",
            label(id)
        );
    }
    let _ = writeln!(out, "# HELP warden_cp_dataplane_last_seen_age_seconds Since a data plane last registered or acknowledged.\n# TYPE warden_cp_dataplane_last_seen_age_seconds gauge");
    for d in &planes {
        let (id, seen) = (&d.id, &d.last_seen);
        let _ = writeln!(
            out,
            "warden_cp_dataplane_last_seen_age_seconds{{dataplane=\"{}\"}} {}",
            label(id),
            (now - seen).max(0)
        );
    }
    let _ = writeln!(out, "# HELP warden_cp_store_up Whether the store answered this scrape's ping.\n# TYPE warden_cp_store_up gauge\nwarden_cp_store_up {}", u8::from(store_up));
    let _ = writeln!(out, "# HELP warden_cp_store_ping_seconds That ping's round trip.\n# TYPE warden_cp_store_ping_seconds gauge\nwarden_cp_store_ping_seconds {ping:.6}");
    ([("content-type", "text/plain; version=0.0.4")], out)
}

/// A label value with `\`, `"` and newlines escaped (data-plane ids come from the network).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Ready when the store answers and a snapshot has been published for the data planes (by this
/// control plane or, on a follower, by its cluster's leader).
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, body = String, content_type = "text/plain", description = "Ready."),
        (status = 503, body = String, content_type = "text/plain",
            description = "The store does not answer, or no snapshot is published yet.")))]
pub async fn readyz(State(app): State<Arc<App>>) -> (StatusCode, String) {
    if let Err(e) = app.store.ping().await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store unreachable: {e}\n"),
        );
    }
    match app.version() {
        0 => (
            StatusCode::SERVICE_UNAVAILABLE,
            "no snapshot published yet\n".to_owned(),
        ),
        v => (StatusCode::OK, format!("ready, snapshot v{v}\n")),
    }
}

/// `GET /admin/v1/snapshot`: the newest version, whether this control plane leads, and (on the
/// leader; zeros on a follower, which builds none) the newest full snapshot's version and size
/// and the size of the newest delta of it (0 when the newest version is the full one); and the
/// version of the base saved in the store, which a control plane that starts or takes the lead
/// resumes from (0: none yet).
#[derive(Serialize, ToSchema)]
pub struct SnapshotStatus {
    /// The newest published snapshot.
    pub version: u64,
    /// This control plane leads its cluster (builds and pushes snapshots).
    pub leader: bool,
    /// The newest full snapshot's version (0 on a follower).
    pub full_version: u64,
    /// Its size in bytes.
    pub bytes: usize,
    /// The newest delta's size (0 when the newest version is the full one).
    pub delta_bytes: usize,
    /// The base saved in the store, which a control plane that starts or takes the lead
    /// resumes from (0: none yet).
    pub saved_base: i64,
}

#[utoipa::path(get, path = "/admin/v1/snapshot", tag = "dataplanes", security(("admin" = [])),
    responses((status = 200, body = SnapshotStatus, description = "The snapshot's state.")))]
pub async fn snapshot_version(
    _: Admin,
    State(app): State<Arc<App>>,
) -> ApiResult<Json<SnapshotStatus>> {
    let latest = app.latest();
    let (full, bytes, delta) = match app.leading() {
        true => (
            latest.full.version,
            latest.full.bytes.len(),
            latest.delta.as_ref().map_or(0, |d| d.bytes.len()),
        ),
        false => (0, 0, 0),
    };
    Ok(Json(SnapshotStatus {
        version: app.version(),
        leader: app.leading(),
        full_version: full,
        bytes,
        delta_bytes: delta,
        saved_base: app.store.base_version().await?,
    }))
}
