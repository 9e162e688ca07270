//! Standalone configuration: tenants, projects, keys and provider endpoints written in the data
//! plane's TOML file (DESIGN.md "Standalone data-plane config"), compiled into the same
//! [`Snapshot`] the control plane pushes, so one code path serves both.
//!
//! Provider keys given by value or by environment variable are sealed at compile time under the
//! master key the caller passes; the compiled snapshot holds ciphertext only. Errors name the
//! offending field or variable, never a key's value.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;
use zeroize::Zeroizing;

use crate::catalog::{default_models, ModelKind, ModelRoute, Provider};
use crate::snapshot::{
    ApiKeyEntry, BillingRates, CustomPattern, Environment, GuardAction, GuardrailPolicy,
    InjectionThresholds, KeyMode, Limits, Plan, Project, ProviderEndpoint, ProviderKey, RouteGroup,
    Routing, Snapshot, Tenant,
};
use crate::vault::{KeyScope, MasterKey};
use crate::{api_key_hash, fingerprint};

/// `[providers.NAME]`
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct ProviderSection {
    pub base_url: Option<String>,
}

/// `[[models]]`: adds an alias or replaces a built-in one.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    pub alias: String,
    pub provider: String,
    pub upstream_model: String,
    /// Aliases to fall back to when every key of this one fails.
    #[serde(default)]
    pub fallbacks: Vec<String>,
    /// `"chat"` (default) or `"embedding"`.
    #[serde(default)]
    pub kind: Option<String>,
}

/// `[tenants.projects.routing]`: `key_mode` and per-provider overrides
/// (`providers = { openai = "pooled_only" }`).
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct RoutingSection {
    pub key_mode: Option<KeyMode>,
    #[serde(default)]
    pub providers: BTreeMap<String, KeyMode>,
}

/// `[[tenants]]`
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct TenantSection {
    pub id: String,
    pub plan: Plan,
    #[serde(default)]
    pub projects: Vec<ProjectSection>,
}

/// `[[tenants.projects]]`
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ProjectSection {
    pub id: String,
    #[serde(default = "default_environment")]
    pub environment: Environment,
    #[serde(default)]
    pub api_keys: Vec<String>,
    #[serde(default)]
    pub provider_keys: Vec<ProviderKeySection>,
    #[serde(default)]
    pub guardrails: GuardrailSection,
    #[serde(default)]
    pub routing: RoutingSection,
    #[serde(default)]
    pub limits: LimitsSection,
    #[serde(default)]
    pub cache: CacheSection,
}

/// `[tenants.projects.cache]`: `mode = "off" | "exact" | "semantic"`, `ttl_s`,
/// `semantic_threshold` (0–1), `semantic_max_temperature` (0–2), `max_mb` (this project's share
/// of each shard's cache), `generation` (raise it to drop every kept answer).
#[derive(Deserialize, serde::Serialize, Debug, Clone, Default, PartialEq)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CacheSection {
    #[serde(default)]
    pub mode: crate::snapshot::CacheMode,
    /// Seconds an answer is served after the provider gave it: 1 to 30 days (default 1 hour).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 2_592_000))]
    pub ttl_s: Option<u32>,
    /// The cosine similarity a semantic hit needs: above 0, at most 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(exclusive_minimum = 0, maximum = 1))]
    pub semantic_threshold: Option<f64>,
    /// The highest `temperature` a request may ask for and still be answered by meaning, 0 to 2
    /// (absent: any; a request without a temperature counts as 1.0). 0 keeps the semantic cache
    /// to deterministic requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 2))]
    pub semantic_max_temperature: Option<f64>,
    /// This project's share of each shard's cache, MiB (at most 1048576; absent: no cap of its
    /// own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(maximum = 1_048_576))]
    pub max_mb: Option<u64>,
    /// Raised, every answer kept so far is dropped — on every data plane and in the shared tier
    /// (Redis) — and the cache starts empty. The control plane keeps it: it raises it when the
    /// cache is turned off and on `POST /admin/v1/projects/{project}/cache/purge`, and ignores
    /// the value of a `PUT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(read_only))]
    pub generation: Option<u32>,
}

impl CacheSection {
    pub fn policy(&self) -> Result<crate::snapshot::CachePolicy, String> {
        let policy = crate::snapshot::CachePolicy::from_parts(
            self.mode,
            self.ttl_s,
            self.semantic_threshold,
            self.semantic_max_temperature,
            self.max_mb,
        )?;
        Ok(crate::snapshot::CachePolicy {
            generation: self.generation.unwrap_or(0),
            ..policy
        })
    }
}

/// `[tenants.projects.limits]`
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    pub requests_per_minute: Option<u64>,
    pub tokens_per_minute: Option<u64>,
    /// Decimal dollars, e.g. "50.00".
    pub monthly_spend_usd: Option<String>,
    pub monthly_spend_warning_usd: Option<String>,
}

/// `provider_keys = [{ provider = "...", key = "..." | key_env = "..." }]`
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct ProviderKeySection {
    pub provider: String,
    pub key: Option<String>,
    pub key_env: Option<String>,
    #[serde(default)]
    pub priority: u32,
}

impl std::fmt::Debug for ProviderKeySection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderKeySection")
            .field("provider", &self.provider)
            .field("key_env", &self.key_env)
            .finish_non_exhaustive()
    }
}

/// `[tenants.projects.guardrails]`
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct GuardrailSection {
    pub pii: Option<GuardAction>,
    pub secrets: Option<GuardAction>,
    pub injection: Option<GuardAction>,
    pub content_safety: Option<GuardAction>,
    pub response_pii: Option<GuardAction>,
    pub response_secrets: Option<GuardAction>,
    /// Images, audio, PDFs, files by reference — what no guardrail reads: `off | flag | block`.
    pub unscanned: Option<GuardAction>,
    /// The injection model's thresholds for this project (0 to 1; default: the model's own).
    pub injection_threshold: Option<f64>,
    pub injection_tool_threshold: Option<f64>,
    pub injection_flag_threshold: Option<f64>,
    /// `[[tenants.projects.guardrails.custom]]`: the operator's own detectors.
    #[serde(default)]
    pub custom: Vec<CustomPattern>,
    /// The regions national phone numbers of this project are checked against (ISO 3166
    /// codes; empty: the data plane's `phone_regions`).
    #[serde(default)]
    pub phone_regions: Vec<String>,
    /// A bare number valid as written is a phone number without a phone word (absent: the
    /// data plane's `phone_standalone`).
    pub phone_standalone: Option<bool>,
}

/// The standalone sections of a data-plane config file.
#[derive(Debug, Clone, Copy)]
pub struct Sections<'a> {
    pub providers: &'a BTreeMap<String, ProviderSection>,
    pub models: &'a [ModelSection],
    pub tenants: &'a [TenantSection],
    /// `[[pooled_keys]]`: the operator's own provider keys, shared by projects whose routing
    /// allows them.
    pub pooled_keys: &'a [ProviderKeySection],
    /// `[[route_groups]]`: complexity routing groups besides (or replacing) `auto`.
    pub route_groups: &'a [RouteGroup],
}

#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn default_environment() -> Environment {
    Environment::Production
}

fn err<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(msg.into()))
}

fn provider(name: &str, field: &str) -> Result<Provider, ConfigError> {
    Provider::from_name(name).ok_or_else(|| {
        ConfigError(format!(
            "{field}: unknown provider {name:?} (expected one of openai, anthropic, google, groq, deepseek)"
        ))
    })
}

/// Compile the standalone sections into a snapshot whose provider keys are sealed under `master`.
pub fn compile(
    sections: Sections<'_>,
    master: &MasterKey,
    version: u64,
) -> Result<Snapshot, ConfigError> {
    let mut providers = Vec::with_capacity(Provider::ALL.len());
    for name in sections.providers.keys() {
        provider(name, "[providers]")?;
    }
    for p in Provider::ALL {
        let base_url = sections
            .providers
            .get(p.name())
            .and_then(|s| s.base_url.clone())
            .unwrap_or_else(|| p.default_base_url().to_owned());
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return err(format!(
                "[providers.{}] base_url must start with http:// or https://",
                p.name()
            ));
        }
        providers.push(ProviderEndpoint {
            provider: p,
            base_url: base_url.trim_end_matches('/').to_owned(),
        });
    }

    let mut models = default_models();
    for m in sections.models {
        let route = ModelRoute {
            alias: m.alias.clone(),
            provider: provider(&m.provider, "[[models]] provider")?,
            kind: match m.kind.as_deref() {
                None => ModelKind::Chat,
                Some(k) => ModelKind::from_name(k).ok_or_else(|| {
                    ConfigError(format!(
                        "[[models]] {}: kind must be \"chat\" or \"embedding\", not {k:?}",
                        m.alias
                    ))
                })?,
            },
            upstream_model: m.upstream_model.clone(),
            fallbacks: m.fallbacks.clone(),
        };
        match models.iter_mut().find(|r| r.alias == m.alias) {
            Some(existing) => *existing = route,
            None => models.push(route),
        }
    }

    crate::catalog::check_models(&models).map_err(|e| ConfigError(format!("[[models]] {e}")))?;
    let mut pooled_keys = Vec::with_capacity(sections.pooled_keys.len());
    for (i, k) in sections.pooled_keys.iter().enumerate() {
        pooled_keys.push(seal_key(
            k,
            ("", ""),
            format!("[[pooled_keys]] {i}"),
            i,
            master,
        )?);
    }

    let mut tenants = Vec::new();
    let mut projects = Vec::new();
    let mut api_keys = Vec::new();
    let digest_secret = master.derive(crate::API_KEY_DIGEST_LABEL);
    let mut seen_projects = HashSet::new();
    let mut seen_keys = HashSet::new();
    for t in sections.tenants {
        if t.id.is_empty() || tenants.iter().any(|x: &Tenant| x.id == t.id) {
            return err(format!("[[tenants]] id {:?} is empty or duplicated", t.id));
        }
        tenants.push(Tenant {
            id: t.id.clone(),
            plan: t.plan,
        });
        for p in &t.projects {
            if p.id.is_empty() || !seen_projects.insert(p.id.clone()) {
                return err(format!("project id {:?} is empty or duplicated", p.id));
            }
            for key in &p.api_keys {
                check_secret(key, &format!("project {}: api_keys", p.id))?;
                if key.len() < MIN_WARDEN_KEY_LEN {
                    return err(format!(
                        "project {}: api_keys: a Warden key must be at least {MIN_WARDEN_KEY_LEN} characters (this one has {}); use a long random string",
                        p.id,
                        key.len()
                    ));
                }
                let hash = crate::api_key_digest(&digest_secret, &api_key_hash(key.as_bytes()));
                if !seen_keys.insert(hash) {
                    return err(format!("project {}: an API key is listed twice", p.id));
                }
                api_keys.push(ApiKeyEntry {
                    id: format!("key_{}", &fingerprint(key.as_bytes())[7..]),
                    hash,
                    project: p.id.clone(),
                });
            }
            if t.plan == Plan::Developer && !p.provider_keys.is_empty() {
                return err(format!(
                    "project {}: developer-plan tenants use pooled keys; bring your own keys on team or enterprise",
                    p.id
                ));
            }
            projects.push(compile_project(&t.id, p, master)?);
        }
    }
    let route_groups =
        crate::snapshot::route_groups(sections.route_groups, &models).map_err(ConfigError)?;
    Ok(Snapshot {
        version,
        providers,
        models,
        tenants,
        projects,
        api_keys,
        api_key_digest_secret: Some(
            master
                .seal_secret(crate::API_KEY_DIGEST_LABEL, &digest_secret[..])
                .map_err(|e| ConfigError(format!("sealing the API-key digest secret: {e}")))?,
        ),
        pooled_keys,
        billing: BillingRates::defaults(),
        route_groups,
    })
}

/// Seal one configured key for `owner` (tenant, project; both empty for a pooled key).
fn seal_key(
    k: &ProviderKeySection,
    owner: (&str, &str),
    field: String,
    i: usize,
    master: &MasterKey,
) -> Result<ProviderKey, ConfigError> {
    let prov = provider(&k.provider, &field)?;
    let plaintext: Zeroizing<String> = match (&k.key, &k.key_env) {
        (Some(key), None) => Zeroizing::new(key.clone()),
        (None, Some(var)) => match std::env::var(var) {
            Ok(v) => Zeroizing::new(v),
            Err(_) => return err(format!("{field}: environment variable {var} is not set")),
        },
        _ => return err(format!("{field}: set exactly one of key or key_env")),
    };
    check_secret(&plaintext, &field)?;
    let id = if owner.1.is_empty() {
        format!("pool_{}_{i}", prov.name())
    } else {
        format!("pk_{}_{}_{i}", owner.1, prov.name())
    };
    let scope = KeyScope {
        tenant: owner.0,
        project: owner.1,
        provider: prov,
        key_id: &id,
    };
    let sealed = master
        .seal(scope, plaintext.as_bytes())
        .map_err(|e| ConfigError(format!("{field}: {e}")))?;
    Ok(ProviderKey {
        fingerprint: fingerprint(plaintext.as_bytes()),
        id,
        provider: prov,
        priority: k.priority,
        sealed,
    })
}

fn compile_project(
    tenant: &str,
    p: &ProjectSection,
    master: &MasterKey,
) -> Result<Project, ConfigError> {
    let mut provider_keys = Vec::with_capacity(p.provider_keys.len());
    for (i, k) in p.provider_keys.iter().enumerate() {
        let field = format!("project {}: provider_keys[{i}]", p.id);
        provider_keys.push(seal_key(k, (tenant, &p.id), field, i, master)?);
    }
    provider_keys.sort_by_key(|k| k.priority);
    let g = &p.guardrails;
    let d = GuardrailPolicy::default();
    crate::patterns::check(&g.custom).map_err(|e| ConfigError(format!("project {}: {e}", p.id)))?;
    crate::phones::check_regions(&g.phone_regions)
        .map_err(|e| ConfigError(format!("project {}: phone_regions: {e}", p.id)))?;
    GuardrailPolicy::check_unscanned(g.unscanned)
        .map_err(|e| ConfigError(format!("project {}: {e}", p.id)))?;
    Ok(Project {
        id: p.id.clone(),
        tenant: tenant.to_owned(),
        environment: p.environment,
        provider_keys,
        guardrails: GuardrailPolicy {
            pii: g.pii.unwrap_or(d.pii),
            secrets: g.secrets.unwrap_or(d.secrets),
            injection: g.injection.unwrap_or(d.injection),
            content_safety: g.content_safety.unwrap_or(d.content_safety),
            response_pii: g.response_pii.unwrap_or(d.response_pii),
            response_secrets: g.response_secrets.unwrap_or(d.response_secrets),
            unscanned: g.unscanned.unwrap_or(d.unscanned),
            injection_thresholds: InjectionThresholds::from_fractions(
                g.injection_threshold,
                g.injection_tool_threshold,
                g.injection_flag_threshold,
            )
            .map_err(|e| ConfigError(format!("project {}: {e}", p.id)))?,
        },
        custom_patterns: g.custom.clone(),
        phone_regions: g.phone_regions.clone(),
        phone_standalone: g.phone_standalone,
        routing: routing(&p.routing, &p.id)?,
        limits: Limits::from_decimal(
            p.limits.requests_per_minute,
            p.limits.tokens_per_minute,
            p.limits.monthly_spend_usd.as_deref(),
            p.limits.monthly_spend_warning_usd.as_deref(),
        )
        .map_err(|e| ConfigError(format!("project {}: limits: {e}", p.id)))?,
        cache: p
            .cache
            .policy()
            .map_err(|e| ConfigError(format!("project {}: cache: {e}", p.id)))?,
    })
}

fn routing(r: &RoutingSection, project: &str) -> Result<Routing, ConfigError> {
    let mut providers = Vec::with_capacity(r.providers.len());
    for (name, mode) in &r.providers {
        let field = format!("project {project}: routing.providers");
        providers.push((provider(name, &field)?, *mode));
    }
    Ok(Routing {
        key_mode: r.key_mode.unwrap_or(Routing::default().key_mode),
        providers,
    })
}

/// Keys go into HTTP headers verbatim: refuse what would break or smuggle a header.
/// The shortest Warden key a config may name: keys are stored as digests, and a short one could
/// be found from its digest by guessing. (Keys the control plane issues are 40+ random chars.)
pub const MIN_WARDEN_KEY_LEN: usize = 20;

fn check_secret(value: &str, field: &str) -> Result<(), ConfigError> {
    if value.is_empty() || value.len() > 512 {
        return err(format!("{field}: key is empty or longer than 512 bytes"));
    }
    if value.bytes().any(|b| !(0x21..=0x7e).contains(&b)) {
        return err(format!(
            "{field}: key contains whitespace or non-printable characters"
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "standalone_tests.rs"]
mod tests;
