//! Building the snapshot from the store, and pushing it: every registered data plane whose
//! acknowledged version is behind gets the latest bytes (`PUT /v1/snapshot` on its admin
//! listener, with the data-plane token), within a second of a change; its answer is recorded as
//! its acknowledged version. Data planes that have not registered for a while are skipped until
//! they come back, and then catch up.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use warden_shared::catalog::{ModelKind, ModelRoute, Provider};
use warden_shared::snapshot::{
    BillingRates, CustomPattern, Delta, Environment, GuardrailPolicy, Plan, ProviderEndpoint,
    ProviderKey, Routing, Snapshot,
};
use warden_shared::vault::SealedKey;

use crate::app::{App, Published};
use crate::secrets::{now_s, unhex};
use crate::store::{ProviderKeyRow, Store};

/// A data plane not heard from for this long is not pushed to until it registers again.
const STALE_AFTER_S: i64 = 30;

mod mirror;
mod parse;
pub mod resume;
mod table;
pub use mirror::{Globals, Mirror};

/// What a build made: a full snapshot (with what only a full one carries, which the deltas
/// after it are checked against), or a delta of the last full one.
pub enum Built {
    Full(Box<(Snapshot, Globals)>),
    Delta(Delta),
}

/// The snapshot of everything in the store now, as version `version`: a delta of the last full
/// one where [`Mirror::delta`] allows, else full. `mirror` holds the rows read by earlier builds
/// and is brought up to date first.
#[allow(clippy::too_many_arguments)]
pub async fn build(
    store: &Store,
    providers: &[ProviderEndpoint],
    overhead: &crate::billing::Overhead,
    route_groups: &[warden_shared::snapshot::RouteGroup],
    version: u64,
    master: &warden_shared::vault::MasterKey,
    digests: &crate::key_digests::KeyDigests,
    mirror: &mut Mirror,
) -> anyhow::Result<Built> {
    let mut steps = Steps::new();
    let prices = store.prices().await?;
    let billing = billing_rates(overhead, &prices)?;
    let month_spend = month_spend(store, overhead, &prices).await?;
    steps.mark("prices and spend");
    mirror.refresh(store).await?;
    mirror.set_spend(&month_spend);
    steps.mark("changed rows");
    let models: Vec<ModelRoute> = store
        .models()
        .await?
        .into_iter()
        .filter_map(|(alias, provider, upstream_model, fallbacks, kind)| {
            Some(ModelRoute {
                alias,
                provider: Provider::from_name(&provider)?,
                kind: ModelKind::from_name(&kind)?,
                upstream_model,
                fallbacks: serde_json::from_str(&fallbacks).unwrap_or_default(),
            })
        })
        .collect();
    let route_groups =
        warden_shared::snapshot::route_groups(route_groups, &models).map_err(anyhow::Error::msg)?;
    steps.mark("models");
    let globals = Globals {
        providers: providers.to_vec(),
        models,
        route_groups,
        billing,
        pooled_keys: mirror.pooled_keys(),
        master_key_id: master.id(),
    };
    if let Some(delta) = mirror.delta(&globals, version) {
        steps.mark("delta");
        tracing::debug!(version, rows = delta.rows(), steps = %steps.done(), "delta built from the store");
        return Ok(Built::Delta(delta));
    }
    let parts = mirror.parts();
    steps.mark("copies");
    tracing::debug!(version, steps = %steps.done(), "snapshot built from the store");
    Ok(Built::Full(Box::new((
        Snapshot {
            version,
            providers: globals.providers.clone(),
            models: globals.models.clone(),
            tenants: parts.tenants,
            projects: parts.projects,
            api_keys: parts.api_keys,
            api_key_digest_secret: Some(digests.sealed(master)?),
            route_groups: globals.route_groups.clone(),
            pooled_keys: parts.pooled_keys,
            billing: globals.billing.clone(),
        },
        globals,
    ))))
}

/// Republish every `every` while usage keeps arriving and some project has a spend cap, so the
/// data planes' month-to-date spend catches up with what the others served.
pub async fn spend_refresher(app: Arc<App>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        if !app
            .usage_changed
            .swap(false, std::sync::atomic::Ordering::Relaxed)
        {
            continue;
        }
        match app.store.any_spend_limit().await {
            Ok(true) => {
                if let Err(e) = app.publish().await {
                    tracing::warn!("republishing spend: {e:#}");
                }
            }
            Ok(false) => {}
            Err(e) => tracing::warn!("checking spend limits: {e}"),
        }
    }
}

/// The overhead and the price table as picodollars per token, for the data planes' spend limits.
fn billing_rates(
    overhead: &crate::billing::Overhead,
    prices: &[crate::store::usage::Price],
) -> anyhow::Result<BillingRates> {
    let pico =
        |r: warden_shared::money::Rate| u64::try_from(r.pico_per_token()).unwrap_or(u64::MAX);
    let mut rates = BillingRates {
        overhead_input: pico(overhead.input),
        overhead_output: pico(overhead.output),
        prices: Vec::with_capacity(prices.len()),
    };
    for ((provider, model), (input, output)) in crate::billing::price_map(prices) {
        if let Some(p) = Provider::from_name(&provider) {
            rates.prices.push((p, model, pico(input), pico(output)));
        }
    }
    rates
        .prices
        .sort_by(|a, b| (a.0.name(), &a.1).cmp(&(b.0.name(), &b.1)));
    Ok(rates)
}

/// This month's spend per project so far (picodollars), and the month's first day.
async fn month_spend(
    store: &Store,
    overhead: &crate::billing::Overhead,
    prices: &[crate::store::usage::Price],
) -> anyhow::Result<(i64, HashMap<String, u64>)> {
    let today = now_s() / 86_400;
    let (y, m, _) = warden_shared::date::civil_from_days(today);
    let first = warden_shared::date::days_from_civil(y, i64::from(m), 1);
    let rows = store
        .usage(
            &warden_shared::date::format_day(first),
            &warden_shared::date::format_day(today),
            None,
            None,
        )
        .await?;
    let prices = crate::billing::price_map(prices);
    let mut totals: HashMap<String, crate::billing::Totals> = HashMap::new();
    for r in &rows {
        totals
            .entry(r.project.clone())
            .or_default()
            .add(r, overhead, &prices);
    }
    let spend = totals
        .into_iter()
        .map(|(p, t)| (p, u64::try_from(t.total().0).unwrap_or(u64::MAX)))
        .collect();
    Ok((first, spend))
}

/// Milliseconds per step of a build, for the debug log.
struct Steps {
    last: std::time::Instant,
    took: String,
}

impl Steps {
    fn new() -> Steps {
        Steps {
            last: std::time::Instant::now(),
            took: String::new(),
        }
    }

    fn mark(&mut self, step: &str) {
        use std::fmt::Write;
        let now = std::time::Instant::now();
        let _ = write!(self.took, "{step}={}ms ", (now - self.last).as_millis());
        self.last = now;
    }

    fn done(self) -> String {
        self.took
    }
}

pub(crate) fn sealed_key(row: &ProviderKeyRow) -> anyhow::Result<ProviderKey> {
    let provider = Provider::from_name(&row.provider)
        .ok_or_else(|| anyhow::anyhow!("unknown provider in store"))?;
    let nonce: [u8; 12] = unhex(&row.nonce)
        .and_then(|n| n.try_into().ok())
        .ok_or_else(|| anyhow::anyhow!("bad nonce"))?;
    Ok(ProviderKey {
        id: row.id.clone(),
        provider,
        fingerprint: row.fingerprint.clone(),
        priority: row.priority as u32,
        sealed: SealedKey {
            version: warden_shared::vault::ENVELOPE_VERSION,
            master_key_id: row.master_key_id as u32,
            nonce,
            ciphertext: unhex(&row.ciphertext).ok_or_else(|| anyhow::anyhow!("bad ciphertext"))?,
        },
    })
}

/// A stored policy (`{"pii":"redact",...}`, absent keys off).
pub fn parse_guardrails(json: &str) -> anyhow::Result<GuardrailPolicy> {
    let p: crate::api::policy::GuardrailBody = serde_json::from_str(json)?;
    p.thresholds().map_err(anyhow::Error::msg)?;
    Ok(p.policy())
}

/// The operator's patterns and a project's phone settings in a stored policy (checked again: a
/// store edited by hand must not reach the data planes).
pub fn parse_custom_patterns(json: &str) -> anyhow::Result<ProjectDetectors> {
    let p: crate::api::policy::GuardrailBody = serde_json::from_str(json)?;
    warden_shared::patterns::check(&p.custom_patterns).map_err(anyhow::Error::msg)?;
    warden_shared::phones::check_regions(&p.phone_regions).map_err(anyhow::Error::msg)?;
    Ok(ProjectDetectors {
        custom_patterns: p.custom_patterns,
        phone_regions: p.phone_regions,
        phone_standalone: p.phone_standalone,
    })
}

/// What a stored guardrail policy says besides its actions: the snapshot project's fields of
/// the same names.
#[derive(Clone)]
pub struct ProjectDetectors {
    pub custom_patterns: Vec<CustomPattern>,
    pub phone_regions: Vec<String>,
    pub phone_standalone: Option<bool>,
}

/// A stored routing policy (`{"key_mode":...,"providers":{...}}`, absent keys default).
pub fn parse_routing(json: &str) -> anyhow::Result<Routing> {
    let body: crate::api::policy::RoutingBody = serde_json::from_str(json)?;
    body.routing().map_err(anyhow::Error::msg)
}

pub fn parse_plan(s: &str) -> anyhow::Result<Plan> {
    Ok(match s {
        "developer" => Plan::Developer,
        "team" => Plan::Team,
        "enterprise" => Plan::Enterprise,
        _ => anyhow::bail!("unknown plan {s:?} in store"),
    })
}

pub fn parse_environment(s: &str) -> anyhow::Result<Environment> {
    Ok(match s {
        "development" => Environment::Development,
        "staging" => Environment::Staging,
        "production" => Environment::Production,
        _ => anyhow::bail!("unknown environment {s:?} in store"),
    })
}

/// The pusher: wakes on every publish and every second.
pub async fn pusher(app: Arc<App>) {
    loop {
        tokio::select! {
            _ = app.wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        // Only the cluster's leader pushes (`cluster.rs`).
        if !app.leading() {
            continue;
        }
        let latest = app.latest();
        if latest.version == 0 {
            continue;
        }
        let Ok(planes) = app.store.dataplanes().await else {
            continue;
        };
        let mut pushes = JoinSet::new();
        for d in planes {
            // Only enrolled data planes, each with its own credential (revoked ones get nothing).
            let credential = match &app.credentials {
                Some(c) if d.enrolled() => c.issue(&d.id, d.credential_gen),
                _ => continue,
            };
            let acked = d.acked_version as u64;
            if acked < latest.version && now_s() - d.last_seen <= STALE_AFTER_S {
                pushes.spawn(push_one(
                    Arc::clone(&app),
                    d.id,
                    d.push_url,
                    credential,
                    Arc::clone(&latest),
                    acked,
                ));
            }
        }
        while pushes.join_next().await.is_some() {}
    }
}

/// Bring one data plane, which acknowledged `acked`, to the newest version: the delta alone
/// when it holds the delta's base (or a version after it), else the full snapshot and the delta
/// in one body (a bundle: it swaps to the delta's state at once, never serving the base alone).
/// A delta refused because the data plane holds another base (it restarted from an older
/// state or from none, or another control plane built a newer full snapshot that was never
/// saved as the base) is followed by the bundle: a data plane checks that only the delta's
/// version moves forward, so the bundle moves it from any version before the delta's.
async fn push_one(
    app: Arc<App>,
    id: String,
    url: String,
    credential: zeroize::Zeroizing<String>,
    latest: Arc<Published>,
    acked: u64,
) {
    let full = &latest.full;
    let Some(delta) = &latest.delta else {
        push_bytes(&app, &id, &url, &credential, full.version, &[&full.bytes]).await;
        return;
    };
    if acked >= full.version && acked > 0 {
        let pushed = push_bytes(&app, &id, &url, &credential, delta.version, &[&delta.bytes]).await;
        if pushed != Pushed::OtherBase {
            return;
        }
    }
    let head = warden_shared::signing::bundle_head(full.bytes.len());
    let bundle: [&[u8]; 3] = [&head, &full.bytes, &delta.bytes];
    push_bytes(&app, &id, &url, &credential, delta.version, &bundle).await;
}

/// How one push went.
#[derive(PartialEq, Eq)]
enum Pushed {
    Acked,
    /// A delta refused because the data plane holds another base (412).
    OtherBase,
    Failed,
}

/// One `PUT` of version `version` (the body: `parts` one after the other), recorded: the
/// acknowledgement in the store, the outcome in the metrics and the trace.
async fn push_bytes(
    app: &App,
    id: &str,
    url: &str,
    credential: &str,
    version: u64,
    parts: &[&[u8]],
) -> Pushed {
    let start = std::time::SystemTime::now();
    let (pushed, outcome) = match tokio::time::timeout(
        Duration::from_secs(10),
        put_snapshot(url, credential, parts, app.push_tls.as_ref()),
    )
    .await
    {
        Ok(Ok(acked)) => {
            app.pushes[0].fetch_add(1, Relaxed);
            if let Err(e) = app.store.ack(id, acked).await {
                tracing::warn!(dataplane = %id, "recording an acknowledgement: {e}");
            }
            (Pushed::Acked, "acked")
        }
        Ok(Err(e)) if e.downcast_ref::<Answered>().is_some_and(|a| a.0 == 412) => {
            app.pushes[1].fetch_add(1, Relaxed);
            tracing::info!(dataplane = %id, version, "{e:#}");
            (Pushed::OtherBase, "failed")
        }
        Ok(Err(e)) => {
            app.pushes[1].fetch_add(1, Relaxed);
            tracing::warn!(dataplane = %id, version, "push failed: {e:#}");
            (Pushed::Failed, "failed")
        }
        Err(_) => {
            app.pushes[2].fetch_add(1, Relaxed);
            tracing::warn!(dataplane = %id, version, "push timed out");
            (Pushed::Failed, "timeout")
        }
    };
    crate::trace::push(app, id, version, start, outcome);
    pushed
}

/// A data plane's answer other than 200: its status and body.
#[derive(Debug)]
struct Answered(u16, String);

impl std::fmt::Display for Answered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "data plane answered {}: {}", self.0, self.1)
    }
}

impl std::error::Error for Answered {}

/// `PUT {url}/v1/snapshot` (over TLS for an `https://` address, verified against `tls`);
/// returns the version the data plane says it serves.
async fn put_snapshot(
    url: &str,
    token: &str,
    bytes: &[&[u8]],
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> anyhow::Result<u64> {
    let (rest, secure) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(rest), _) => (rest, true),
        (None, Some(rest)) => (rest, false),
        _ => anyhow::bail!("push_url must be http:// or https://"),
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    let tcp = TcpStream::connect(authority).await?;
    if !secure {
        return exchange(tcp, authority, token, bytes).await;
    }
    let config = tls.ok_or_else(|| anyhow::anyhow!("no TLS client configuration"))?;
    let host = warden_shared::authority_host(authority);
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|_| anyhow::anyhow!("push_url host {host:?} is not a name or address"))?;
    let stream = tokio_rustls::TlsConnector::from(Arc::clone(config))
        .connect(name, tcp)
        .await?;
    exchange(stream, authority, token, bytes).await
}

async fn exchange<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut s: S,
    authority: &str,
    token: &str,
    bytes: &[&[u8]],
) -> anyhow::Result<u64> {
    let head = format!(
        "PUT /v1/snapshot HTTP/1.1\r\nhost: {authority}\r\nauthorization: Bearer {token}\r\ncontent-type: application/octet-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        bytes.iter().map(|b| b.len()).sum::<usize>()
    );
    s.write_all(head.as_bytes()).await?;
    for part in bytes {
        s.write_all(part).await?;
    }
    // A data plane's answer is a short JSON object: read at most 64 KiB of it, until it closes
    // (over TLS a peer may close without close_notify: what arrived before counts).
    let mut response = Vec::new();
    let mut chunk = [0u8; 4096];
    while response.len() < 64 * 1024 {
        match s.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => response.extend_from_slice(&chunk[..n]),
            Err(e) if response.is_empty() => return Err(e.into()),
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&response);
    let status: u16 = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    if status != 200 {
        return Err(Answered(status, body.chars().take(512).collect()).into());
    }
    let v: serde_json::Value = serde_json::from_str(body)?;
    v["version"]
        .as_u64()
        .ok_or_else(|| anyhow::anyhow!("no version in the acknowledgement"))
}
