//! Removing a project (with its keys) and a tenant (once it has no project). Each removed row
//! leaves its id under a stamp (`rows.rs`), so the leader's mirror drops it and the next
//! snapshot — a delta — takes it from the data planes. Usage and request rows stay: they are
//! the billing record.

use super::rows::removed;
use super::Store;

impl Store {
    /// Remove project `id`, its Warden keys and its provider keys, in one transaction; false
    /// when there is no such project.
    pub async fn delete_project(&self, id: &str) -> sqlx::Result<bool> {
        let mut tx = self.begin_write().await?;
        let keys: Vec<(String,)> = sqlx::query_as("SELECT id FROM api_keys WHERE project_id = $1")
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
        let own: Vec<(String,)> =
            sqlx::query_as("SELECT id FROM provider_keys WHERE project_id = $1")
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
        for (table, rows) in [("api_keys", &keys), ("provider_keys", &own)] {
            sqlx::query(&format!("DELETE FROM {table} WHERE project_id = $1"))
                .bind(id)
                .execute(&mut *tx)
                .await?;
            for (key,) in rows {
                removed(&mut tx, table, key).await?;
            }
        }
        let gone = sqlx::query("DELETE FROM projects WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        if !gone {
            // Nothing to remove (no keys either: they would have a project).
            return Ok(false);
        }
        removed(&mut tx, "projects", id).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Remove tenant `id` with its dashboard users and their sessions. `None`: no such tenant;
    /// `Some(false)`: it still has projects (nothing removed).
    pub async fn delete_tenant(&self, id: &str) -> sqlx::Result<Option<bool>> {
        let mut tx = self.begin_write().await?;
        let (projects,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM projects WHERE tenant_id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        if projects > 0 {
            return Ok(Some(false));
        }
        let gone = sqlx::query("DELETE FROM tenants WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        if !gone {
            return Ok(None);
        }
        sqlx::query(
            "DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE tenant_id = $1)",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM users WHERE tenant_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        removed(&mut tx, "tenants", id).await?;
        tx.commit().await?;
        Ok(Some(true))
    }
}
