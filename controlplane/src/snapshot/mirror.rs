//! The leader's copy of the rows snapshots are built from (tenants, projects, provider keys,
//! Warden keys), parsed once and brought up to date before each build by reading only the rows
//! stamped since (`store/rows.rs`). At a million keys a whole read took 5–7 s of every build;
//! a build after one change now reads that change. The first build after a start reads
//! everything once.

use std::collections::HashMap;

use warden_shared::snapshot::{ApiKeyEntry, Plan, Project, ProviderKey, Tenant};

use crate::store::rows::Stamps;
use crate::store::{ProjectRow, ProviderKeyRow, Store};

/// A provider key with what orders it among its project's (or the pool's) keys.
struct StoredKey {
    project: Option<String>,
    order: (i64, i64, String),
    key: ProviderKey,
}

#[derive(Default)]
pub struct Mirror {
    /// Every row stamped up to this is here; `None`: nothing read yet.
    seq: Option<i64>,
    tenants: HashMap<String, Plan>,
    /// Without their provider keys (those are joined at each build) and month's spend.
    projects: HashMap<String, Project>,
    provider_keys: HashMap<String, StoredKey>,
    api_keys: HashMap<String, ApiKeyEntry>,
}

/// What a snapshot takes from the mirror.
pub struct Parts {
    pub tenants: Vec<Tenant>,
    pub projects: Vec<Project>,
    pub pooled_keys: Vec<ProviderKey>,
    pub api_keys: Vec<ApiKeyEntry>,
}

impl Mirror {
    /// Read what was stamped since the last refresh. On an error, what was applied stays and the
    /// same rows are read again next time (applying a row twice changes nothing).
    pub async fn refresh(&mut self, store: &Store) -> anyhow::Result<()> {
        let upto = store.row_seq().await?;
        if self.seq == Some(upto) {
            return Ok(());
        }
        let s = Stamps {
            after: self.seq.unwrap_or(-1),
            upto,
        };
        // Removals first: a row present now is the truth about its id.
        for (table, id) in store.removed_stamped(s).await? {
            match table.as_str() {
                "api_keys" => drop(self.api_keys.remove(&id)),
                "provider_keys" => drop(self.provider_keys.remove(&id)),
                "projects" => drop(self.projects.remove(&id)),
                "tenants" => drop(self.tenants.remove(&id)),
                _ => {}
            }
        }
        for (id, plan) in store.tenants_stamped(s).await? {
            self.tenants.insert(id, super::parse_plan(&plan)?);
        }
        for row in store.projects_stamped(s).await? {
            self.projects.insert(row.id.clone(), project(row)?);
        }
        for row in store.provider_keys_stamped(s).await? {
            let key = super::sealed_key(&row)?;
            let ProviderKeyRow {
                id,
                project_id,
                priority,
                created_at,
                ..
            } = row;
            let order = (priority, created_at, id.clone());
            self.provider_keys.insert(
                id,
                StoredKey {
                    project: project_id,
                    order,
                    key,
                },
            );
        }
        for (id, project, hash) in store.api_keys_stamped(s).await? {
            // Keyed in the store already (`key_digests.rs`); they go out as they are.
            let hash: [u8; 32] = crate::secrets::unhex(&hash)
                .and_then(|h| h.try_into().ok())
                .ok_or_else(|| anyhow::anyhow!("api key {id}: bad key hash"))?;
            self.api_keys
                .insert(id.clone(), ApiKeyEntry { id, hash, project });
        }
        self.seq = Some(upto);
        Ok(())
    }

    /// Copies for one snapshot: each project with its keys in priority order and this month's
    /// spend (`spend`: the month's first day and each project's spend so far).
    pub fn parts(&self, spend: &(i64, HashMap<String, u64>)) -> Parts {
        let mut by_project: HashMap<&str, Vec<&StoredKey>> = HashMap::new();
        let mut pooled = Vec::new();
        for k in self.provider_keys.values() {
            match &k.project {
                Some(p) => by_project.entry(p.as_str()).or_default().push(k),
                None => pooled.push(k),
            }
        }
        let in_order = |mut keys: Vec<&StoredKey>| {
            keys.sort_by(|a, b| a.order.cmp(&b.order));
            keys.into_iter().map(|k| k.key.clone()).collect::<Vec<_>>()
        };
        let projects = self
            .projects
            .values()
            .map(|p| {
                let mut p = p.clone();
                p.provider_keys = by_project
                    .remove(p.id.as_str())
                    .map_or_else(Vec::new, in_order);
                p.limits.spent = spend.1.get(&p.id).copied().unwrap_or(0);
                p.limits.spent_month = spend.0;
                p
            })
            .collect();
        Parts {
            tenants: self
                .tenants
                .iter()
                .map(|(id, plan)| Tenant {
                    id: id.clone(),
                    plan: *plan,
                })
                .collect(),
            projects,
            pooled_keys: in_order(pooled),
            api_keys: self.api_keys.values().cloned().collect(),
        }
    }
}

fn project(p: ProjectRow) -> anyhow::Result<Project> {
    let body: crate::api::usage::LimitsBody = serde_json::from_str(&p.limits)?;
    Ok(Project {
        provider_keys: Vec::new(),
        environment: super::parse_environment(&p.environment)?,
        guardrails: super::parse_guardrails(&p.guardrails)?,
        custom_patterns: super::parse_custom_patterns(&p.guardrails)?,
        routing: super::parse_routing(&p.routing)?,
        limits: body.limits().map_err(anyhow::Error::msg)?,
        cache: serde_json::from_str::<warden_shared::standalone::CacheSection>(&p.cache)?
            .policy()
            .map_err(anyhow::Error::msg)?,
        id: p.id,
        tenant: p.tenant_id,
    })
}
