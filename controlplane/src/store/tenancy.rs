//! Tenants, projects and provider keys. Every write stamps the rows it writes (`rows.rs`), so
//! the leader's next snapshot build reads only what changed.

use super::rows::{removed, stamp};
use super::Store;
use crate::secrets::now_s;

/// A project with its tenant's plan.
pub struct ProjectRow {
    pub id: String,
    pub tenant_id: String,
    pub environment: String,
    pub plan: String,
    /// The guardrail policy as JSON.
    pub guardrails: String,
    /// The key routing as JSON.
    pub routing: String,
    /// The limits as JSON.
    pub limits: String,
    /// The answer cache's policy as JSON.
    pub cache: String,
}

/// A project row's columns, in `PROJECT_SELECT`'s order.
pub(super) type ProjectTuple = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
);

pub(super) const PROJECT_SELECT: &str =
    "SELECT p.id, p.tenant_id, p.environment, t.plan, p.guardrails, \
     p.routing, p.limits, p.cache FROM projects p JOIN tenants t ON t.id = p.tenant_id";

impl From<ProjectTuple> for ProjectRow {
    fn from(
        (id, tenant_id, environment, plan, guardrails, routing, limits, cache): ProjectTuple,
    ) -> ProjectRow {
        ProjectRow {
            id,
            tenant_id,
            environment,
            plan,
            guardrails,
            routing,
            limits,
            cache,
        }
    }
}

/// A sealed provider key as stored (`project_id` is `None` for pooled keys).
#[derive(Clone)]
pub struct ProviderKeyRow {
    pub id: String,
    pub project_id: Option<String>,
    pub provider: String,
    pub label: String,
    pub priority: i64,
    pub fingerprint: String,
    pub master_key_id: i64,
    pub nonce: String,
    pub ciphertext: String,
    pub created_at: i64,
}

pub(super) type KeyTuple = (
    String,
    Option<String>,
    String,
    String,
    i64,
    String,
    i64,
    String,
    String,
    i64,
);

impl From<KeyTuple> for ProviderKeyRow {
    fn from(t: KeyTuple) -> Self {
        ProviderKeyRow {
            id: t.0,
            project_id: t.1,
            provider: t.2,
            label: t.3,
            priority: t.4,
            fingerprint: t.5,
            master_key_id: t.6,
            nonce: t.7,
            ciphertext: t.8,
            created_at: t.9,
        }
    }
}

pub(super) const KEY_COLUMNS: &str =
    "id, project_id, provider, label, priority, fingerprint, master_key_id, nonce, ciphertext, created_at";

impl Store {
    pub async fn insert_tenant(&self, id: &str, name: &str, plan: &str) -> sqlx::Result<()> {
        let mut tx = self.begin_write().await?;
        let seq = stamp(&mut tx).await?;
        sqlx::query(
            "INSERT INTO tenants (id, name, plan, created_at, seq) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(name)
        .bind(plan)
        .bind(now_s())
        .bind(seq)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// Move tenant `id` to `plan` (stamped: the next snapshot sends the tenant and its projects
    /// again). Whether the tenant exists.
    pub async fn set_tenant_plan(&self, id: &str, plan: &str) -> sqlx::Result<bool> {
        let mut tx = self.begin_write().await?;
        let seq = stamp(&mut tx).await?;
        let r = sqlx::query("UPDATE tenants SET plan = $1, seq = $2 WHERE id = $3")
            .bind(plan)
            .bind(seq)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(r.rows_affected() > 0)
    }

    /// (id, name, plan)
    pub async fn tenants(&self) -> sqlx::Result<Vec<(String, String, String)>> {
        sqlx::query_as("SELECT id, name, plan FROM tenants ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await
    }

    pub async fn tenant_exists(&self, id: &str) -> sqlx::Result<bool> {
        let row: Option<(String,)> = sqlx::query_as("SELECT id FROM tenants WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    pub async fn insert_project(
        &self,
        id: &str,
        tenant: &str,
        name: &str,
        environment: &str,
    ) -> sqlx::Result<()> {
        let mut tx = self.begin_write().await?;
        let seq = stamp(&mut tx).await?;
        sqlx::query("INSERT INTO projects (id, tenant_id, name, environment, created_at, seq) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(id)
            .bind(tenant)
            .bind(name)
            .bind(environment)
            .bind(now_s())
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    pub async fn project(&self, id: &str) -> sqlx::Result<Option<ProjectRow>> {
        let row: Option<ProjectTuple> =
            sqlx::query_as(&format!("{PROJECT_SELECT} WHERE p.id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(ProjectRow::from))
    }

    #[cfg(test)]
    pub async fn projects(&self) -> sqlx::Result<Vec<ProjectRow>> {
        let rows: Vec<ProjectTuple> =
            sqlx::query_as(&format!("{PROJECT_SELECT} ORDER BY p.created_at, p.id"))
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(ProjectRow::from).collect())
    }

    pub async fn set_guardrails(&self, project: &str, policy: &str) -> sqlx::Result<bool> {
        self.set_project_json(
            "UPDATE projects SET guardrails = $1, seq = $3 WHERE id = $2",
            project,
            policy,
        )
        .await
    }

    /// One of a project's JSON policy columns (the statement names it, and sets `seq = $3`);
    /// whether the project exists.
    async fn set_project_json(
        &self,
        statement: &'static str,
        project: &str,
        json: &str,
    ) -> sqlx::Result<bool> {
        let mut tx = self.begin_write().await?;
        let seq = stamp(&mut tx).await?;
        let r = sqlx::query(statement)
            .bind(json)
            .bind(project)
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(r.rows_affected() > 0)
    }

    pub async fn insert_provider_key(&self, k: &ProviderKeyRow) -> sqlx::Result<()> {
        let mut tx = self.begin_write().await?;
        let seq = stamp(&mut tx).await?;
        sqlx::query(&format!(
            "INSERT INTO provider_keys ({KEY_COLUMNS}, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(&k.id)
        .bind(&k.project_id)
        .bind(&k.provider)
        .bind(&k.label)
        .bind(k.priority)
        .bind(&k.fingerprint)
        .bind(k.master_key_id)
        .bind(&k.nonce)
        .bind(&k.ciphertext)
        .bind(k.created_at)
        .bind(seq)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// The keys of one project, or the pooled keys when `project` is `None`.
    pub async fn provider_keys(&self, project: Option<&str>) -> sqlx::Result<Vec<ProviderKeyRow>> {
        let rows: Vec<KeyTuple> = match project {
            Some(p) => {
                sqlx::query_as(&format!("SELECT {KEY_COLUMNS} FROM provider_keys WHERE project_id = $1 ORDER BY priority, created_at, id"))
                    .bind(p)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query_as(&format!("SELECT {KEY_COLUMNS} FROM provider_keys WHERE project_id IS NULL ORDER BY priority, created_at, id"))
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        Ok(rows.into_iter().map(ProviderKeyRow::from).collect())
    }

    pub async fn all_provider_keys(&self) -> sqlx::Result<Vec<ProviderKeyRow>> {
        let rows: Vec<KeyTuple> = sqlx::query_as(&format!(
            "SELECT {KEY_COLUMNS} FROM provider_keys ORDER BY priority, created_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(ProviderKeyRow::from).collect())
    }

    /// Set a project key's (`pooled` false) or a pooled key's priority (stamped: the next
    /// snapshot carries the new order). The key as it now is, if it exists.
    pub async fn set_provider_key_priority(
        &self,
        id: &str,
        pooled: bool,
        priority: i64,
    ) -> sqlx::Result<Option<ProviderKeyRow>> {
        let which = if pooled {
            "project_id IS NULL"
        } else {
            "project_id IS NOT NULL"
        };
        let mut tx = self.begin_write().await?;
        let seq = stamp(&mut tx).await?;
        sqlx::query(&format!(
            "UPDATE provider_keys SET priority = $1, seq = $2 WHERE id = $3 AND {which}"
        ))
        .bind(priority)
        .bind(seq)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let row: Option<KeyTuple> = sqlx::query_as(&format!(
            "SELECT {KEY_COLUMNS} FROM provider_keys WHERE id = $1 AND {which}"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row.map(ProviderKeyRow::from))
    }

    /// Delete a project key (`pooled` false) or a pooled key (`pooled` true).
    pub async fn delete_provider_key(&self, id: &str, pooled: bool) -> sqlx::Result<bool> {
        let sql = if pooled {
            "DELETE FROM provider_keys WHERE id = $1 AND project_id IS NULL"
        } else {
            "DELETE FROM provider_keys WHERE id = $1 AND project_id IS NOT NULL"
        };
        let mut tx = self.begin_write().await?;
        let r = sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        let gone = r.rows_affected() > 0;
        if gone {
            removed(&mut tx, "provider_keys", id).await?;
        }
        tx.commit().await?;
        Ok(gone)
    }

    /// Replace every key's sealed form (master-key rotation), all or nothing.
    pub async fn reseal(&self, keys: &[ProviderKeyRow]) -> sqlx::Result<()> {
        let mut tx = self.begin_write().await?;
        let seq = stamp(&mut tx).await?;
        for k in keys {
            sqlx::query("UPDATE provider_keys SET master_key_id = $1, nonce = $2, ciphertext = $3, seq = $5 WHERE id = $4")
                .bind(k.master_key_id)
                .bind(&k.nonce)
                .bind(&k.ciphertext)
                .bind(&k.id)
                .bind(seq)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }

    pub async fn set_cache(&self, project: &str, cache: &str) -> sqlx::Result<bool> {
        self.set_project_json(
            "UPDATE projects SET cache = $1, seq = $3 WHERE id = $2",
            project,
            cache,
        )
        .await
    }

    pub async fn set_limits(&self, project: &str, limits: &str) -> sqlx::Result<bool> {
        self.set_project_json(
            "UPDATE projects SET limits = $1, seq = $3 WHERE id = $2",
            project,
            limits,
        )
        .await
    }

    pub async fn set_routing(&self, project: &str, routing: &str) -> sqlx::Result<bool> {
        self.set_project_json(
            "UPDATE projects SET routing = $1, seq = $3 WHERE id = $2",
            project,
            routing,
        )
        .await
    }
}
