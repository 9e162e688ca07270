//! The control plane's store: SQLite in `data_dir` (the default) or PostgreSQL (`database_url`),
//! through sqlx's Any driver, no compile-time query macros. One set of queries serves both: `$N`
//! placeholders (SQLite reads them too), `ON CONFLICT` upserts, BIGINT and TEXT columns only.
//! The embedded `migrations/` are applied at start, once, whichever control plane starts first.

use std::path::Path;

use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

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
    (14, include_str!("../migrations/0014_row_stamps.sql")),
    (15, include_str!("../migrations/0015_snapshot_base.sql")),
    (16, include_str!("../migrations/0016_people.sql")),
    (17, include_str!("../migrations/0017_api_key_use.sql")),
];

pub mod anchors;
pub mod api_keys;
pub mod base;
pub mod cluster;
pub mod dataplanes;
pub mod meta;
pub mod people;
pub mod removal;
pub mod requests;
pub mod rows;
pub mod tenancy;
pub mod usage;

pub use tenancy::{ProjectRow, ProviderKeyRow};

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
