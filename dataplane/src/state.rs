//! The serving state a shard answers from: a snapshot turned into lookup tables.
//!
//! Built off the hot path (at start, and later when a new snapshot arrives), held by each shard
//! in an `Rc`; a request keeps the state it started with. Lookups are hash-map hits; the
//! `/v1/models` body of each project is rendered here once, not per request.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use warden_shared::catalog::{ModelKind, Provider};
use warden_shared::snapshot::{
    BillingRates, Environment, GuardrailPolicy, KeyMode, Limits, Plan, ProviderKey, Routing,
    Snapshot,
};
use warden_shared::vault::Keyring;

use crate::guard::custom::{compile_all, CustomScan, CustomSet, CustomSets, ScratchOwner};
use crate::http::respond::json_string;
use crate::upstream::origin::Origin;

pub struct ServingState {
    pub version: u64,
    api_keys: HashMap<[u8; 32], ApiKeyRef>,
    /// The secret the snapshot's API-key digests are keyed with (sealed in the snapshot under a
    /// master key); `None`: plain SHA-256 digests.
    api_key_secret: Option<warden_shared::ApiKeyDigester>,
    pub projects: Vec<ProjectState>,
    models: HashMap<Box<str>, RouteTarget>,
    /// Route groups: name → the alias per tier, cheapest first.
    groups: HashMap<Box<str>, [Box<str>; 4]>,
    /// Indexed by `Provider::index`.
    pub origins: Vec<Origin>,
    /// Opens sealed provider keys for one request at a time.
    pub master: Arc<Keyring>,
    /// Scratch space for every project's custom-pattern database (this shard's own).
    custom_scratch: Option<hyperscan::Scratch>,
    /// What usage costs (for spend limits).
    pub billing: BillingRates,
    /// The operator's pooled keys (sealed), in priority order, with their labels.
    pub pooled_keys: Vec<ProviderKey>,
    pub pooled_labels: Vec<(Arc<str>, Arc<str>)>,
}

/// Whose key served a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// The tenant's own key.
    Byok,
    /// The operator's pooled key.
    Pooled,
}

impl KeySource {
    pub fn name(self) -> &'static str {
        match self {
            KeySource::Byok => "byok",
            KeySource::Pooled => "pooled",
        }
    }
}

/// A key a request may use, with its label and source.
#[derive(Clone, Copy)]
pub struct KeyRef<'s> {
    pub key: &'s ProviderKey,
    /// (id, fingerprint), shared with audit entries.
    pub label: &'s (Arc<str>, Arc<str>),
    pub source: KeySource,
}

pub struct ApiKeyRef {
    /// Safe to log and audit.
    pub id: Arc<str>,
    pub project: usize,
}

pub struct ProjectState {
    pub id: Arc<str>,
    pub tenant: Arc<str>,
    pub environment: Environment,
    /// Sealed; in priority order.
    pub provider_keys: Vec<ProviderKey>,
    /// Each key's id and fingerprint, shared with audit entries.
    pub key_labels: Vec<(Arc<str>, Arc<str>)>,
    pub guardrails: GuardrailPolicy,
    /// Which key sources serve this project (a developer-plan tenant's: pooled only).
    pub routing: Routing,
    pub limits: Limits,
    /// The answer cache's policy (`cache.rs`).
    pub cache: warden_shared::snapshot::CachePolicy,
    /// Shared by every shard (see `limits`).
    pub counters: Arc<crate::limits::Counters>,
    /// The operator's own detectors, compiled.
    pub custom: Option<Arc<CustomSet>>,
    /// The `/v1/models` answer for keys of this project.
    pub models_json: Vec<u8>,
}

pub struct RouteTarget {
    pub alias: Arc<str>,
    pub provider: Provider,
    /// Which route serves it: chat, or `/v1/embeddings`.
    pub kind: ModelKind,
    pub upstream_model: Arc<str>,
    /// Aliases tried when every key of this one has failed.
    pub fallbacks: Vec<Box<str>>,
}

impl ScratchOwner for ServingState {
    fn custom_scratch(&self) -> Option<&hyperscan::Scratch> {
        self.custom_scratch.as_ref()
    }
}

impl ServingState {
    /// Build, compiling the projects' custom patterns here (a test or a single shard).
    pub fn build(snapshot: &Snapshot, master: Arc<Keyring>) -> Result<ServingState, String> {
        ServingState::build_with(snapshot, master, &compile_all(snapshot)?)
    }

    /// Build with the custom patterns already compiled (`custom` follows `snapshot.projects`).
    pub fn build_with(
        snapshot: &Snapshot,
        master: Arc<Keyring>,
        custom: &CustomSets,
    ) -> Result<ServingState, String> {
        if custom.len() != snapshot.projects.len() {
            return Err("custom pattern sets do not match the snapshot's projects".into());
        }
        let mut custom_scratch = None;
        for set in custom.iter().flatten() {
            set.fit_scratch(&mut custom_scratch)?;
        }
        let mut origins = Vec::with_capacity(Provider::ALL.len());
        for p in Provider::ALL {
            let url = snapshot
                .providers
                .iter()
                .find(|e| e.provider == p)
                .map_or(p.default_base_url(), |e| e.base_url.as_str());
            origins.push(Origin::parse(url).map_err(|e| format!("provider {}: {e}", p.name()))?);
        }
        let models: HashMap<Box<str>, RouteTarget> = snapshot
            .models
            .iter()
            .map(|m| {
                let target = RouteTarget {
                    alias: m.alias.as_str().into(),
                    provider: m.provider,
                    kind: m.kind,
                    upstream_model: m.upstream_model.as_str().into(),
                    fallbacks: m.fallbacks.iter().map(|f| f.as_str().into()).collect(),
                };
                (m.alias.as_str().into(), target)
            })
            .collect();
        let mut projects = Vec::with_capacity(snapshot.projects.len());
        let mut pooled_keys = snapshot.pooled_keys.clone();
        pooled_keys.sort_by_key(|k| k.priority);
        // Looked up per project: a scan of the tenants per project was quadratic (2.9 s of a
        // shard's build at 100 000 projects and 10 000 tenants).
        let developers: std::collections::HashSet<&str> = snapshot
            .tenants
            .iter()
            .filter(|t| t.plan == Plan::Developer)
            .map(|t| t.id.as_str())
            .collect();
        for (p, set) in snapshot.projects.iter().zip(custom) {
            let developer = developers.contains(p.tenant.as_str());
            let routing = if developer {
                Routing {
                    key_mode: KeyMode::PooledOnly,
                    providers: Vec::new(),
                }
            } else {
                p.routing.clone()
            };
            let mut aliases: Vec<&RouteTarget> = models
                .values()
                .filter(|m| {
                    let mode = routing.mode(m.provider);
                    let own = mode != KeyMode::PooledOnly
                        && p.provider_keys.iter().any(|k| k.provider == m.provider);
                    let pooled = mode != KeyMode::ByokOnly
                        && pooled_keys.iter().any(|k| k.provider == m.provider);
                    own || pooled
                })
                .collect();
            aliases.sort_by(|a, b| a.alias.cmp(&b.alias));
            projects.push(ProjectState {
                id: p.id.as_str().into(),
                tenant: p.tenant.as_str().into(),
                environment: p.environment,
                provider_keys: p.provider_keys.clone(),
                key_labels: p
                    .provider_keys
                    .iter()
                    .map(|k| (k.id.as_str().into(), k.fingerprint.as_str().into()))
                    .collect(),
                guardrails: p.guardrails,
                routing,
                limits: p.limits.clone(),
                cache: p.cache,
                counters: crate::limits::counters(
                    &Arc::from(p.id.as_str()),
                    snapshot.version,
                    &p.limits,
                ),
                custom: set.clone(),
                models_json: models_json(&aliases),
            });
        }
        let project_index: HashMap<&str, usize> = projects
            .iter()
            .enumerate()
            .map(|(i, p)| (&*p.id, i))
            .collect();
        let api_key_secret = match &snapshot.api_key_digest_secret {
            Some(sealed) => {
                let digester = master
                    .open_secret(warden_shared::API_KEY_DIGEST_LABEL, sealed)
                    .ok()
                    .and_then(|s| {
                        <&[u8; 32]>::try_from(s.as_slice())
                            .ok()
                            .map(warden_shared::ApiKeyDigester::new)
                    })
                    .ok_or_else(|| {
                        format!(
                            "the API-key digest secret does not open under master key {} (missing from this data plane, or the wrong key)",
                            sealed.master_key_id
                        )
                    })?;
                Some(digester)
            }
            None => None,
        };
        let mut api_keys = HashMap::with_capacity(snapshot.api_keys.len());
        for k in &snapshot.api_keys {
            let project = project_index
                .get(k.project.as_str())
                .copied()
                .ok_or_else(|| format!("api key {} names unknown project {}", k.id, k.project))?;
            api_keys.insert(
                k.hash,
                ApiKeyRef {
                    id: k.id.as_str().into(),
                    project,
                },
            );
        }
        Ok(ServingState {
            version: snapshot.version,
            api_keys,
            api_key_secret,
            projects,
            models,
            origins,
            master,
            custom_scratch,
            groups: snapshot
                .route_groups
                .iter()
                .map(|g| (g.name.as_str().into(), g.tiers().map(Into::into)))
                .collect(),
            billing: snapshot.billing.clone(),
            pooled_labels: pooled_keys
                .iter()
                .map(|k| (k.id.as_str().into(), k.fingerprint.as_str().into()))
                .collect(),
            pooled_keys,
        })
    }

    /// The keys that may serve `project`'s requests to `provider`, in the order to try them:
    /// the project's own (priority order), then the operator's pooled ones, as its routing says.
    pub fn keys_for<'s>(
        &'s self,
        project: &'s ProjectState,
        provider: Provider,
        out: &mut Vec<KeyRef<'s>>,
    ) {
        let mode = project.routing.mode(provider);
        if mode != KeyMode::PooledOnly {
            for (key, label) in project.provider_keys.iter().zip(&project.key_labels) {
                if key.provider == provider {
                    out.push(KeyRef {
                        key,
                        label,
                        source: KeySource::Byok,
                    });
                }
            }
        }
        if mode != KeyMode::ByokOnly {
            for (key, label) in self.pooled_keys.iter().zip(&self.pooled_labels) {
                if key.provider == provider {
                    out.push(KeyRef {
                        key,
                        label,
                        source: KeySource::Pooled,
                    });
                }
            }
        }
    }

    /// The key a presented Warden key names, if any: looked up by its digest.
    pub fn api_key(&self, presented: &[u8]) -> Option<&ApiKeyRef> {
        let hash = warden_shared::api_key_hash(presented);
        let digest = match &self.api_key_secret {
            Some(digester) => digester.digest(&hash),
            None => hash,
        };
        self.api_keys.get(&digest)
    }

    /// The project's operator-defined patterns with this shard's scratch for them, for one
    /// request (`None`: the project has none).
    pub fn custom_scan(self: &Rc<Self>, project: &ProjectState) -> Option<CustomScan> {
        let set = project.custom.as_ref()?;
        Some(CustomScan::new(
            Arc::clone(set),
            Rc::clone(self) as Rc<dyn ScratchOwner>,
        ))
    }

    pub fn route(&self, alias: &str) -> Option<&RouteTarget> {
        self.models.get(alias)
    }

    /// A route group's aliases per tier.
    pub fn group(&self, name: &str) -> Option<&[Box<str>; 4]> {
        self.groups.get(name)
    }

    /// The route for `tier` of a group: that tier's model if the project has a key for its
    /// provider, else the nearest tier above, then below, that it can serve.
    pub fn tier_route(
        &self,
        project: &ProjectState,
        tiers: &[Box<str>; 4],
        tier: usize,
    ) -> Option<&RouteTarget> {
        let order = (tier..4).chain((0..tier).rev());
        let mut keys = Vec::new();
        let mut first = None;
        for t in order {
            let Some(route) = self.route(&tiers[t]) else {
                continue;
            };
            first.get_or_insert(route);
            keys.clear();
            self.keys_for(project, route.provider, &mut keys);
            if !keys.is_empty() {
                return Some(route);
            }
        }
        first
    }

    /// Whether `name` is an upstream model the catalog routes to `provider`.
    pub fn is_upstream_model(&self, provider: Provider, name: &str) -> bool {
        self.models
            .values()
            .any(|m| m.provider == provider && *m.upstream_model == *name)
    }

    pub fn origin(&self, provider: Provider) -> &Origin {
        &self.origins[provider.index()]
    }
}

fn models_json(aliases: &[&RouteTarget]) -> Vec<u8> {
    let mut out = b"{\"object\":\"list\",\"data\":[".to_vec();
    for (i, m) in aliases.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"id\":");
        json_string(&mut out, &m.alias);
        out.extend_from_slice(b",\"object\":\"model\",\"created\":0,\"owned_by\":");
        json_string(&mut out, m.provider.name());
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    out
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use warden_shared::snapshot::{CustomPattern, Project};
    use warden_shared::vault::MasterKey;

    /// A serving state with one project, `p`, that has `patterns` as its custom patterns.
    pub fn state_with_custom(patterns: Vec<CustomPattern>) -> ServingState {
        build_with_custom(patterns).unwrap_or_else(|e| panic!("{e}"))
    }

    fn build_with_custom(patterns: Vec<CustomPattern>) -> Result<ServingState, String> {
        let key = MasterKey::generate(1).unwrap_or_else(|e| panic!("{e}"));
        ServingState::build(&snapshot(patterns), Arc::new(Keyring::new(vec![key])))
    }

    fn snapshot(patterns: Vec<CustomPattern>) -> Snapshot {
        Snapshot {
            version: 1,
            providers: Vec::new(),
            models: Vec::new(),
            tenants: Vec::new(),
            projects: vec![Project {
                id: "p".into(),
                tenant: "t".into(),
                environment: Environment::Production,
                provider_keys: Vec::new(),
                guardrails: GuardrailPolicy::default(),
                custom_patterns: patterns,
                routing: Default::default(),
                limits: Default::default(),
                cache: Default::default(),
            }],
            api_keys: Vec::new(),
            api_key_digest_secret: None,
            pooled_keys: Vec::new(),
            billing: Default::default(),
            route_groups: Vec::new(),
        }
    }

    #[test]
    fn keys_authenticate_under_the_sealed_digest_secret_and_only_with_its_master_key() {
        let master = MasterKey::from_bytes(5, &[5; 32]).unwrap_or_else(|e| panic!("{e}"));
        let secret = [42u8; 32];
        let key = b"wdn_0123456789abcdef0123456789abcdef";
        let mut s = snapshot(Vec::new());
        s.api_keys.push(warden_shared::snapshot::ApiKeyEntry {
            id: "key_1".into(),
            hash: warden_shared::api_key_digest(&secret, &warden_shared::api_key_hash(key)),
            project: "p".into(),
        });
        s.api_key_digest_secret = Some(
            master
                .seal_secret(warden_shared::API_KEY_DIGEST_LABEL, &secret)
                .unwrap_or_else(|e| panic!("{e}")),
        );
        let state = ServingState::build(&s, Arc::new(Keyring::new(vec![master])))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(state.api_key(key).is_some());
        assert!(state
            .api_key(b"wdn_0123456789abcdef0123456789abcdeX")
            .is_none());
        let other = MasterKey::from_bytes(5, &[6; 32]).unwrap_or_else(|e| panic!("{e}"));
        match ServingState::build(&s, Arc::new(Keyring::new(vec![other]))) {
            Ok(_) => panic!("a digest secret sealed under another master key was accepted"),
            Err(e) => assert!(e.contains("does not open under master key 5"), "{e}"),
        }
    }

    #[test]
    fn a_snapshot_with_a_bad_pattern_is_refused() {
        let refused = build_with_custom(vec![CustomPattern {
            id: "bad".into(),
            pattern: "(unclosed".into(),
            caseless: false,
            action: warden_shared::snapshot::GuardAction::Block,
            response_action: warden_shared::snapshot::GuardAction::Off,
        }]);
        match refused {
            Ok(_) => panic!("a pattern Hyperscan cannot build was accepted"),
            Err(e) => assert!(e.starts_with("project p: custom pattern bad:"), "{e}"),
        }
    }
}
