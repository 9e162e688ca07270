//! Registered data planes: where to push, what they acknowledged, when they were last seen,
//! and the generation of the credential each was issued (see `credentials.rs`).

use super::Store;
use crate::secrets::now_s;

/// One registered data plane.
#[derive(Debug, Clone)]
pub struct DataPlaneRow {
    pub id: String,
    pub push_url: String,
    pub acked_version: i64,
    pub last_seen: i64,
    /// The generation its current credential was issued for (0: never enrolled).
    pub credential_gen: i64,
    /// Set by an operator: its credential is refused until it enrols again.
    pub revoked: bool,
}

impl DataPlaneRow {
    /// Enrolled and not revoked: it has a credential that works.
    pub fn enrolled(&self) -> bool {
        self.credential_gen > 0 && !self.revoked
    }
}

const COLUMNS: &str = "id, push_url, acked_version, last_seen, credential_gen, revoked";

type Row = (String, String, i64, i64, i64, i64);

fn row((id, push_url, acked_version, last_seen, credential_gen, revoked): Row) -> DataPlaneRow {
    DataPlaneRow {
        id,
        push_url,
        acked_version,
        last_seen,
        credential_gen,
        revoked: revoked != 0,
    }
}

impl Store {
    pub async fn dataplanes(&self) -> sqlx::Result<Vec<DataPlaneRow>> {
        let rows: Vec<Row> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM dataplanes ORDER BY id"))
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(row).collect())
    }

    pub async fn dataplane(&self, id: &str) -> sqlx::Result<Option<DataPlaneRow>> {
        let found: Option<Row> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM dataplanes WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.map(row))
    }

    /// Refresh an enrolled data plane's address and acknowledged version.
    pub async fn refresh_dataplane(
        &self,
        id: &str,
        push_url: &str,
        version: u64,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE dataplanes SET push_url = $1, acked_version = $2, last_seen = $3 WHERE id = $4",
        )
        .bind(push_url)
        .bind(version as i64)
        .bind(now_s())
        .bind(id)
        .execute(&self.pool)
        .await
        .map(|_| ())
    }

    /// Enrol `id` (new, never enrolled, or revoked): the next credential generation, returned.
    pub async fn enrol(&self, id: &str, push_url: &str, version: u64) -> sqlx::Result<i64> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO dataplanes (id, push_url, acked_version, last_seen, credential_gen, revoked) \
             VALUES ($1, $2, $3, $4, 0, 0) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(push_url)
        .bind(version as i64)
        .bind(now_s())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE dataplanes SET push_url = $1, acked_version = $2, last_seen = $3, \
             credential_gen = credential_gen + 1, revoked = 0 WHERE id = $4",
        )
        .bind(push_url)
        .bind(version as i64)
        .bind(now_s())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let (generation,): (i64,) =
            sqlx::query_as("SELECT credential_gen FROM dataplanes WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(generation)
    }

    /// Refuse `id`'s credential from now on (it gets no pushes and cannot ship usage).
    pub async fn revoke_dataplane(&self, id: &str) -> sqlx::Result<bool> {
        let r = sqlx::query("UPDATE dataplanes SET revoked = 1 WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    pub async fn ack(&self, id: &str, version: u64) -> sqlx::Result<()> {
        sqlx::query("UPDATE dataplanes SET acked_version = $1, last_seen = $2 WHERE id = $3")
            .bind(version as i64)
            .bind(now_s())
            .bind(id)
            .execute(&self.pool)
            .await
            .map(|_| ())
    }
}
