//! The snapshot: everything a data plane needs to serve, in one versioned rkyv value.
//!
//! The control plane builds it from its store and pushes it; a standalone data plane compiles
//! it from TOML ([`crate::standalone`]). Either way the data plane receives bytes and goes
//! through [`decode`], which validates them (bytecheck) before anything reads them: a snapshot
//! from the network or from disk is never accessed unchecked.
//!
//! Secrets: the snapshot carries API key hashes and sealed provider keys only.

use rkyv::rancor::Error as RkyvError;
use rkyv::util::AlignedVec;
use rkyv::{Archive, Deserialize, Serialize};

use crate::catalog::{ModelRoute, Provider};
use crate::vault::SealedKey;

mod cache;
mod delta;
mod guard;
pub use cache::{CacheMode, CachePolicy};
pub use delta::{decode_delta, encode_delta, Delta};
pub use guard::{CustomPattern, GuardAction, GuardrailPolicy, InjectionThresholds};

#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Monotonic; a data plane acknowledges the version it serves.
    pub version: u64,
    pub providers: Vec<ProviderEndpoint>,
    pub models: Vec<ModelRoute>,
    pub tenants: Vec<Tenant>,
    pub projects: Vec<Project>,
    pub api_keys: Vec<ApiKeyEntry>,
    /// The secret `api_keys` digests are keyed with (`api_key_digest`), sealed under a master
    /// key (`MasterKey::seal_secret` with `API_KEY_DIGEST_LABEL`); `None`: plain SHA-256 digests.
    pub api_key_digest_secret: Option<SealedKey>,
    /// The operator's pooled provider keys, sealed with the scope tenant "" / project "".
    pub pooled_keys: Vec<ProviderKey>,
    /// What usage costs, for monthly spend limits.
    pub billing: BillingRates,
    /// Complexity routing: a group name clients send as `model`, and the alias per tier.
    pub route_groups: Vec<RouteGroup>,
}

/// A route group: requests for `name` are scored and sent to the alias of their tier.
#[derive(Archive, Serialize, Deserialize, serde::Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RouteGroup {
    pub name: String,
    pub simple: String,
    pub medium: String,
    pub complex: String,
    pub reasoning: String,
}

impl RouteGroup {
    /// `auto`: gpt-4o-mini, gpt-4o, claude-4-sonnet, o3.
    pub fn auto() -> RouteGroup {
        RouteGroup {
            name: "auto".into(),
            simple: "gpt-4o-mini".into(),
            medium: "gpt-4o".into(),
            complex: "claude-4-sonnet".into(),
            reasoning: "o3".into(),
        }
    }

    /// The aliases, cheapest tier first.
    pub fn tiers(&self) -> [&str; 4] {
        [&self.simple, &self.medium, &self.complex, &self.reasoning]
    }
}

/// The configured groups, with `auto` added unless configured, each tier a known alias.
pub fn route_groups(
    configured: &[RouteGroup],
    models: &[crate::catalog::ModelRoute],
) -> Result<Vec<RouteGroup>, String> {
    let mut groups = configured.to_vec();
    if !groups.iter().any(|g| g.name == "auto") {
        groups.push(RouteGroup::auto());
    }
    for g in &groups {
        if models.iter().any(|m| m.alias == g.name) {
            return Err(format!("route group {:?} is also a model alias", g.name));
        }
        for t in g.tiers() {
            match models.iter().find(|m| m.alias == t) {
                Some(m) if m.kind == crate::catalog::ModelKind::Chat => {}
                Some(_) => {
                    return Err(format!("route group {}: {t:?} is not a chat model", g.name))
                }
                None => {
                    return Err(format!(
                        "route group {}: {t:?} is not a known model alias",
                        g.name
                    ))
                }
            }
        }
    }
    Ok(groups)
}

/// Picodollars (10^-12 USD) per token: Warden's overhead, and pooled models' provider prices.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct BillingRates {
    pub overhead_input: u64,
    pub overhead_output: u64,
    /// (provider, upstream model, input, output).
    pub prices: Vec<(Provider, String, u64, u64)>,
}

impl BillingRates {
    /// From decimal dollars per million tokens: the overhead rates and (provider name, model,
    /// input, output) prices. Unknown providers and unreadable prices are errors.
    pub fn from_decimal(
        overhead: (&str, &str),
        prices: &[(&str, &str, &str, &str)],
    ) -> Result<BillingRates, String> {
        let rate = |s: &str| {
            crate::money::Rate::per_mtok(s)
                .and_then(|r| u64::try_from(r.pico_per_token()).ok())
                .ok_or_else(|| {
                    format!("price {s:?}: dollars per million tokens, at most 6 decimals")
                })
        };
        let mut out = BillingRates {
            overhead_input: rate(overhead.0)?,
            overhead_output: rate(overhead.1)?,
            prices: Vec::with_capacity(prices.len()),
        };
        for (provider, model, input, output) in prices {
            let p = Provider::from_name(provider)
                .ok_or_else(|| format!("price for unknown provider {provider:?}"))?;
            out.prices
                .push((p, (*model).to_owned(), rate(input)?, rate(output)?));
        }
        Ok(out)
    }

    /// The default overhead ($0.10 / $0.20 per million input / output tokens) and list prices.
    pub fn defaults() -> BillingRates {
        BillingRates::from_decimal(("0.10", "0.20"), crate::catalog::DEFAULT_PRICES)
            .unwrap_or_default()
    }

    /// What one request's usage costs, in picodollars: the overhead on uncached input and on
    /// output, plus the provider's price for pooled traffic. Saturates rather than wraps.
    pub fn cost(&self, provider: Provider, model: &str, pooled: bool, tokens: [u64; 3]) -> u64 {
        let [input, cached, output] = tokens;
        let billable = input.saturating_sub(cached);
        let mut pico = billable
            .saturating_mul(self.overhead_input)
            .saturating_add(output.saturating_mul(self.overhead_output));
        if pooled {
            let price = self
                .prices
                .iter()
                .find(|(p, m, _, _)| *p == provider && m == model);
            if let Some((_, _, i, o)) = price {
                pico = pico
                    .saturating_add(billable.saturating_mul(*i))
                    .saturating_add(output.saturating_mul(*o));
            }
        }
        pico
    }
}

impl Limits {
    /// From a config or API body: spend in decimal dollars; the warning threshold defaults to
    /// 80 % of the cap.
    pub fn from_decimal(
        requests_per_minute: Option<u64>,
        tokens_per_minute: Option<u64>,
        monthly_spend_usd: Option<&str>,
        monthly_spend_warning_usd: Option<&str>,
    ) -> Result<Limits, String> {
        let pico = |s: &str, field: &str| {
            crate::money::Usd::parse(s)
                .and_then(|u| u64::try_from(u.0).ok())
                .ok_or_else(|| format!("{field} {s:?}: a dollar amount up to 18 million"))
        };
        let spend = monthly_spend_usd
            .map(|s| pico(s, "monthly_spend_usd"))
            .transpose()?
            .unwrap_or(0);
        let warning = match monthly_spend_warning_usd {
            Some(s) => pico(s, "monthly_spend_warning_usd")?,
            None => spend / 5 * 4,
        };
        Ok(Limits {
            requests_per_minute: requests_per_minute.unwrap_or(0),
            tokens_per_minute: tokens_per_minute.unwrap_or(0),
            monthly_spend: spend,
            monthly_spend_warning: warning,
            spent: 0,
            spent_month: 0,
        })
    }
}

/// A project's limits; 0 means none. Spend is in picodollars.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct Limits {
    pub requests_per_minute: u64,
    pub tokens_per_minute: u64,
    /// The hard monthly cap: requests are refused (429 `budget_exceeded`) once it is reached.
    pub monthly_spend: u64,
    /// The soft threshold: answers carry `x-warden-budget-warning` once it is passed.
    pub monthly_spend_warning: u64,
    /// Spend this month as the control plane knew it when the snapshot was built, and which
    /// month that is (days since the epoch of its first day).
    pub spent: u64,
    pub spent_month: i64,
}

impl Snapshot {
    /// Every master-key id this snapshot's sealed keys need.
    pub fn master_key_ids(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = self
            .projects
            .iter()
            .flat_map(|p| p.provider_keys.iter())
            .chain(self.pooled_keys.iter())
            .map(|k| k.sealed.master_key_id)
            .chain(self.api_key_digest_secret.as_ref().map(|s| s.master_key_id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

/// Where a provider is reached (overridable for tests, proxies and regional endpoints).
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ProviderEndpoint {
    pub provider: Provider,
    pub base_url: String,
}

#[derive(
    Archive, Serialize, Deserialize, serde::Deserialize, Debug, Clone, Copy, PartialEq, Eq,
)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Plan {
    Developer,
    Team,
    Enterprise,
}

#[derive(
    Archive, Serialize, Deserialize, serde::Deserialize, Debug, Clone, Copy, PartialEq, Eq,
)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Environment {
    Development,
    Staging,
    Production,
}

#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: String,
    pub plan: Plan,
}

#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: String,
    pub tenant: String,
    pub environment: Environment,
    /// In priority order (lowest `priority` first).
    pub provider_keys: Vec<ProviderKey>,
    pub guardrails: GuardrailPolicy,
    /// The operator's own detectors for this project (see `patterns`).
    pub custom_patterns: Vec<CustomPattern>,
    /// Regions its national phone numbers are checked against (`phones`); empty: the data plane's.
    pub phone_regions: Vec<String>,
    /// Whether a bare number valid as written is a phone number without a phone word for this
    /// project (`phone_standalone`); `None`: the data plane's setting.
    pub phone_standalone: Option<bool>,
    /// Which key sources serve this project's requests.
    pub routing: Routing,
    pub limits: Limits,
    /// The answer cache (`[tenants.projects.cache]`); off unless the project opts in.
    pub cache: CachePolicy,
}

/// Which keys a project's requests may use: its own (BYOK), the operator's pooled keys, or its
/// own first and then pooled ones.
#[derive(
    Archive,
    Serialize,
    Deserialize,
    serde::Deserialize,
    serde::Serialize,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum KeyMode {
    ByokOnly,
    ByokThenPooled,
    PooledOnly,
}

/// A project's key routing: a mode, with per-provider overrides.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Routing {
    pub key_mode: KeyMode,
    pub providers: Vec<(Provider, KeyMode)>,
}

impl Default for Routing {
    fn default() -> Self {
        Routing {
            key_mode: KeyMode::ByokThenPooled,
            providers: Vec::new(),
        }
    }
}

impl Routing {
    /// The mode for `provider`.
    pub fn mode(&self, provider: Provider) -> KeyMode {
        self.providers
            .iter()
            .find(|(p, _)| *p == provider)
            .map_or(self.key_mode, |(_, m)| *m)
    }
}

/// A tenant's own provider key, sealed.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ProviderKey {
    pub id: String,
    pub provider: Provider,
    pub fingerprint: String,
    pub priority: u32,
    pub sealed: SealedKey,
}

/// A Warden API key, by hash only.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyEntry {
    /// Safe to log and audit.
    pub id: String,
    pub hash: [u8; 32],
    pub project: String,
}

#[derive(Debug)]
pub struct SnapshotError(String);

impl std::fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid snapshot: {}", self.0)
    }
}

impl std::error::Error for SnapshotError {}

/// Serialise a snapshot for the wire or for disk.
pub fn encode(snapshot: &Snapshot) -> Result<Vec<u8>, SnapshotError> {
    rkyv::to_bytes::<RkyvError>(snapshot)
        .map(|bytes| bytes.into_vec())
        .map_err(|e| SnapshotError(e.to_string()))
}

/// Validate and deserialise snapshot bytes from any source (network, disk). The bytes are copied
/// into an aligned buffer first, so callers may pass any slice.
pub fn decode(bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
    rkyv::from_bytes::<Snapshot, RkyvError>(&aligned(bytes))
        .map_err(|e| SnapshotError(e.to_string()))
}

/// `bytes` copied into a buffer aligned as rkyv reads archives (bytes from the network or disk
/// come at any address).
fn aligned(bytes: &[u8]) -> AlignedVec<16> {
    let mut aligned = AlignedVec::<16>::with_capacity(bytes.len());
    aligned.extend_from_slice(bytes);
    aligned
}

/// Validate snapshot bytes and decode everything but the Warden keys, which `keys` reads in
/// their archived form, without a string allocated per key: at a million keys, deserialising
/// them cost more than validating the whole snapshot. The returned snapshot's `api_keys` is
/// empty; `keys` sees the rest of it decoded.
pub fn decode_keys_with<T>(
    bytes: &[u8],
    keys: impl FnOnce(&Snapshot, &[ArchivedApiKeyEntry]) -> T,
) -> Result<(Snapshot, T), SnapshotError> {
    let aligned = aligned(bytes);
    let archived = rkyv::access::<ArchivedSnapshot, RkyvError>(&aligned)
        .map_err(|e| SnapshotError(e.to_string()))?;
    fn part<A, T>(a: &A) -> Result<T, SnapshotError>
    where
        A: rkyv::Deserialize<T, rkyv::rancor::Strategy<rkyv::de::Pool, RkyvError>>,
    {
        rkyv::deserialize::<T, RkyvError>(a).map_err(|e| SnapshotError(e.to_string()))
    }
    let snapshot = Snapshot {
        version: archived.version.to_native(),
        providers: part(&archived.providers)?,
        models: part(&archived.models)?,
        tenants: part(&archived.tenants)?,
        projects: part(&archived.projects)?,
        api_keys: Vec::new(),
        api_key_digest_secret: part(&archived.api_key_digest_secret)?,
        pooled_keys: part(&archived.pooled_keys)?,
        billing: part(&archived.billing)?,
        route_groups: part(&archived.route_groups)?,
    };
    let out = keys(&snapshot, archived.api_keys.as_slice());
    Ok((snapshot, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Snapshot {
        Snapshot {
            version: 7,
            providers: vec![ProviderEndpoint {
                provider: Provider::OpenAi,
                base_url: "http://x/v1".into(),
            }],
            models: crate::catalog::default_models(),
            tenants: vec![Tenant {
                id: "acme".into(),
                plan: Plan::Team,
            }],
            projects: vec![],
            api_keys: vec![ApiKeyEntry {
                id: "key_1".into(),
                hash: [7; 32],
                project: "p".into(),
            }],
            api_key_digest_secret: None,
            pooled_keys: vec![],
            billing: BillingRates::defaults(),
            route_groups: vec![RouteGroup::auto()],
        }
    }

    #[test]
    fn encode_decode_round_trips() -> Result<(), SnapshotError> {
        let s = sample();
        assert_eq!(decode(&encode(&s)?)?, s);
        Ok(())
    }

    #[test]
    fn corrupt_bytes_are_rejected_not_read() -> Result<(), SnapshotError> {
        let bytes = encode(&sample())?;
        assert!(decode(&bytes[..bytes.len() / 2]).is_err());
        assert!(decode(&[0xff; 64]).is_err());
        Ok(())
    }
}
