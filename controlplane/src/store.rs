//! The control plane's store: SQLite in `data_dir` (the default) or PostgreSQL (`database_url`),
//! through sqlx's Any driver, no compile-time query macros. One set of queries serves both: `$N`
//! placeholders (SQLite reads them too), `ON CONFLICT` upserts, BIGINT and TEXT columns only.
//! The embedded `migrations/` are applied at start, once, whichever control plane starts first.

use std::path::Path;

use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

use crate::secrets::now_s;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_guardrails.sql")),
    (3, include_str!("../migrations/0003_routing.sql")),
    (4, include_str!("../migrations/0004_usage.sql")),
    (5, include_str!("../migrations/0005_limits.sql")),
    (6, include_str!("../migrations/0006_requests.sql")),
    (7, include_str!("../migrations/0007_requests_key.sql")),
    (8, include_str!("../migrations/0008_audit_anchors.sql")),
    (
        9,
        include_str!("../migrations/0009_dataplane_credentials.sql"),
    ),
    (
        10,
        include_str!("../migrations/0010_keyed_api_key_digests.sql"),
    ),
    (11, include_str!("../migrations/0011_model_kinds.sql")),
    (12, include_str!("../migrations/0012_cache.sql")),
    (13, include_str!("../migrations/0013_cluster.sql")),
];

pub mod anchors;
pub mod api_keys;
pub mod cluster;
pub mod dataplanes;
pub mod meta;
pub mod usage;

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

/// Which database a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL advisory lock every write transaction takes (see `begin_write`): "WRDN" and a
/// 1, so it does not meet another application's lock on a shared server.
const WRITE_LOCK: i64 = 0x5752_444e_0000_0001;

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
type ProjectTuple = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
);

const PROJECT_SELECT: &str = "SELECT p.id, p.tenant_id, p.environment, t.plan, p.guardrails, \
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

type KeyTuple = (
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

const KEY_COLUMNS: &str =
    "id, project_id, provider, label, priority, fingerprint, master_key_id, nonce, ciphertext, created_at";

impl Store {
    /// One round trip to the database (readiness).
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// The embedded SQLite database at `path` (created if missing).
    pub async fn open(path: &Path) -> sqlx::Result<Store> {
        Store::connect(&format!("sqlite://{}?mode=rwc", path.display())).await
    }

    /// The database at `url`: `sqlite://PATH` or `postgres://…` (`postgresql://…`).
    pub async fn connect(url: &str) -> sqlx::Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(sqlx::Error::Configuration(
                "database_url: want sqlite://PATH or postgres://…".into(),
            ));
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect(url)
            .await?;
        if backend == Backend::Sqlite {
            // Readers never wait for the writer; the setting stays with the file. Switching
            // needs the file to itself, and SQLite answers "locked" at once, without its busy
            // wait, while another connection is opening it (a second process starting on the
            // same file): tried again, for up to 5 s.
            let mut tries = 0;
            while let Err(e) = sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await
            {
                let busy = e.as_database_error().and_then(|d| d.code()).as_deref() == Some("5");
                if !busy || tries == 100 {
                    return Err(e);
                }
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        let store = Store { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A transaction that will write, holding the store's one write lock until it ends, so
    /// writers take turns on either database (control-plane writes are few; what they read
    /// before writing — a usage cursor, the next alert id — stays true until they commit).
    /// On SQLite, `BEGIN IMMEDIATE` takes the write lock up front, so a transaction that reads
    /// first never finds, at its first write, that another connection committed in between
    /// (SQLite answers that with "database is locked" at once, without waiting out the busy
    /// timeout). On PostgreSQL, a transaction-scoped advisory lock does the same across every
    /// control plane that shares the database.
    pub(crate) async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Any>> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(WRITE_LOCK)
                    .execute(&mut *tx)
                    .await?;
                Ok(tx)
            }
        }
    }

    /// Apply the migrations not applied yet, each in its own write transaction (control planes
    /// starting together on one PostgreSQL apply each once: the lock orders them, and each
    /// looks again under it).
    async fn migrate(&self) -> sqlx::Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY)")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        for (version, sql) in MIGRATIONS {
            let mut tx = self.begin_write().await?;
            let done: Option<(i64,)> =
                sqlx::query_as("SELECT version FROM schema_migrations WHERE version = $1")
                    .bind(version)
                    .fetch_optional(&mut *tx)
                    .await?;
            if done.is_some() {
                continue;
            }
            sqlx::raw_sql(sql).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO schema_migrations (version) VALUES ($1)")
                .bind(version)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    pub async fn insert_tenant(&self, id: &str, name: &str, plan: &str) -> sqlx::Result<()> {
        sqlx::query("INSERT INTO tenants (id, name, plan, created_at) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(name)
            .bind(plan)
            .bind(now_s())
            .execute(&self.pool)
            .await
            .map(|_| ())
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
        sqlx::query("INSERT INTO projects (id, tenant_id, name, environment, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(tenant)
            .bind(name)
            .bind(environment)
            .bind(now_s())
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    pub async fn project(&self, id: &str) -> sqlx::Result<Option<ProjectRow>> {
        let row: Option<ProjectTuple> =
            sqlx::query_as(&format!("{PROJECT_SELECT} WHERE p.id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(ProjectRow::from))
    }

    pub async fn projects(&self) -> sqlx::Result<Vec<ProjectRow>> {
        let rows: Vec<ProjectTuple> =
            sqlx::query_as(&format!("{PROJECT_SELECT} ORDER BY p.created_at, p.id"))
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(ProjectRow::from).collect())
    }

    pub async fn set_guardrails(&self, project: &str, policy: &str) -> sqlx::Result<bool> {
        self.set_project_json(
            "UPDATE projects SET guardrails = $1 WHERE id = $2",
            project,
            policy,
        )
        .await
    }

    /// One of a project's JSON policy columns (the statement names it); whether the project exists.
    async fn set_project_json(
        &self,
        statement: &'static str,
        project: &str,
        json: &str,
    ) -> sqlx::Result<bool> {
        let r = sqlx::query(statement)
            .bind(json)
            .bind(project)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    pub async fn insert_provider_key(&self, k: &ProviderKeyRow) -> sqlx::Result<()> {
        sqlx::query(&format!(
            "INSERT INTO provider_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
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
        .execute(&self.pool)
        .await
        .map(|_| ())
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

    /// Delete a project key (`pooled` false) or a pooled key (`pooled` true).
    pub async fn delete_provider_key(&self, id: &str, pooled: bool) -> sqlx::Result<bool> {
        let sql = if pooled {
            "DELETE FROM provider_keys WHERE id = $1 AND project_id IS NULL"
        } else {
            "DELETE FROM provider_keys WHERE id = $1 AND project_id IS NOT NULL"
        };
        let r = sqlx::query(sql).bind(id).execute(&self.pool).await?;
        Ok(r.rows_affected() > 0)
    }

    /// Replace every key's sealed form (master-key rotation), all or nothing.
    pub async fn reseal(&self, keys: &[ProviderKeyRow]) -> sqlx::Result<()> {
        let mut tx = self.begin_write().await?;
        for k in keys {
            sqlx::query("UPDATE provider_keys SET master_key_id = $1, nonce = $2, ciphertext = $3 WHERE id = $4")
                .bind(k.master_key_id)
                .bind(&k.nonce)
                .bind(&k.ciphertext)
                .bind(&k.id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }

    /// (alias, provider, upstream_model, fallbacks as a JSON array, kind)
    pub async fn models(&self) -> sqlx::Result<Vec<(String, String, String, String, String)>> {
        sqlx::query_as(
            "SELECT alias, provider, upstream_model, fallbacks, kind FROM models ORDER BY alias",
        )
        .fetch_all(&self.pool)
        .await
    }

    pub async fn put_model(
        &self,
        alias: &str,
        provider: &str,
        upstream: &str,
        fallbacks: &str,
        kind: &str,
    ) -> sqlx::Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM models WHERE alias = $1")
            .bind(alias)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO models (alias, provider, upstream_model, fallbacks, kind) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(alias)
        .bind(provider)
        .bind(upstream)
        .bind(fallbacks)
        .bind(kind)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    pub async fn set_cache(&self, project: &str, cache: &str) -> sqlx::Result<bool> {
        self.set_project_json(
            "UPDATE projects SET cache = $1 WHERE id = $2",
            project,
            cache,
        )
        .await
    }

    pub async fn set_limits(&self, project: &str, limits: &str) -> sqlx::Result<bool> {
        self.set_project_json(
            "UPDATE projects SET limits = $1 WHERE id = $2",
            project,
            limits,
        )
        .await
    }

    pub async fn set_routing(&self, project: &str, routing: &str) -> sqlx::Result<bool> {
        self.set_project_json(
            "UPDATE projects SET routing = $1 WHERE id = $2",
            project,
            routing,
        )
        .await
    }

    pub async fn delete_model(&self, alias: &str) -> sqlx::Result<bool> {
        let r = sqlx::query("DELETE FROM models WHERE alias = $1")
            .bind(alias)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }
}

#[cfg(test)]
mod tests;
