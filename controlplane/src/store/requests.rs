//! Reading the request log: the newest rows first, a page at a time, narrowed by tenant,
//! project, Warden key, key source, model and outcome. A page is one range of an index
//! (`requests_by_project (project, at_us)` for a project, `requests_by_time (at_us)` otherwise)
//! read backwards until the page is full, so it stays fast however many rows the table holds;
//! only the conditions asked for are in the SQL, which keeps both planners on that index.

use sqlx::Row;

use super::usage::RequestRow;
use super::Store;

/// Which request rows to list.
#[derive(Debug, Clone, Copy)]
pub struct RequestFilter<'a> {
    pub tenant: Option<&'a str>,
    pub project: Option<&'a str>,
    /// A Warden key's id.
    pub api_key: Option<&'a str>,
    /// `byok` or `pooled`.
    pub key_source: Option<&'a str>,
    /// The upstream model.
    pub model: Option<&'a str>,
    /// `Some(true)`: answered with an error status (400 and above); `Some(false)`: the others.
    pub failed: Option<bool>,
    /// Only rows older than this (Unix microseconds): the next page starts at the last row's time.
    pub before_us: i64,
    pub limit: i64,
}

impl Default for RequestFilter<'_> {
    fn default() -> Self {
        RequestFilter {
            tenant: None,
            project: None,
            api_key: None,
            key_source: None,
            model: None,
            failed: None,
            before_us: i64::MAX,
            limit: 100,
        }
    }
}

const COLUMNS: &str = "SELECT request_id, at_us, tenant, project, status, provider, model, \
     key_source, cache, attempts, input_tokens, output_tokens, cached_tokens, api_key, \
     latency_us, first_byte_us, error, verdicts FROM requests";

impl Store {
    /// The newest requests that `f` lets through, at most `f.limit`.
    pub async fn requests(&self, f: &RequestFilter<'_>) -> sqlx::Result<Vec<RequestRow>> {
        let mut text: Vec<(&str, &str)> = Vec::new();
        for (column, value) in [
            ("project", f.project),
            ("tenant", f.tenant),
            ("api_key", f.api_key),
            ("key_source", f.key_source),
            ("model", f.model),
        ] {
            if let Some(v) = value {
                text.push((column, v));
            }
        }
        let mut sql = format!("{COLUMNS} WHERE at_us < $1");
        for (i, (column, _)) in text.iter().enumerate() {
            sql.push_str(&format!(" AND {column} = ${}", i + 2));
        }
        match f.failed {
            Some(true) => sql.push_str(" AND status >= 400"),
            Some(false) => sql.push_str(" AND status < 400"),
            None => {}
        }
        sql.push_str(&format!(" ORDER BY at_us DESC LIMIT ${}", text.len() + 2));
        let mut query = sqlx::query(&sql).bind(f.before_us);
        for (_, v) in &text {
            query = query.bind(*v);
        }
        let rows = query.bind(f.limit).fetch_all(&self.pool).await?;
        rows.iter().map(request_row).collect()
    }
}

fn request_row(r: &sqlx::any::AnyRow) -> sqlx::Result<RequestRow> {
    let json = |i: usize| -> sqlx::Result<String> { r.try_get(i) };
    Ok(RequestRow {
        request_id: r.try_get(0)?,
        at_us: r.try_get(1)?,
        tenant: r.try_get(2)?,
        project: r.try_get(3)?,
        status: r.try_get(4)?,
        provider: r.try_get(5)?,
        model: r.try_get(6)?,
        key_source: r.try_get(7)?,
        cache: r.try_get(8)?,
        attempts: serde_json::from_str(&json(9)?).unwrap_or_default(),
        input_tokens: r.try_get(10)?,
        output_tokens: r.try_get(11)?,
        cached_tokens: r.try_get(12)?,
        api_key: r.try_get(13)?,
        latency_us: r.try_get(14)?,
        first_byte_us: r.try_get(15)?,
        error: r.try_get(16)?,
        verdicts: serde_json::from_str(&json(17)?).unwrap_or_default(),
    })
}
