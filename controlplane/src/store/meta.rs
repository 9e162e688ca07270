//! Named counters the control plane keeps (`meta`): the snapshot version, and what control
//! planes sharing the database tell each other (`cluster.rs`).

use super::Store;

impl Store {
    /// A `meta` value.
    pub async fn meta(&self, name: &str) -> sqlx::Result<Option<i64>> {
        let row: Option<(i64,)> = sqlx::query_as("SELECT value FROM meta WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.0))
    }

    /// The next snapshot version, taken under the write lock: each call, from any control
    /// plane on this database, gets its own (a failed build leaves a gap, never a repeat).
    pub async fn next_snapshot_version(&self) -> sqlx::Result<u64> {
        Ok(self.bump("snapshot_version").await? as u64)
    }

    /// Add one to counter `name` under the write lock; its new value.
    pub(super) async fn bump(&self, name: &str) -> sqlx::Result<i64> {
        let mut tx = self.begin_write().await?;
        let (value,): (i64,) = sqlx::query_as(
            "INSERT INTO meta (name, value) VALUES ($1, 1) \
             ON CONFLICT (name) DO UPDATE SET value = meta.value + 1 RETURNING value",
        )
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(value)
    }

    /// Counter `name` (0 when never set).
    pub(super) async fn counter(&self, name: &str) -> sqlx::Result<i64> {
        Ok(self.meta(name).await?.unwrap_or(0))
    }

    #[cfg(test)]
    pub async fn set_meta(&self, name: &str, value: i64) -> sqlx::Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM meta WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO meta (name, value) VALUES ($1, $2)")
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }
}
