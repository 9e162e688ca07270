//! Usage rows, the data planes' shipping cursors, and the price table.

use serde::{Deserialize, Serialize};

use super::Store;

/// One day's usage in one bucket, as a data plane ships it and as it is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UsageRow {
    pub day: String,
    pub tenant: String,
    pub project: String,
    pub environment: String,
    pub provider: String,
    pub model: String,
    pub key_source: String,
    /// '' answered by a provider; 'exact' or 'semantic' from Warden's cache (older data planes
    /// send none).
    #[serde(default)]
    pub cache: String,
    pub requests: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_tokens: i64,
}

/// One answered request as a data plane ships it (`attempts` as JSON in the store).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RequestRow {
    pub request_id: String,
    pub at_us: i64,
    pub tenant: String,
    pub project: String,
    pub status: i64,
    pub provider: String,
    pub model: String,
    pub key_source: String,
    #[serde(default)]
    pub cache: String,
    /// The Warden key's id ('' from data planes that do not say).
    #[serde(default)]
    pub api_key: String,
    /// Microseconds from the request's arrival to its answer (Warden's time and the provider's).
    #[serde(default)]
    pub latency_us: i64,
    /// Microseconds to the first byte sent back (streams; 0 when not known).
    #[serde(default)]
    pub first_byte_us: i64,
    /// The error code of a failed request ('' when it succeeded).
    #[serde(default)]
    pub error: String,
    /// The guardrails' verdicts, request and response side.
    #[serde(default)]
    #[schema(max_items = 64)]
    pub verdicts: Vec<warden_shared::audit::Verdict>,
    #[schema(max_items = 64)]
    pub attempts: Vec<warden_shared::audit::Attempt>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_tokens: i64,
}

/// How long per-request rows are kept.
const REQUESTS_KEPT_US: i64 = 30 * 86_400 * 1_000_000;

/// Request rows one INSERT carries: 19 values each, within the 999 bound values older SQLite
/// builds allow a statement.
const REQUESTS_PER_INSERT: usize = 50;

/// The columns of a request row as `apply_usage` binds them, in order.
const REQUEST_COLUMNS: [&str; 19] = [
    "dataplane",
    "request_id",
    "at_us",
    "tenant",
    "project",
    "status",
    "provider",
    "model",
    "key_source",
    "cache",
    "attempts",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "api_key",
    "latency_us",
    "first_byte_us",
    "error",
    "verdicts",
];

/// `INSERT INTO requests` of `rows` rows of numbered parameters; a row already held (a batch
/// resent) is left as it is.
fn insert_requests_sql(rows: usize) -> String {
    use std::fmt::Write;
    let n = REQUEST_COLUMNS.len();
    let mut sql = format!(
        "INSERT INTO requests ({}) VALUES ",
        REQUEST_COLUMNS.join(", ")
    );
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for col in 0..n {
            let sep = if col == 0 { "" } else { ", " };
            let _ = write!(sql, "{sep}${}", row * n + col + 1);
        }
        sql.push(')');
    }
    sql.push_str(" ON CONFLICT (dataplane, project, request_id, at_us) DO NOTHING");
    sql
}

/// A position in a data plane's audit log.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
pub struct Cursor {
    pub segment: i64,
    pub offset: i64,
}

/// What became of a usage batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Applied now.
    Now,
    /// Applied before: a retry, nothing changed.
    Known,
    /// Starts before what is held and reaches past it: not applied; the data plane resumes
    /// from the cursor held.
    ResumeFrom(Cursor),
}

/// A price table entry: dollars per million tokens, as decimal strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Price {
    pub provider: String,
    pub model: String,
    pub input_per_mtok: String,
    pub output_per_mtok: String,
}

impl Store {
    /// A tenant's plan, if the tenant exists.
    pub async fn tenant_plan(&self, id: &str) -> sqlx::Result<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT plan FROM tenants WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.0))
    }

    /// Apply one batch from `dataplane` covering `from..to` of its log, unless its `from` is
    /// behind the stored cursor: then it is known (a retry, `to` not past the cursor) or refused
    /// with where to resume.
    pub async fn apply_usage(
        &self,
        dataplane: &str,
        from: Cursor,
        to: Cursor,
        rows: &[UsageRow],
        requests: &[RequestRow],
    ) -> sqlx::Result<Applied> {
        let mut tx = self.begin_write().await?;
        let stored: Option<(i64, i64)> =
            sqlx::query_as("SELECT segment, byte_offset FROM usage_cursors WHERE dataplane = $1")
                .bind(dataplane)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some((segment, offset)) = stored {
            let held = Cursor { segment, offset };
            if from < held {
                // Applied before. Either a retry of that batch, or a batch from the data plane's
                // older cursor that reaches past what is held (it never heard the answer to the
                // last one: it was killed before saving it, or the control plane that applied it
                // died while answering). Taking the second as a retry would lose what lies past
                // `held`; its rows are sums and cannot be cut, so it is refused with where to
                // resume.
                return Ok(if to <= held {
                    Applied::Known
                } else {
                    Applied::ResumeFrom(held)
                });
            }
        }
        for r in rows {
            sqlx::query(
                "INSERT INTO usage (day, tenant, project, environment, provider, model, key_source, cache, \
                 requests, input_tokens, output_tokens, cached_tokens) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                 ON CONFLICT (day, tenant, project, environment, provider, model, key_source, cache) DO UPDATE SET \
                 requests = usage.requests + excluded.requests, \
                 input_tokens = usage.input_tokens + excluded.input_tokens, \
                 output_tokens = usage.output_tokens + excluded.output_tokens, \
                 cached_tokens = usage.cached_tokens + excluded.cached_tokens",
            )
            .bind(&r.day)
            .bind(&r.tenant)
            .bind(&r.project)
            .bind(&r.environment)
            .bind(&r.provider)
            .bind(&r.model)
            .bind(&r.key_source)
            .bind(&r.cache)
            .bind(r.requests)
            .bind(r.input_tokens)
            .bind(r.output_tokens)
            .bind(r.cached_tokens)
            .execute(&mut *tx)
            .await?;
        }
        // Many rows a statement: a full batch of 20 000 is 400 statements, not 20 000.
        let full = insert_requests_sql(REQUESTS_PER_INSERT);
        for chunk in requests.chunks(REQUESTS_PER_INSERT) {
            let sql = if chunk.len() == REQUESTS_PER_INSERT {
                None
            } else {
                Some(insert_requests_sql(chunk.len()))
            };
            let mut query = sqlx::query(sql.as_deref().unwrap_or(&full));
            for r in chunk {
                query = query
                    .bind(dataplane)
                    .bind(&r.request_id)
                    .bind(r.at_us)
                    .bind(&r.tenant)
                    .bind(&r.project)
                    .bind(r.status)
                    .bind(&r.provider)
                    .bind(&r.model)
                    .bind(&r.key_source)
                    .bind(&r.cache)
                    .bind(serde_json::to_string(&r.attempts).unwrap_or_else(|_| "[]".into()))
                    .bind(r.input_tokens)
                    .bind(r.output_tokens)
                    .bind(r.cached_tokens)
                    .bind(&r.api_key)
                    .bind(r.latency_us)
                    .bind(r.first_byte_us)
                    .bind(&r.error)
                    .bind(serde_json::to_string(&r.verdicts).unwrap_or_else(|_| "[]".into()));
            }
            query.execute(&mut *tx).await?;
        }
        // Each key's newest use in the batch, by the control plane's clock at the latest (a data
        // plane's clock, or a forged row, cannot date a use in the future); only keys that exist.
        let now_s = crate::secrets::now_s();
        let mut used: std::collections::BTreeMap<&str, i64> = std::collections::BTreeMap::new();
        for r in requests.iter().filter(|r| !r.api_key.is_empty()) {
            let at = (r.at_us / 1_000_000).min(now_s);
            let e = used.entry(r.api_key.as_str()).or_insert(at);
            *e = (*e).max(at);
        }
        for (key, at) in used {
            sqlx::query(
                "INSERT INTO api_key_use (id, last_used_at) SELECT id, $1 FROM api_keys WHERE id = $2 \
                 ON CONFLICT (id) DO UPDATE SET last_used_at = excluded.last_used_at \
                 WHERE excluded.last_used_at > api_key_use.last_used_at",
            )
            .bind(at)
            .bind(key)
            .execute(&mut *tx)
            .await?;
        }
        if !requests.is_empty() {
            // By the control plane's own clock: a row's time comes from the data plane, and one
            // stamped near i64::MAX must not age every other row out.
            let now = crate::secrets::now_s().saturating_mul(1_000_000);
            sqlx::query("DELETE FROM requests WHERE at_us < $1")
                .bind(now.saturating_sub(REQUESTS_KEPT_US))
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO usage_cursors (dataplane, segment, byte_offset) VALUES ($1, $2, $3) \
             ON CONFLICT (dataplane) DO UPDATE SET segment = excluded.segment, byte_offset = excluded.byte_offset",
        )
        .bind(dataplane)
        .bind(to.segment)
        .bind(to.offset)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Applied::Now)
    }

    /// Usage rows with `from <= day <= to` (ISO dates compare as text), optionally for one
    /// tenant and one project.
    pub async fn usage(
        &self,
        from: &str,
        to: &str,
        tenant: Option<&str>,
        project: Option<&str>,
    ) -> sqlx::Result<Vec<UsageRow>> {
        type Tuple = (
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            i64,
            i64,
            i64,
            i64,
        );
        let rows: Vec<Tuple> = sqlx::query_as(
            "SELECT day, tenant, project, environment, provider, model, key_source, cache, requests, \
             input_tokens, output_tokens, cached_tokens FROM usage \
             WHERE day >= $1 AND day <= $2 AND ($3 IS NULL OR tenant = $4) AND ($5 IS NULL OR project = $6) \
             ORDER BY day, tenant, project, provider, model, key_source, cache",
        )
        .bind(from)
        .bind(to)
        .bind(tenant)
        .bind(tenant)
        .bind(project)
        .bind(project)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| UsageRow {
                day: r.0,
                tenant: r.1,
                project: r.2,
                environment: r.3,
                provider: r.4,
                model: r.5,
                key_source: r.6,
                cache: r.7,
                requests: r.8,
                input_tokens: r.9,
                output_tokens: r.10,
                cached_tokens: r.11,
            })
            .collect())
    }

    /// Whether any project has a monthly spend cap (its month-to-date spend must reach the data
    /// planes).
    pub async fn any_spend_limit(&self) -> sqlx::Result<bool> {
        let row: (i64,) =
            sqlx::query_as("SELECT count(*) FROM projects WHERE limits LIKE '%monthly_spend%'")
                .fetch_one(&self.pool)
                .await?;
        Ok(row.0 > 0)
    }

    pub async fn prices(&self) -> sqlx::Result<Vec<Price>> {
        let rows: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT provider, model, input_per_mtok, output_per_mtok FROM prices ORDER BY provider, model",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(provider, model, input_per_mtok, output_per_mtok)| Price {
                provider,
                model,
                input_per_mtok,
                output_per_mtok,
            })
            .collect())
    }

    pub async fn put_price(&self, p: &Price) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO prices (provider, model, input_per_mtok, output_per_mtok) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (provider, model) DO UPDATE SET input_per_mtok = excluded.input_per_mtok, \
             output_per_mtok = excluded.output_per_mtok",
        )
        .bind(&p.provider)
        .bind(&p.model)
        .bind(&p.input_per_mtok)
        .bind(&p.output_per_mtok)
        .execute(&self.pool)
        .await
        .map(|_| ())
    }
}
