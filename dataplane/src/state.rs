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
    /// The `/v1/models` answer for keys of this project.
    pub models_json: Vec<u8>,
}

pub struct RouteTarget {
    pub alias: Arc<str>,
    pub provider: Provider,
    pub upstream_model: Arc<str>,
}

impl ServingState {
    pub fn build(snapshot: &Snapshot, master: Arc<Keyring>) -> Result<ServingState, String> {
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
        for p in &snapshot.projects {
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
