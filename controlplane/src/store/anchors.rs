//! Each data plane's audit-chain anchors and the alerts they raise.
//!
//! Every usage batch says what the data plane's chain hash is where the batch starts and where
//! it ends. The control plane keeps those points; a later batch that disagrees with them is an
//! alert: the log no longer reaches a point already anchored (cut short — `truncated`), a point
//! now has another hash (`rewritten`), or a batch starts after the last anchor (records never
//! shipped — `gap`). Usage is applied all the same: billing does not stop, an operator looks.
//! `audit verify --anchors` checks the whole log against the kept anchors offline.

use serde::Serialize;

use super::usage::Cursor;
use super::Store;

/// How long anchors are kept (the audit log's own retention decides what can still be checked).
const ANCHORS_KEPT_US: i64 = 90 * 86_400 * 1_000_000;

/// What a usage batch says about the chain at its two ends.
pub struct Anchoring {
    pub from: Cursor,
    pub to: Cursor,
    /// `None`: the data plane's log no longer holds the point the batch starts from.
    pub from_hash: Option<String>,
    pub to_hash: String,
    /// The batch reaches the end of the data plane's log.
    pub at_end: bool,
}

/// Why an alert was raised (metric label and API field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertReason {
    Truncated,
    Rewritten,
    Gap,
}

impl AlertReason {
    pub const ALL: [AlertReason; 3] = [
        AlertReason::Truncated,
        AlertReason::Rewritten,
        AlertReason::Gap,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AlertReason::Truncated => "truncated",
            AlertReason::Rewritten => "rewritten",
            AlertReason::Gap => "gap",
        }
    }
}

/// The newest alert of a data plane.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Alert {
    /// `truncated`, `rewritten` or `gap`.
    pub reason: String,
    pub detail: String,
    /// Unix microseconds.
    pub at_us: i64,
}

fn at(c: Cursor) -> String {
    format!("segment {} byte {}", c.segment, c.offset)
}

impl Store {
    /// Check a batch's ends against the anchors kept for `dataplane`, keep them, and return the
    /// alert the batch raised when it is new (the same alert again is stored and returned once).
    pub async fn anchor(
        &self,
        dataplane: &str,
        a: &Anchoring,
        now_us: i64,
    ) -> sqlx::Result<Option<(AlertReason, String)>> {
        let mut tx = self.begin_write().await?;
        let latest: Option<(i64, i64)> = sqlx::query_as(
            "SELECT segment, byte_offset FROM audit_anchors WHERE dataplane = $1 \
             ORDER BY segment DESC, byte_offset DESC LIMIT 1",
        )
        .bind(dataplane)
        .fetch_optional(&mut *tx)
        .await?;
        let latest = latest.map(|(segment, offset)| Cursor { segment, offset });
        let mut alert = None;
        let mut points = Vec::new();
        match &a.from_hash {
            None => {
                if latest.is_some_and(|l| l >= a.from) {
                    alert = Some((
                        AlertReason::Truncated,
                        format!(
                            "the audit log no longer holds {}, which was anchored",
                            at(a.from)
                        ),
                    ));
                }
            }
            Some(h) => {
                if let Some(l) = latest.filter(|l| a.from > *l) {
                    alert = Some((
                        AlertReason::Gap,
                        format!(
                            "records from {} to {} were never shipped",
                            at(l),
                            at(a.from)
                        ),
                    ));
                }
                if let Some(l) = latest.filter(|l| a.at_end && a.to < *l) {
                    alert = Some((
                        AlertReason::Truncated,
                        format!(
                            "the audit log ends at {}, before {} was anchored",
                            at(a.to),
                            at(l)
                        ),
                    ));
                }
                points.push((a.from, h.as_str()));
                points.push((a.to, a.to_hash.as_str()));
            }
        }
        for (c, hash) in points {
            let stored: Option<(String,)> = sqlx::query_as(
                "SELECT hash FROM audit_anchors WHERE dataplane = $1 AND segment = $2 AND byte_offset = $3",
            )
            .bind(dataplane)
            .bind(c.segment)
            .bind(c.offset)
            .fetch_optional(&mut *tx)
            .await?;
            match stored {
                Some((h,)) if h != hash => {
                    alert = Some((
                        AlertReason::Rewritten,
                        format!("the chain hash at {} is not the anchored one", at(c)),
                    ));
                }
                Some(_) => {}
                None => {
                    sqlx::query(
                        "INSERT INTO audit_anchors (dataplane, segment, byte_offset, hash, received_at_us) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(dataplane)
                    .bind(c.segment)
                    .bind(c.offset)
                    .bind(hash)
                    .bind(now_us)
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        let mut fresh = alert.is_some();
        if let Some((reason, detail)) = &alert {
            let last: Option<(String, String)> = sqlx::query_as(
                "SELECT reason, detail FROM audit_alerts WHERE dataplane = $1 ORDER BY id DESC LIMIT 1",
            )
            .bind(dataplane)
            .fetch_optional(&mut *tx)
            .await?;
            let repeated = last.as_ref().map(|(r, d)| (r.as_str(), d.as_str()))
                == Some((reason.name(), detail.as_str()));
            if repeated {
                fresh = false;
            } else {
                sqlx::query(
                    "INSERT INTO audit_alerts (id, dataplane, reason, detail, at_us) \
                     SELECT COALESCE(MAX(id), 0) + 1, $1, $2, $3, $4 FROM audit_alerts",
                )
                .bind(dataplane)
                .bind(reason.name())
                .bind(detail)
                .bind(now_us)
                .execute(&mut *tx)
                .await?;
            }
        }
        sqlx::query("DELETE FROM audit_anchors WHERE received_at_us < $1")
            .bind(now_us.saturating_sub(ANCHORS_KEPT_US))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(alert.filter(|_| fresh))
    }

    /// A data plane's anchors, oldest first: what `audit verify --anchors` reads.
    pub async fn anchors(&self, dataplane: &str) -> sqlx::Result<Vec<(i64, i64, String)>> {
        sqlx::query_as(
            "SELECT segment, byte_offset, hash FROM audit_anchors WHERE dataplane = $1 \
             ORDER BY segment, byte_offset",
        )
        .bind(dataplane)
        .fetch_all(&self.pool)
        .await
    }

    /// Each data plane's newest alert.
    pub async fn latest_alerts(&self) -> sqlx::Result<Vec<(String, Alert)>> {
        let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT dataplane, reason, detail, at_us FROM audit_alerts WHERE id IN \
             (SELECT MAX(id) FROM audit_alerts GROUP BY dataplane)",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(dp, reason, detail, at_us)| {
                (
                    dp,
                    Alert {
                        reason,
                        detail,
                        at_us,
                    },
                )
            })
            .collect())
    }

    /// Alerts raised so far, by reason.
    pub async fn alert_counts(&self) -> sqlx::Result<Vec<(String, i64)>> {
        sqlx::query_as("SELECT reason, COUNT(*) FROM audit_alerts GROUP BY reason")
            .fetch_all(&self.pool)
            .await
    }
}
