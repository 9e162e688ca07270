//! The leader's copy of the rows snapshots are built from (tenants, projects, provider keys,
//! Warden keys), parsed once and brought up to date before each build by reading only the rows
//! stamped since (`store/rows.rs`). At a million keys a whole read took 5–7 s of every build;
//! a build after one change now reads that change. The first build after a start reads
//! everything once.

use std::collections::HashMap;

use warden_shared::snapshot::{ApiKeyEntry, Plan, Project, ProviderKey, Tenant};

use crate::store::rows::Stamps;
use crate::store::{ProjectRow, ProviderKeyRow, Store};

/// What orders a provider key among its project's (or the pool's) keys: priority, then age,
/// then id.
type Order = (i64, i64, String);
type Ordered = (Order, ProviderKey);

/// Rows kept in a vector in the shape a snapshot takes, with each id's position.
struct Table<T> {
    rows: Vec<T>,
    at: HashMap<String, usize>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            rows: Vec::new(),
            at: HashMap::new(),
        }
    }
}

impl<T> Table<T> {
    fn upsert(&mut self, id: String, row: T) {
        match self.at.get(&id).and_then(|&i| self.rows.get_mut(i)) {
            Some(slot) => *slot = row,
            None => {
                self.at.insert(id, self.rows.len());
                self.rows.push(row);
            }
        }
    }

    fn remove(&mut self, id: &str, id_of: impl Fn(&T) -> &str) -> Option<T> {
        let i = self.at.remove(id)?;
        let row = self.rows.swap_remove(i);
        if let Some(moved) = self.rows.get(i) {
            self.at.insert(id_of(moved).to_owned(), i);
        }
        Some(row)
    }

    fn get_mut(&mut self, id: &str) -> Option<&mut T> {
        let i = *self.at.get(id)?;
        self.rows.get_mut(i)
    }

    /// Order the rows by `key` and index them again.
    fn sort_by(&mut self, key: impl Fn(&T) -> (&str, &str)) {
        self.rows.sort_unstable_by(|a, b| key(a).cmp(&key(b)));
        self.at = self
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| (key(r).1.to_owned(), i))
            .collect();
    }

    /// Whether rows and positions agree (not, after a lent vector never came back).
    fn whole(&self) -> bool {
        self.rows.len() == self.at.len()
    }
}

#[derive(Default)]
pub struct Mirror {
    /// Every row stamped up to this is here; `None`: nothing read yet.
    seq: Option<i64>,
    tenants: HashMap<String, Plan>,
    /// With their provider keys in order; the month's spend is set at each build.
    projects: Table<Project>,
    /// Which project (`None`: the pool) each provider key belongs to, and its order there.
    key_owner: HashMap<String, (Option<String>, Order)>,
    pooled: Vec<Ordered>,
    api_keys: Table<ApiKeyEntry>,
}

/// What a snapshot takes from the mirror. `projects` and `api_keys` are lent: hand them back
/// with [`Mirror::give_back`] once the snapshot is encoded.
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
        if !self.projects.whole() || !self.api_keys.whole() {
            // Lent out and never given back (a build failed after taking them): read anew.
            *self = Mirror::default();
        }
        let upto = store.row_seq().await?;
        let floor = store.removed_floor().await?;
        if self.seq.is_some_and(|held| held < floor) {
            // Removals it has not read were pruned meanwhile (another control plane led).
            *self = Mirror::default();
        }
        if self.seq == Some(upto) {
            return Ok(());
        }
        let s = Stamps {
            after: self.seq.unwrap_or(-1),
            upto,
        };
        // Removals first: a row present now is the truth about its id.
        let removals = store.removed_stamped(s).await?;
        let pruned = !removals.is_empty();
        for (table, id) in removals {
            match table.as_str() {
                "api_keys" => drop(self.api_keys.remove(&id, |k| &k.id)),
                "provider_keys" => self.remove_provider_key(&id),
                "projects" => drop(self.projects.remove(&id, |p| &p.id)),
                "tenants" => drop(self.tenants.remove(&id)),
                _ => {}
            }
        }
        for (id, plan) in store.tenants_stamped(s).await? {
            self.tenants.insert(id, super::parse_plan(&plan)?);
        }
        for row in store.projects_stamped(s).await? {
            let mut fresh = project(row)?;
            if let Some(old) = self.projects.get_mut(&fresh.id) {
                fresh.provider_keys = std::mem::take(&mut old.provider_keys);
            }
            self.projects.upsert(fresh.id.clone(), fresh);
        }
        for row in store.provider_keys_stamped(s).await? {
            self.remove_provider_key(&row.id);
            let key = super::sealed_key(&row)?;
            let ProviderKeyRow {
                id,
                project_id,
                priority,
                created_at,
                ..
            } = row;
            let order = (priority, created_at, id.clone());
            self.key_owner
                .insert(id, (project_id.clone(), order.clone()));
            match &project_id {
                Some(p) => {
                    if let Some(project) = self.projects.get_mut(p) {
                        project.provider_keys.push(key);
                        let owners = &self.key_owner;
                        let order_of = |k: &ProviderKey| owners.get(&k.id).map(|o| o.1.clone());
                        project.provider_keys.sort_by_key(order_of);
                    }
                }
                None => {
                    self.pooled.push((order, key));
                    self.pooled.sort_by(|a, b| a.0.cmp(&b.0));
                }
            }
        }
        let keys = store.api_keys_stamped(s).await?;
        let many = keys.len() > 4096 && keys.len() > self.api_keys.rows.len() / 16;
        for (id, project, hash) in keys {
            // Keyed in the store already (`key_digests.rs`); they go out as they are.
            let hash: [u8; 32] = crate::secrets::unhex(&hash)
                .and_then(|h| h.try_into().ok())
                .ok_or_else(|| anyhow::anyhow!("api key {id}: bad key hash"))?;
            self.api_keys
                .upsert(id.clone(), ApiKeyEntry { id, hash, project });
        }
        if many {
            // Keys of one project in a run: a data plane looks each project up once per run
            // (`dataplane/src/state.rs`), a tenth of the lookups at ten keys a project. Keys
            // added one at a time later go at the end.
            self.api_keys.sort_by(|k| (&k.project, &k.id));
        }
        self.seq = Some(upto);
        if pruned {
            // Read: kept no longer (the table stays as small as the removals not yet read).
            store.prune_removed(upto).await?;
        }
        Ok(())
    }

    fn remove_provider_key(&mut self, id: &str) {
        match self.key_owner.remove(id).map(|o| o.0) {
            Some(Some(project)) => {
                if let Some(p) = self.projects.get_mut(&project) {
                    p.provider_keys.retain(|k| k.id != id);
                }
            }
            Some(None) => self.pooled.retain(|(_, k)| k.id != id),
            None => {}
        }
    }

    /// The parts of one snapshot: the projects with this month's spend (`spend`: the month's
    /// first day and each project's spend so far) and the Warden keys are lent, not copied (a
    /// million keys took a few hundred milliseconds to copy): give them back once encoded.
    pub fn parts(&mut self, spend: &(i64, HashMap<String, u64>)) -> Parts {
        for p in &mut self.projects.rows {
            p.limits.spent = spend.1.get(&p.id).copied().unwrap_or(0);
            p.limits.spent_month = spend.0;
        }
        Parts {
            tenants: self
                .tenants
                .iter()
                .map(|(id, plan)| Tenant {
                    id: id.clone(),
                    plan: *plan,
                })
                .collect(),
            projects: std::mem::take(&mut self.projects.rows),
            pooled_keys: self.pooled.iter().map(|(_, k)| k.clone()).collect(),
            api_keys: std::mem::take(&mut self.api_keys.rows),
        }
    }

    /// Take back what [`Mirror::parts`] lent, from the snapshot built with it.
    pub fn give_back(&mut self, projects: Vec<Project>, api_keys: Vec<ApiKeyEntry>) {
        self.projects.rows = projects;
        self.api_keys.rows = api_keys;
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
