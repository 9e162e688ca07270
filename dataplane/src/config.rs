//! The data plane's TOML configuration (DESIGN.md "Binaries and flags" and "Standalone
//! data-plane config"). Unknown keys are errors, so a typo never silently falls back to a default.
//! All bounds and timeouts live here with their defaults; each has a clear error where it bites.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use warden_shared::standalone::{ModelSection, ProviderSection, Sections, TenantSection};

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Client port; every shard binds its own SO_REUSEPORT socket here.
    pub listen: SocketAddr,
    /// Health, readiness, metrics.
    pub admin_listen: SocketAddr,
    /// Default: the number of cores.
    pub shards: Option<usize>,
    pub state_dir: PathBuf,
    pub audit_dir: Option<PathBuf>,
    /// Where the shards' audit rings live (default: a directory in `/dev/shm` named after the
    /// audit directory, when `/dev/shm` is a tmpfs; else `audit_dir`).
    pub audit_ring_dir: Option<PathBuf>,
    /// 32 raw bytes. Standalone without one: keys are sealed under a random per-process key.
    pub master_key_file: Option<PathBuf>,
    /// The control plane's URL, or a list of the URLs of one cluster's control planes: this data
    /// plane registers with every one and ships usage to the first that answers.
    pub control_plane: Option<ControlPlanes>,
    pub control_plane_token_file: Option<PathBuf>,
    /// The control plane's snapshot signing key (`snapshot-signing.pub` in its `data_dir`):
    /// only snapshots it signed are served. Required with `control_plane`.
    pub snapshot_public_key_file: Option<PathBuf>,
    /// How this data plane names itself to the control plane (default: its admin address).
    pub dataplane_id: Option<String>,
    /// The URL the control plane pushes snapshots to (default: `http://<admin_listen>`).
    pub advertise_admin_url: Option<String>,
    /// Submission queue entries per shard ring (the memlock budget is per user: keep it modest).
    #[serde(default = "default_ring_entries")]
    pub io_uring_entries: u32,
    /// Client TLS on `listen` (`[tls] cert_file, key_file`); plain HTTP without it.
    pub tls: Option<crate::tls::TlsConfig>,
    /// TLS on `admin_listen` (`[admin_tls] cert_file, key_file`): the control plane pushes to
    /// `https://` then (its `[dataplanes] ca_file` must trust the certificate).
    pub admin_tls: Option<crate::tls::TlsConfig>,
    /// Extra PEM roots trusted for an `https://` `control_plane` (besides the webpki roots).
    pub control_plane_ca_file: Option<PathBuf>,
    #[serde(default)]
    pub audit: crate::audit::AuditConfig,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub timeouts: Timeouts,
    #[serde(default)]
    pub upstream: Upstream,
    #[serde(default)]
    pub fallback: Fallback,
    #[serde(default)]
    pub cache: Cache,
    /// Requests and tokens per minute held across every data plane sharing this store
    /// (`[shared_limits] redis_url, local_share, sync_ms`); absent: each data plane counts its own.
    pub shared_limits: Option<crate::limits::shared::SharedLimits>,
    /// Numbering plans a phone number written without its country code is checked against, in
    /// order (ISO 3166 codes, e.g. `["DE", "AT", "CH"]`); default: 24 regions across North
    /// America, Europe, India, Brazil, Mexico, Japan, Australia and New Zealand. Numbers with
    /// `+CC` or an international prefix are checked against their own country whatever this says.
    pub phone_regions: Option<Vec<String>>,
    /// Take a bare national number (9–12 digits, no telephony word near it) for a phone number
    /// when it is valid as written in a hint region and no id word ("order", "Rechnung", `#`)
    /// names it in its clause (default false: a bare number needs a telephony word unless a
    /// zero leads it, as a trunk prefix does). On the frozen PII set it raises phone recall and
    /// redacts more unnamed order numbers and Unix times (docs/guardrails.md).
    #[serde(default)]
    pub phone_standalone: bool,
    /// `"text"` (default) or `"json"`: one JSON object per log line (see `warden_shared::logs`).
    #[serde(default)]
    pub log_format: warden_shared::logs::LogFormat,
    /// One log line per answered request, target `warden::access` (see `access.rs`).
    #[serde(default)]
    pub access_log: bool,
    /// OpenTelemetry traces over OTLP/HTTP (`otlp_endpoint`, `sample_ratio`, `queue`,
    /// `service_name`); off unless an endpoint is set.
    pub telemetry: Option<warden_shared::telemetry::Config>,
    /// How often token usage is shipped from the audit log to the control plane.
    #[serde(default = "default_usage_ship_ms")]
    pub usage_ship_ms: u64,
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderSection>,
    #[serde(default)]
    pub models: Vec<ModelSection>,
    #[serde(default)]
    pub tenants: Vec<TenantSection>,
    /// `[[pooled_keys]]`: the operator's keys, for projects whose routing allows them.
    #[serde(default)]
    pub pooled_keys: Vec<warden_shared::standalone::ProviderKeySection>,
    /// `[[route_groups]]`: complexity routing (`auto` is built in).
    #[serde(default)]
    pub route_groups: Vec<warden_shared::snapshot::RouteGroup>,
}

/// `control_plane = "URL"` or `control_plane = ["URL", …]`.
#[derive(Deserialize, Debug, Clone)]
#[serde(untagged)]
pub enum ControlPlanes {
    One(String),
    Many(Vec<String>),
}

impl ControlPlanes {
    pub fn urls(&self) -> Vec<String> {
        match self {
            ControlPlanes::One(url) => vec![url.clone()],
            ControlPlanes::Many(urls) => urls.clone(),
        }
    }
}

#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_head_bytes: usize,
    pub max_headers: usize,
    pub max_body_bytes: usize,
    pub max_connections_per_shard: usize,
    pub max_response_bytes: usize,
    pub max_sse_event_bytes: usize,
}

/// The answer cache's memory (`[cache]`); projects opt in with `[tenants.projects.cache]`.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct Cache {
    /// Bytes of cached answers the data plane keeps, split evenly across its shards (each shard
    /// accounts for the entries it holds; entries shared between shards are stored once).
    pub memory_mb: u64,
    /// The largest answer kept, in KiB; bigger answers are served and not kept.
    pub max_entry_kb: u64,
    /// A Redis server the data planes of a deployment share as a second tier
    /// (`redis://[:password@]host:port[/db]`); needs `master_key_file` (the keys' salt).
    pub redis_url: Option<String>,
    /// Each shared-tier read or write, connection included.
    pub redis_timeout_ms: u64,
    /// A static embedding model (Model2Vec layout: `config.json`, `model.safetensors`,
    /// `tokenizer.json`; `scripts/semantic-model.sh` makes one) for projects with
    /// `mode = "semantic"`. Without it those projects cache exactly.
    pub semantic_model: Option<PathBuf>,
    /// Threads that embed and search, off the shards.
    pub semantic_workers: usize,
    /// Questions the semantic index holds at most over all projects.
    pub semantic_max_entries: usize,
    /// How long a request waits for its semantic lookup before it goes to the provider.
    pub semantic_timeout_ms: u64,
}

impl Default for Cache {
    fn default() -> Self {
        Cache {
            memory_mb: 256,
            max_entry_kb: 1024,
            redis_url: None,
            redis_timeout_ms: 50,
            semantic_model: None,
            semantic_workers: 1,
            semantic_max_entries: 100_000,
            semantic_timeout_ms: 20,
        }
    }
}

/// Trying the next key or provider when one fails before anything reached the client.
#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(deny_unknown_fields, default)]
pub struct Fallback {
    /// Upstream attempts per request, the first included.
    pub max_attempts: usize,
    /// From the request's arrival: no new attempt starts after this.
    pub deadline_ms: u64,
    /// Consecutive failures that open a key's circuit breaker (per shard).
    pub breaker_failures: u32,
    /// How long an open breaker skips the key before one probe request may try it.
    pub breaker_open_ms: u64,
    /// The longest `retry-after` honoured as a key's cool-down.
    pub max_retry_after_ms: u64,
}

impl Default for Fallback {
    fn default() -> Self {
        Fallback {
            max_attempts: 4,
            deadline_ms: 60_000,
            breaker_failures: 5,
            breaker_open_ms: 30_000,
            max_retry_after_ms: 300_000,
        }
    }
}

/// Milliseconds.
#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(deny_unknown_fields, default)]
pub struct Timeouts {
    /// From a request's first byte to its complete head.
    pub head_ms: u64,
    /// A keep-alive connection with no request in flight.
    pub idle_ms: u64,
    /// Between reads of a request body.
    pub body_ms: u64,
    pub upstream_connect_ms: u64,
    /// From the request sent to the provider's first response byte (non-streamed answers only
    /// start once generation is done, so this is generous).
    pub upstream_first_byte_ms: u64,
    /// Between reads of a provider response, streamed or not.
    pub upstream_idle_ms: u64,
    /// How long SIGTERM waits for in-flight requests.
    pub drain_ms: u64,
    /// After SIGTERM, how long the data plane keeps serving while `/readyz` says 503, so a load
    /// balancer stops sending before the listeners close (a second signal cuts it short).
    pub shutdown_delay_ms: u64,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct Upstream {
    pub pool_max_idle_per_origin: usize,
    pub pool_idle_ms: u64,
    pub dns_ttl_ms: u64,
    /// Extra PEM roots trusted for providers (private gateways, test CAs), besides webpki roots.
    pub ca_file: Option<PathBuf>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head_bytes: 16 * 1024,
            max_headers: 64,
            max_body_bytes: 4 * 1024 * 1024,
            max_connections_per_shard: 10_000,
            max_response_bytes: 32 * 1024 * 1024,
            max_sse_event_bytes: 1024 * 1024,
        }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            head_ms: 10_000,
            idle_ms: 60_000,
            body_ms: 30_000,
            upstream_connect_ms: 5_000,
            upstream_first_byte_ms: 300_000,
            upstream_idle_ms: 120_000,
            drain_ms: 30_000,
            shutdown_delay_ms: 0,
        }
    }
}

fn default_usage_ship_ms() -> u64 {
    1000
}

fn default_ring_entries() -> u32 {
    1024
}

pub fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        Config::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        let l = &self.limits;
        if l.max_headers == 0 || l.max_headers > crate::http::parse::MAX_HEADERS {
            return Err(format!(
                "limits.max_headers must be 1..={}",
                crate::http::parse::MAX_HEADERS
            ));
        }
        if l.max_head_bytes < 1024 || l.max_body_bytes == 0 || l.max_connections_per_shard == 0 {
            return Err(
                "limits: max_head_bytes >= 1024, max_body_bytes and max_connections_per_shard > 0"
                    .into(),
            );
        }
        if self.shards == Some(0) {
            return Err("shards must be at least 1".into());
        }
        if let Some(t) = &self.telemetry {
            t.check()?;
        }
        if !(1..=16).contains(&self.fallback.max_attempts) || self.fallback.breaker_failures == 0 {
            return Err(
                "fallback.max_attempts must be 1..=16 and breaker_failures at least 1".into(),
            );
        }
        let c = &self.cache;
        if c.memory_mb > 1 << 20 || c.max_entry_kb == 0 || c.max_entry_kb > 64 * 1024 {
            return Err("cache: memory_mb at most 1048576, max_entry_kb 1..=65536".into());
        }
        if !(1..=64).contains(&c.semantic_workers)
            || !(1..=10_000_000).contains(&c.semantic_max_entries)
            || !(1..=10_000).contains(&c.semantic_timeout_ms)
        {
            return Err("cache: semantic_workers 1..=64, semantic_max_entries 1..=10000000, semantic_timeout_ms 1..=10000".into());
        }
        if c.redis_url.is_some() && self.master_key_file.is_none() {
            return Err("cache.redis_url needs master_key_file: the data planes sharing the cache derive its keys from the master key".into());
        }
        if let Some(shared) = &self.shared_limits {
            shared.check()?;
        }
        if let Some(cps) = &self.control_plane {
            let urls = cps.urls();
            if urls.is_empty() || urls.len() > 16 {
                return Err("control_plane: one URL, or a list of 1 to 16".into());
            }
            if let Some(bad) = urls
                .iter()
                .find(|u| !(u.starts_with("http://") || u.starts_with("https://")))
            {
                return Err(format!(
                    "control_plane: {bad:?} is not an http:// or https:// URL"
                ));
            }
            if self.control_plane_token_file.is_none()
                || self.master_key_file.is_none()
                || self.snapshot_public_key_file.is_none()
            {
                return Err("control_plane needs control_plane_token_file, master_key_file and snapshot_public_key_file".into());
            }
            if !self.tenants.is_empty() {
                return Err("control_plane and standalone [[tenants]] exclude each other".into());
            }
        }
        Ok(())
    }

    /// The audit chain's key file (`audit.key_file`, default `state_dir/audit.key`).
    pub fn audit_key_file(&self) -> PathBuf {
        self.audit
            .key_file
            .clone()
            .unwrap_or_else(|| self.state_dir.join("audit.key"))
    }

    /// Under a control plane, `[providers.NAME] base_url` pins that provider's origin: a
    /// snapshot that sends its keys anywhere else is refused.
    pub fn pinned_origins(
        &self,
    ) -> Result<Vec<(warden_shared::catalog::Provider, String)>, String> {
        let mut pins = Vec::new();
        for (name, section) in &self.providers {
            let provider = warden_shared::catalog::Provider::from_name(name)
                .ok_or_else(|| format!("[providers.{name}]: unknown provider"))?;
            if let Some(url) = &section.base_url {
                pins.push((provider, url.trim_end_matches('/').to_owned()));
            }
        }
        Ok(pins)
    }

    /// `audit_dir`, by default `state_dir/audit`.
    pub fn audit_dir(&self) -> PathBuf {
        self.audit_dir
            .clone()
            .unwrap_or_else(|| self.state_dir.join("audit"))
    }

    /// Where the audit rings live. In memory (tmpfs) by default: a store into a file-backed
    /// mapping can wait on the filesystem's journal (the page fault updates the file's times),
    /// which would stall a shard; tmpfs pages never do, and they outlive a killed process just
    /// the same. The name is derived from the audit directory, so a restart finds its rings.
    pub fn audit_ring_dir(&self) -> PathBuf {
        if let Some(dir) = &self.audit_ring_dir {
            return dir.clone();
        }
        let audit = self.audit_dir();
        let shm = std::path::Path::new("/dev/shm");
        if !crate::audit::disk::is_tmpfs(shm) {
            return audit;
        }
        let canonical = std::fs::canonicalize(&audit).unwrap_or(audit);
        let digest = warden_shared::fingerprint(canonical.as_os_str().as_encoded_bytes());
        shm.join(format!("warden-audit-{}", &digest[7..]))
    }

    pub fn shard_count(&self) -> usize {
        self.shards
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    pub fn sections(&self) -> Sections<'_> {
        Sections {
            providers: &self.providers,
            models: &self.models,
            tenants: &self.tenants,
            pooled_keys: &self.pooled_keys,
            route_groups: &self.route_groups,
        }
    }
}

impl Default for Upstream {
    fn default() -> Self {
        Upstream {
            pool_max_idle_per_origin: 64,
            pool_idle_ms: 30_000,
            dns_ttl_ms: 30_000,
            ca_file: None,
        }
    }
}
