//! Building the shared state of a full snapshot: origins, routes, the digest secret, the
//! `/v1/models` bodies, and each project's serving state (`Reach`, which a delta's projects are
//! built with too).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use warden_shared::catalog::Provider;
use warden_shared::snapshot::{KeyMode, Plan, Project, Routing, Snapshot, Tenant};
use warden_shared::vault::Keyring;

use super::{providers_of, reaper, Base, Built, KeyTable, ProjectState, RouteTarget, SharedState};
use crate::guard::custom::{CustomSet, CustomSets};
use crate::guard::pii::Plans;
use crate::http::respond::json_string;
use crate::upstream::origin::Origin;

impl SharedState {
    /// [`SharedState::build`] with the key table already made (`decode`); the snapshot's own
    /// `api_keys` are not read.
    pub fn build_with_keys(
        snapshot: Snapshot,
        api_keys: KeyTable,
        master: Arc<Keyring>,
        custom: &CustomSets,
    ) -> Result<Built, String> {
        reaper::start();
        if custom.len() != snapshot.projects.len() {
            return Err("custom pattern sets do not match the snapshot's projects".into());
        }
        let mut scratch = None;
        for set in custom.iter().flatten() {
            set.fit_scratch(&mut scratch)?;
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
        let api_key_secret = match &snapshot.api_key_digest_secret {
            Some(sealed) => Some(digest_secret(&master, sealed)?),
            None => None,
        };
        let mut pooled_keys = snapshot.pooled_keys;
        pooled_keys.sort_by_key(|k| k.priority);
        let mut models_by_alias: Vec<&RouteTarget> = models.values().collect();
        models_by_alias.sort_by(|a, b| a.alias.cmp(&b.alias));
        // One body per set of reachable providers (32 sets), not one per project.
        let models_bodies: Vec<Arc<[u8]>> = (0..1u8 << Provider::ALL.len())
            .map(|reach| {
                let reachable: Vec<&RouteTarget> = models_by_alias
                    .iter()
                    .copied()
                    .filter(|m| reach & (1 << m.provider.index()) != 0)
                    .collect();
                models_json(&reachable).into()
            })
            .collect();
        // Looked up per project: a scan of the tenants per project was quadratic (2.9 s of a
        // shard's build at 100 000 projects and 10 000 tenants).
        let developers = developers(&snapshot.tenants);
        let reach = Reach {
            pooled: providers_of(&pooled_keys),
            bodies: &models_bodies,
            version: snapshot.version,
            phones: Default::default(),
        };
        let full_projects: Vec<Arc<ProjectState>> = snapshot
            .projects
            .into_iter()
            .zip(custom)
            .map(|(p, set)| {
                let developer = developers.contains(p.tenant.as_str());
                Arc::new(reach.project(p, set.clone(), developer))
            })
            .collect();
        drop(developers);
        let base = Base {
            full_version: snapshot.version,
            api_keys,
            api_key_secret,
            models_bodies,
            models,
            origins,
            groups: snapshot
                .route_groups
                .iter()
                .map(|g| (g.name.as_str().into(), g.tiers().map(Into::into)))
                .collect(),
            billing: snapshot.billing,
            pooled_labels: pooled_keys
                .iter()
                .map(|k| (k.id.as_str().into(), k.fingerprint.as_str().into()))
                .collect(),
            pooled_keys,
            full_projects,
        };
        let shared = SharedState {
            version: snapshot.version,
            projects: base.full_projects.clone(),
            base: Arc::new(base),
            master,
            added_keys: HashMap::default(),
            removed_keys: HashSet::default(),
            gone: HashSet::new(),
        };
        Ok(Built {
            shared: Arc::new(shared),
            scratch,
        })
    }
}

/// What a project's serving state is made with besides the project: which providers the pooled
/// keys reach, the `/v1/models` bodies, and the version (for its limit counters).
pub(super) struct Reach<'a> {
    pub(super) pooled: u8,
    pub(super) bodies: &'a [Arc<[u8]>],
    pub(super) version: u64,
    /// Projects' own phone regions, compiled once per distinct list in one build.
    pub(super) phones: std::cell::RefCell<HashMap<Vec<String>, Option<Arc<Plans>>>>,
}

impl Reach<'_> {
    /// The numbering plans of a project's own phone regions (`None`: it names none, and the
    /// data plane's hold). A region this data plane has no plan for (a control plane with newer
    /// metadata) is left out, logged; none left: the data plane's.
    fn phones(&self, project: &str, regions: &[String]) -> Option<Arc<Plans>> {
        if regions.is_empty() {
            return None;
        }
        let mut kept = self.phones.borrow_mut();
        if let Some(plans) = kept.get(regions) {
            return plans.clone();
        }
        let known: Vec<&str> = regions
            .iter()
            .map(String::as_str)
            .filter(|r| warden_shared::phones::check_regions(&[r.to_string()]).is_ok())
            .collect();
        if known.len() < regions.len() {
            tracing::warn!(
                project,
                ?regions,
                "phone regions without a numbering plan here are left out"
            );
        }
        let plans = (!known.is_empty())
            .then(|| Plans::new(&known).ok().map(Arc::new))
            .flatten();
        kept.insert(regions.to_vec(), plans.clone());
        plans
    }

    /// `developer`: its tenant is on the developer plan (pooled keys only).
    pub(super) fn project(
        &self,
        p: Project,
        custom: Option<Arc<CustomSet>>,
        developer: bool,
    ) -> ProjectState {
        let routing = if developer {
            Routing {
                key_mode: KeyMode::PooledOnly,
                providers: Vec::new(),
            }
        } else {
            p.routing
        };
        let own = providers_of(&p.provider_keys);
        let reach = Provider::ALL.iter().fold(0u8, |mask, &provider| {
            let bit = 1u8 << provider.index();
            let mode = routing.mode(provider);
            let by_own = mode != KeyMode::PooledOnly && own & bit != 0;
            let by_pool = mode != KeyMode::ByokOnly && self.pooled & bit != 0;
            if by_own || by_pool {
                mask | bit
            } else {
                mask
            }
        });
        let id: Arc<str> = p.id.as_str().into();
        ProjectState {
            counters: crate::limits::counters(&id, self.version, &p.limits),
            id,
            tenant: p.tenant.as_str().into(),
            environment: p.environment,
            key_labels: p
                .provider_keys
                .iter()
                .map(|k| (k.id.as_str().into(), k.fingerprint.as_str().into()))
                .collect(),
            provider_keys: p.provider_keys,
            guardrails: p.guardrails,
            routing,
            limits: p.limits,
            cache: p.cache,
            phones: self.phones(&p.id, &p.phone_regions),
            phone_standalone: p.phone_standalone,
            custom,
            models_json: self
                .bodies
                .get(usize::from(reach))
                .map_or_else(|| Arc::from(&b"{}"[..]), Arc::clone),
            reach,
        }
    }
}

/// The ids of the tenants on the developer plan (their projects use pooled keys only).
pub(super) fn developers(tenants: &[Tenant]) -> HashSet<&str> {
    tenants
        .iter()
        .filter(|t| t.plan == Plan::Developer)
        .map(|t| t.id.as_str())
        .collect()
}

/// The API-key digest secret, opened under the data plane's master key.
fn digest_secret(
    master: &Keyring,
    sealed: &warden_shared::vault::SealedKey,
) -> Result<warden_shared::ApiKeyDigester, String> {
    master
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
        })
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
