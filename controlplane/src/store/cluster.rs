//! What control planes sharing one database agree through it: who leads (builds and pushes
//! snapshots), what the followers asked the leader to publish, the newest version the leader
//! published, and that every one of them holds the same secrets.
//!
//! Leadership on PostgreSQL is a session-level advisory lock held on a connection taken out of
//! the pool for as long as this process leads: it goes with the session, so a leader that dies
//! (its socket closes) or falls silent for `LEADER_SILENCE_S` (the server ends an idle session)
//! frees it for the next. On SQLite there is one control plane per file, and it leads.

use sqlx::Connection;

use super::{Backend, Store};

/// The advisory lock the leader holds: "WRDN" and a 2 (the write lock is 1).
const LEADER_LOCK: i64 = 0x5752_444e_0000_0002;

/// A leader whose session says nothing for this long loses the lock (PostgreSQL 14+ ends the
/// idle session); a live one speaks every `cluster::TICK`.
pub const LEADER_SILENCE_S: u64 = 10;

/// This process's bid for the lead: a session of its own, kept across ticks.
#[derive(Default)]
pub struct Candidacy {
    /// PostgreSQL: the session that asks for, and then holds, the advisory lock.
    session: Option<sqlx::AnyConnection>,
    leading: bool,
}

impl Store {
    /// Whether this process leads now: takes the lead when no one holds it, and checks that a
    /// lead it holds is still held (its session answers). An error ends the lead; the next call
    /// starts a new session.
    pub async fn campaign(&self, c: &mut Candidacy) -> sqlx::Result<bool> {
        if self.backend == Backend::Sqlite {
            return Ok(true);
        }
        let result = self.campaign_on_postgres(c).await;
        if result.is_err() {
            c.session = None;
            c.leading = false;
        }
        result
    }

    async fn campaign_on_postgres(&self, c: &mut Candidacy) -> sqlx::Result<bool> {
        let session = match &mut c.session {
            Some(s) => s,
            None => {
                let mut s = self.pool.acquire().await?.detach();
                // PostgreSQL before 14 has no idle_session_timeout: a partitioned leader then
                // holds the lock until the server's TCP keepalive gives up on its session.
                let silence = format!("SET idle_session_timeout = '{LEADER_SILENCE_S}s'");
                if let Err(e) = sqlx::query(&silence).execute(&mut s).await {
                    tracing::warn!("the leader's session has no idle timeout: {e}");
                }
                c.session.insert(s)
            }
        };
        if c.leading {
            session.ping().await?;
        } else {
            let (got,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
                .bind(LEADER_LOCK)
                .fetch_one(&mut *session)
                .await?;
            c.leading = got;
        }
        Ok(c.leading)
    }

    /// Ask the leader for a new snapshot (a follower changed the store): bumps a counter the
    /// leader watches.
    pub async fn request_publish(&self) -> sqlx::Result<()> {
        self.bump("publish_requests").await.map(|_| ())
    }

    /// How many publishes have been asked for (see `request_publish`).
    pub async fn publish_requests(&self) -> sqlx::Result<i64> {
        self.counter("publish_requests").await
    }

    /// The newest version the leader published (0: none yet).
    pub async fn published_version(&self) -> sqlx::Result<u64> {
        Ok(self.counter("published_version").await?.max(0) as u64)
    }

    /// Record a published version; an older one never replaces a newer.
    pub async fn set_published_version(&self, version: u64) -> sqlx::Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO meta (name, value) VALUES ('published_version', $1) \
             ON CONFLICT (name) DO UPDATE SET value = CASE WHEN excluded.value > meta.value \
             THEN excluded.value ELSE meta.value END",
        )
        .bind(i64::try_from(version).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// Compare this process's secrets with the cluster's: each `(name, fingerprint)` not
    /// recorded yet is recorded; the names whose recorded fingerprint differs are returned.
    pub async fn check_secrets(&self, secrets: &[(&str, String)]) -> sqlx::Result<Vec<String>> {
        let mut tx = self.begin_write().await?;
        let mut differ = Vec::new();
        for (name, fingerprint) in secrets {
            let known: Option<(String,)> =
                sqlx::query_as("SELECT fingerprint FROM cluster_secrets WHERE name = $1")
                    .bind(*name)
                    .fetch_optional(&mut *tx)
                    .await?;
            match known {
                Some((f,)) if f != *fingerprint => differ.push((*name).to_owned()),
                Some(_) => {}
                None => {
                    sqlx::query("INSERT INTO cluster_secrets (name, fingerprint) VALUES ($1, $2)")
                        .bind(*name)
                        .bind(fingerprint)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(differ)
    }

    /// Record a secret this control plane replaced (a master-key rotation).
    pub async fn replace_secret(&self, name: &str, fingerprint: &str) -> sqlx::Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO cluster_secrets (name, fingerprint) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET fingerprint = excluded.fingerprint",
        )
        .bind(name)
        .bind(fingerprint)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }
}
