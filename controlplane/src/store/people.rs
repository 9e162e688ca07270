//! Dashboard accounts, sessions and failed sign-ins (migration 0016). Sessions are kept by the
//! SHA-256 of their cookie, so the store never holds what a browser presents; any control plane
//! of a cluster can serve a session another one opened.

use super::Store;

/// A person who signs in to the dashboard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRow {
    pub id: String,
    pub name: String,
    /// `None`: an operator.
    pub tenant_id: Option<String>,
    /// `operator`, `owner` or `member`.
    pub role: String,
    /// The Argon2id hash (`dashboard/passwords.rs`).
    pub password: String,
    pub created_at: i64,
}

type UserTuple = (String, String, Option<String>, String, String, i64);

impl From<UserTuple> for UserRow {
    fn from((id, name, tenant_id, role, password, created_at): UserTuple) -> UserRow {
        UserRow {
            id,
            name,
            tenant_id,
            role,
            password,
            created_at,
        }
    }
}

const USER_COLUMNS: &str = "u.id, u.name, u.tenant_id, u.role, u.password, u.created_at";

/// A signed-in session and whose it is.
#[derive(Clone, Debug)]
pub struct SessionRow {
    pub user: UserRow,
    pub csrf: String,
    pub created_at: i64,
    pub seen_at: i64,
}

impl Store {
    /// Add a user; `Ok(false)` when the name is taken.
    pub async fn insert_user(&self, u: &UserRow) -> sqlx::Result<bool> {
        let mut tx = self.begin_write().await?;
        let taken: Option<(String,)> = sqlx::query_as("SELECT id FROM users WHERE name = $1")
            .bind(&u.name)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO users (id, name, tenant_id, role, password, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&u.id)
        .bind(&u.name)
        .bind(&u.tenant_id)
        .bind(&u.role)
        .bind(&u.password)
        .bind(u.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// How many users there are (the first operator is made when there are none).
    pub async fn count_users(&self) -> sqlx::Result<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM users")
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }

    pub async fn user_by_name(&self, name: &str) -> sqlx::Result<Option<UserRow>> {
        let row: Option<UserTuple> = sqlx::query_as(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.name = $1"
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(UserRow::from))
    }

    /// The users of `tenant` (`None`: the operators), by name.
    pub async fn users_of(&self, tenant: Option<&str>) -> sqlx::Result<Vec<UserRow>> {
        let rows: Vec<UserTuple> = match tenant {
            Some(t) => {
                sqlx::query_as(&format!(
                    "SELECT {USER_COLUMNS} FROM users u WHERE u.tenant_id = $1 ORDER BY u.name"
                ))
                .bind(t)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query_as(&format!(
                    "SELECT {USER_COLUMNS} FROM users u WHERE u.tenant_id IS NULL ORDER BY u.name"
                ))
                .fetch_all(&self.pool)
                .await?
            }
        };
        Ok(rows.into_iter().map(UserRow::from).collect())
    }

    /// Open a session: `id` is the SHA-256 (hex) of its cookie.
    pub async fn insert_session(
        &self,
        id: &str,
        user_id: &str,
        csrf: &str,
        now: i64,
    ) -> sqlx::Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO sessions (id, user_id, csrf, created_at, seen_at) VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(id)
        .bind(user_id)
        .bind(csrf)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// The session `id` (the SHA-256 of its cookie) and its user.
    pub async fn session(&self, id: &str) -> sqlx::Result<Option<SessionRow>> {
        type Row = (
            String,
            String,
            Option<String>,
            String,
            String,
            i64,
            String,
            i64,
            i64,
        );
        let row: Option<Row> = sqlx::query_as(&format!(
            "SELECT {USER_COLUMNS}, s.csrf, s.created_at, s.seen_at \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(
            |(id, name, tenant_id, role, password, created, csrf, created_at, seen_at)| {
                SessionRow {
                    user: UserRow::from((id, name, tenant_id, role, password, created)),
                    csrf,
                    created_at,
                    seen_at,
                }
            },
        ))
    }

    /// Mark session `id` as used at `now`.
    pub async fn touch_session(&self, id: &str, now: i64) -> sqlx::Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE sessions SET seen_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    /// End session `id`, and every session opened before `opened_before` or idle since before
    /// `seen_before` (expired ones, whoever's they are).
    pub async fn end_sessions(
        &self,
        id: &str,
        opened_before: i64,
        seen_before: i64,
    ) -> sqlx::Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM sessions WHERE id = $1 OR created_at < $2 OR seen_at < $3")
            .bind(id)
            .bind(opened_before)
            .bind(seen_before)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    /// Record a failed sign-in as `name` from `addr` at `now`, forgetting those before `since`.
    pub async fn login_failed(
        &self,
        name: &str,
        addr: &str,
        now: i64,
        since: i64,
    ) -> sqlx::Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM login_failures WHERE at < $1")
            .bind(since)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO login_failures (name, addr, at) VALUES ($1, $2, $3)")
            .bind(name)
            .bind(addr)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    /// Failed sign-ins since `since`: as `name`, and from `addr`.
    pub async fn login_failures(
        &self,
        name: &str,
        addr: &str,
        since: i64,
    ) -> sqlx::Result<(i64, i64)> {
        let (by_name,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM login_failures WHERE name = $1 AND at >= $2")
                .bind(name)
                .bind(since)
                .fetch_one(&self.pool)
                .await?;
        let (by_addr,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM login_failures WHERE addr = $1 AND at >= $2")
                .bind(addr)
                .bind(since)
                .fetch_one(&self.pool)
                .await?;
        Ok((by_name, by_addr))
    }

    /// (id, name, environment) of `tenant`'s projects, by name.
    pub async fn projects_of(&self, tenant: &str) -> sqlx::Result<Vec<(String, String, String)>> {
        sqlx::query_as(
            "SELECT id, name, environment FROM projects WHERE tenant_id = $1 ORDER BY name, id",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await
    }
}
