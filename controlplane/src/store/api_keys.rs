//! Warden API keys: the store keeps a keyed digest of each (see `key_digests.rs`), never the key,
//! and a short hint to tell keys apart.

use super::rows::{removed, stamp};
use super::Store;
use crate::secrets::{hex, now_s, unhex};

impl Store {
    /// `digest`: the keyed digest, hex.
    pub async fn insert_api_key(
        &self,
        id: &str,
        project: &str,
        name: &str,
        digest: &str,
        hint: &str,
    ) -> sqlx::Result<()> {
        let mut tx = self.begin_write().await?;
        let seq = stamp(&mut tx).await?;
        sqlx::query(
            "INSERT INTO api_keys (id, project_id, name, key_hash, hint, created_at, keyed, seq) \
             VALUES ($1, $2, $3, $4, $5, $6, 1, $7)",
        )
        .bind(id)
        .bind(project)
        .bind(name)
        .bind(digest)
        .bind(hint)
        .bind(now_s())
        .bind(seq)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// A project's keys as (id, name, hint, created_at, last_used_at), oldest first: what tells
    /// keys apart, never the key or its digest.
    pub async fn project_api_keys(
        &self,
        project: &str,
    ) -> sqlx::Result<Vec<(String, String, String, i64, Option<i64>)>> {
        sqlx::query_as(
            "SELECT k.id, k.name, k.hint, k.created_at, u.last_used_at FROM api_keys k \
             LEFT JOIN api_key_use u ON u.id = k.id WHERE k.project_id = $1 \
             ORDER BY k.created_at, k.id",
        )
        .bind(project)
        .fetch_all(&self.pool)
        .await
    }

    pub async fn delete_api_key(&self, id: &str) -> sqlx::Result<bool> {
        let mut tx = self.begin_write().await?;
        let r = sqlx::query("DELETE FROM api_keys WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let gone = r.rows_affected() > 0;
        if gone {
            removed(&mut tx, "api_keys", id).await?;
            sqlx::query("DELETE FROM api_key_use WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(gone)
    }

    /// (id, project_id, keyed digest hex). Call [`Store::key_api_key_digests`] first: rows of an
    /// older store still hold plain SHA-256 until it has run.
    #[cfg(test)]
    pub async fn api_keys(&self) -> sqlx::Result<Vec<(String, String, String)>> {
        sqlx::query_as("SELECT id, project_id, key_hash FROM api_keys")
            .fetch_all(&self.pool)
            .await
    }

    /// Replace every plain SHA-256 digest left by an older control plane with its keyed form,
    /// in one transaction. Returns how many rows changed.
    pub async fn key_api_key_digests(
        &self,
        keyed: impl Fn(&[u8; 32]) -> [u8; 32],
    ) -> anyhow::Result<usize> {
        let mut tx = self.begin_write().await?;
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT id, key_hash FROM api_keys WHERE keyed = 0")
                .fetch_all(&mut *tx)
                .await?;
        let seq = stamp(&mut tx).await?;
        for (id, plain) in &rows {
            let plain: [u8; 32] = unhex(plain)
                .and_then(|h| h.try_into().ok())
                .ok_or_else(|| anyhow::anyhow!("api key {id}: the stored digest is not SHA-256"))?;
            sqlx::query("UPDATE api_keys SET key_hash = $1, keyed = 1, seq = $3 WHERE id = $2")
                .bind(hex(&keyed(&plain)))
                .bind(id)
                .bind(seq)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(rows.len())
    }
}
