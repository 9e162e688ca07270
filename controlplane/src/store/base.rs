//! The base the leader keeps in the store: the newest full snapshot it built (signed, as the
//! data planes got it), the row stamp its rows were read at, and its provider keys' ages. A
//! control plane that starts or takes the lead resumes its mirror from it (`snapshot/mirror.rs`)
//! and reads only the rows stamped since: at a million keys that is a few hundred milliseconds
//! instead of seconds of reading every row, and the data planes, which hold this base, get a
//! delta rather than a hundred megabytes again.
//!
//! Invariants: one base at a time, and only a newer version replaces it (two leaders of a
//! split moment cannot step it back). The bytes go in parts of at most `PART` bytes, one
//! transaction each, under their version (on PostgreSQL without the store's write lock: admin
//! writes do not wait behind a hundred megabytes); the `snapshot_base` row that names them is
//! written last, so a reader finds either the old base or the whole new one. Removals stamped up to
//! the base's stamp are pruned when it is saved (never before: a control plane resuming from
//! it reads the removals after its stamp).

use super::Store;

/// Bytes per stored part: well under what either database takes in one value, and small
/// enough that the write lock is held for milliseconds per part.
const PART: usize = 8 << 20;

/// A saved base.
pub struct SavedBase {
    pub version: u64,
    /// Every row stamped up to this is in it.
    pub seq: i64,
    /// The signed snapshot.
    pub bytes: Vec<u8>,
    /// Creation times of its provider keys, in its order (projects' keys, then pooled ones).
    pub ages: Vec<i64>,
}

impl Store {
    /// Keep signed full snapshot `bytes` of `version`, read up to stamp `seq`, with its provider
    /// keys' `ages`, unless a newer base is kept already; then forget the removals it has read.
    /// Returns whether it was kept.
    pub async fn save_base(
        &self,
        version: u64,
        seq: i64,
        bytes: &[u8],
        ages: &[i64],
    ) -> sqlx::Result<bool> {
        let version = i64::try_from(version).unwrap_or(i64::MAX);
        if self.base_version().await? >= version {
            return Ok(false);
        }
        let mut parts = 0i64;
        for chunk in bytes.chunks(PART) {
            // Rows of this version alone: on PostgreSQL no other writer waits for them (a part
            // took up to 0.2 s to write there); SQLite has one writer whatever the rows.
            let mut tx = match self.backend {
                super::Backend::Sqlite => self.begin_write().await?,
                super::Backend::Postgres => self.pool.begin().await?,
            };
            sqlx::query(
                "INSERT INTO snapshot_base_parts (version, part, bytes) VALUES ($1, $2, $3) \
                 ON CONFLICT (version, part) DO UPDATE SET bytes = excluded.bytes",
            )
            .bind(version)
            .bind(parts)
            .bind(chunk)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            parts += 1;
        }
        let ages: Vec<u8> = ages.iter().flat_map(|a| a.to_le_bytes()).collect();
        let mut tx = self.begin_write().await?;
        let held: Option<(i64,)> = sqlx::query_as("SELECT version FROM snapshot_base WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?;
        if held.is_some_and(|(v,)| v >= version) {
            // A newer base was saved meanwhile: ours goes.
            sqlx::query("DELETE FROM snapshot_base_parts WHERE version = $1")
                .bind(version)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO snapshot_base (id, version, seq, parts, ages) VALUES (1, $1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, seq = excluded.seq, \
             parts = excluded.parts, ages = excluded.ages",
        )
        .bind(version)
        .bind(seq)
        .bind(parts)
        .bind(ages)
        .execute(&mut *tx)
        .await?;
        // Older bases' parts, and parts a writer that died left behind; not a newer base's,
        // which another writer may still be saving (its row comes after its parts).
        sqlx::query("DELETE FROM snapshot_base_parts WHERE version < $1")
            .bind(version)
            .execute(&mut *tx)
            .await?;
        super::rows::prune_removed(&mut tx, seq).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The version of the saved base (0: none).
    pub async fn base_version(&self) -> sqlx::Result<i64> {
        let row: Option<(i64,)> = sqlx::query_as("SELECT version FROM snapshot_base WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map_or(0, |r| r.0))
    }

    /// The saved base, if there is one and it was read whole (a newer one saved while it was
    /// read may have removed its parts: `None`, and the caller reads the rows instead).
    pub async fn load_base(&self) -> sqlx::Result<Option<SavedBase>> {
        let row: Option<(i64, i64, i64, Vec<u8>)> =
            sqlx::query_as("SELECT version, seq, parts, ages FROM snapshot_base WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?;
        let Some((version, seq, parts, ages)) = row else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        for part in 0..parts {
            let chunk: Option<(Vec<u8>,)> = sqlx::query_as(
                "SELECT bytes FROM snapshot_base_parts WHERE version = $1 AND part = $2",
            )
            .bind(version)
            .bind(part)
            .fetch_optional(&self.pool)
            .await?;
            let Some((chunk,)) = chunk else {
                return Ok(None);
            };
            if bytes.is_empty() {
                bytes.reserve(chunk.len() * usize::try_from(parts).unwrap_or(1));
            }
            bytes.extend_from_slice(&chunk);
        }
        if ages.len() % 8 != 0 {
            return Ok(None);
        }
        let ages = ages
            .chunks_exact(8)
            .map(|a| i64::from_le_bytes(a.try_into().unwrap_or_default()))
            .collect();
        Ok(Some(SavedBase {
            version: u64::try_from(version).unwrap_or(0),
            seq,
            bytes,
            ages,
        }))
    }
}
