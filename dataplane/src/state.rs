//! The serving state a shard answers from: a snapshot turned into lookup tables.
//!
//! Built off the hot path (at start, and later when a new snapshot arrives), held by each shard
//! in an `Rc`; a request keeps the state it started with. Lookups are hash-map hits; the
//! `/v1/models` body of each project is rendered here once, not per request.

use std::collections::HashMap;
use std::sync::Arc;

use warden_shared::catalog::Provider;
use warden_shared::snapshot::{Environment, GuardrailPolicy, ProviderKey, Snapshot};
use warden_shared::vault::Keyring;

use crate::guard::custom::{compile_all, CustomSet, CustomSets};
use crate::http::respond::json_string;
use crate::upstream::origin::Origin;

pub struct ServingState {
    pub version: u64,
    api_keys: HashMap<[u8; 32], ApiKeyRef>,
    pub projects: Vec<ProjectState>,
    models: HashMap<Box<str>, RouteTarget>,
    /// Indexed by `Provider::index`.
    pub origins: Vec<Origin>,
    /// Opens sealed provider keys for one request at a time.
    pub master: Arc<Keyring>,
    /// Scratch space for every project's custom-pattern database (this shard's own).
    pub custom_scratch: Option<hyperscan::Scratch>,
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
    /// The operator's own detectors, compiled.
    pub custom: Option<Arc<CustomSet>>,
    /// The `/v1/models` answer for keys of this project.
    pub models_json: Vec<u8>,
}

pub struct RouteTarget {
    pub alias: Arc<str>,
    pub provider: Provider,
    pub upstream_model: Arc<str>,
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
                    upstream_model: m.upstream_model.as_str().into(),
                };
                (m.alias.as_str().into(), target)
            })
            .collect();
        let mut projects = Vec::with_capacity(snapshot.projects.len());
        for (p, set) in snapshot.projects.iter().zip(custom) {
            let mut aliases: Vec<&RouteTarget> = models
                .values()
                .filter(|m| p.provider_keys.iter().any(|k| k.provider == m.provider))
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
                custom: set.clone(),
                models_json: models_json(&aliases),
            });
        }
        let project_index: HashMap<&str, usize> = projects
            .iter()
            .enumerate()
            .map(|(i, p)| (&*p.id, i))
            .collect();
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
            projects,
            models,
            origins,
            master,
            custom_scratch,
        })
    }

    pub fn api_key(&self, hash: &[u8; 32]) -> Option<&ApiKeyRef> {
        self.api_keys.get(hash)
    }

    pub fn route(&self, alias: &str) -> Option<&RouteTarget> {
        self.models.get(alias)
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
        let snapshot = Snapshot {
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
            }],
            api_keys: Vec::new(),
            pooled_keys: Vec::new(),
        };
        let key = MasterKey::generate(1).unwrap_or_else(|e| panic!("{e}"));
        ServingState::build(&snapshot, Arc::new(Keyring::new(vec![key])))
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
