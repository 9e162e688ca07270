//! Row stamps: every write to a table the snapshot reads (tenants, projects, provider_keys,
//! api_keys) stamps the rows it writes with the next `meta.row_seq`, taken inside its write
//! transaction (so under the store's write lock: stamps are handed out in commit order), and a
//! removal leaves the row's table and id in `removed_rows` under its stamp. The leader's mirror of
//! those tables (`snapshot/mirror.rs`) then reads, per build, only the rows stamped after the
//! stamp it holds and up to the committed `row_seq` it read first: a million keys are read once,
//! not at every change. Rows from before the stamps (0) are read by a first, whole read.
//!
//! The removals a saved base (`store/base.rs`) has read are pruned when it is saved
//! (`prune_removed`), raising `meta.removed_floor`; a mirror that holds less than the floor has
//! missed removals and resumes from that base or reads everything again.
//!
//! Writes to these tables must come through the control plane (or stamp their rows as
//! scripts/fill_store.py does): a row changed behind its back keeps its old stamp and reaches
//! snapshots only when a control plane next starts or takes the lead.

use sqlx::{Any, Transaction};

use super::tenancy::{KeyTuple, ProjectTuple, KEY_COLUMNS, PROJECT_SELECT};
use super::{ProjectRow, ProviderKeyRow, Store};

/// The next stamp, inside the caller's write transaction.
pub(super) async fn stamp(tx: &mut Transaction<'static, Any>) -> sqlx::Result<i64> {
    let (value,): (i64,) = sqlx::query_as(
        "INSERT INTO meta (name, value) VALUES ('row_seq', 1) \
         ON CONFLICT (name) DO UPDATE SET value = meta.value + 1 RETURNING value",
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(value)
}

/// Record that row `id` of `table` is gone, under a new stamp.
pub(super) async fn removed(
    tx: &mut Transaction<'static, Any>,
    table: &str,
    id: &str,
) -> sqlx::Result<()> {
    let seq = stamp(tx).await?;
    sqlx::query("INSERT INTO removed_rows (seq, tbl, id) VALUES ($1, $2, $3)")
        .bind(seq)
        .bind(table)
        .bind(id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// Rows stamped in `(after, upto]`; `after = -1` reads unstamped rows too.
#[derive(Clone, Copy, Debug)]
pub struct Stamps {
    pub after: i64,
    pub upto: i64,
}

impl Store {
    /// The last committed stamp (0: none yet).
    pub async fn row_seq(&self) -> sqlx::Result<i64> {
        self.counter("row_seq").await
    }

    /// (id, plan) of the tenants stamped in `s`.
    pub async fn tenants_stamped(&self, s: Stamps) -> sqlx::Result<Vec<(String, String)>> {
        sqlx::query_as("SELECT id, plan FROM tenants WHERE seq > $1 AND seq <= $2")
            .bind(s.after)
            .bind(s.upto)
            .fetch_all(&self.pool)
            .await
    }

    pub async fn projects_stamped(&self, s: Stamps) -> sqlx::Result<Vec<ProjectRow>> {
        let rows: Vec<ProjectTuple> = sqlx::query_as(&format!(
            "{PROJECT_SELECT} WHERE p.seq > $1 AND p.seq <= $2"
        ))
        .bind(s.after)
        .bind(s.upto)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(ProjectRow::from).collect())
    }

    pub async fn provider_keys_stamped(&self, s: Stamps) -> sqlx::Result<Vec<ProviderKeyRow>> {
        let rows: Vec<KeyTuple> = sqlx::query_as(&format!(
            "SELECT {KEY_COLUMNS} FROM provider_keys WHERE seq > $1 AND seq <= $2"
        ))
        .bind(s.after)
        .bind(s.upto)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(ProviderKeyRow::from).collect())
    }

    /// (id, project_id, keyed digest) of the Warden keys stamped in `s`, the keys of one project
    /// one after another. Read one row per project, each packing its keys as
    /// `{bytes in id}:{id}{digest, 64 hex digits}`: a row through sqlx costs about 2 µs, so a
    /// first read of a million keys took 2.3 s as rows against about 1 s grouped, and needs no
    /// sort afterwards to keep a project's keys together.
    pub async fn api_keys_stamped(
        &self,
        s: Stamps,
    ) -> sqlx::Result<Vec<(String, String, [u8; 32])>> {
        let groups: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT project_id, string_agg(octet_length(id) || ':' || id || key_hash, ''), \
             count(*) FROM api_keys WHERE seq > $1 AND seq <= $2 GROUP BY project_id",
        )
        .bind(s.after)
        .bind(s.upto)
        .fetch_all(&self.pool)
        .await?;
        let total = groups.iter().map(|g| g.2).sum::<i64>();
        let mut keys = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
        for (project, packed, count) in groups {
            let before = keys.len();
            unpack_keys(&packed, |id, digest| {
                keys.push((id.to_owned(), project.clone(), digest));
            })
            .ok_or_else(|| {
                sqlx::Error::Decode(
                    format!("api_keys of project {project}: malformed id or key_hash").into(),
                )
            })?;
            if i64::try_from(keys.len() - before) != Ok(count) {
                return Err(sqlx::Error::Decode(
                    format!("api_keys of project {project}: {count} rows, not as many keys").into(),
                ));
            }
        }
        Ok(keys)
    }

    /// The highest stamp of a pruned removal (0: none pruned).
    pub async fn removed_floor(&self) -> sqlx::Result<i64> {
        self.counter("removed_floor").await
    }

    /// (table, id) of the rows removed in `s`, oldest first.
    pub async fn removed_stamped(&self, s: Stamps) -> sqlx::Result<Vec<(String, String)>> {
        sqlx::query_as("SELECT tbl, id FROM removed_rows WHERE seq > $1 AND seq <= $2 ORDER BY seq")
            .bind(s.after)
            .bind(s.upto)
            .fetch_all(&self.pool)
            .await
    }
}

/// Forget the removals stamped up to `upto`, and raise the floor to it (never lower it).
pub(super) async fn prune_removed(
    tx: &mut Transaction<'static, Any>,
    upto: i64,
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM removed_rows WHERE seq <= $1")
        .bind(upto)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO meta (name, value) VALUES ('removed_floor', $1) \
         ON CONFLICT (name) DO UPDATE SET value = CASE WHEN meta.value > excluded.value \
         THEN meta.value ELSE excluded.value END",
    )
    .bind(upto)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Each `(id, digest)` of keys packed as `api_keys_stamped` reads them; `None` at the first
/// malformed one (a length that is not one, an id cut short, a digest not 64 hex digits).
fn unpack_keys(mut packed: &str, mut each: impl FnMut(&str, [u8; 32])) -> Option<()> {
    while !packed.is_empty() {
        let (len, rest) = packed.split_once(':')?;
        let len: usize = len.parse().ok()?;
        let id = rest.get(..len)?;
        let hex = rest.get(len..len + 64)?;
        each(id, unhex32(hex.as_bytes())?);
        packed = rest.get(len + 64..)?;
    }
    Some(())
}

/// 64 hex digits as 32 bytes.
fn unhex32(hex: &[u8]) -> Option<[u8; 32]> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let mut out = [0u8; 32];
    if hex.len() != 64 {
        return None;
    }
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *o = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::unpack_keys;

    fn unpacked(packed: &str) -> Option<Vec<(String, u8)>> {
        let mut out = Vec::new();
        unpack_keys(packed, |id, d| out.push((id.to_owned(), d[0])))?;
        Some(out)
    }

    #[test]
    fn packed_keys_unpack_and_malformed_ones_are_refused() {
        let h = |b: &str| b.repeat(32);
        let packed = format!("3:ab1{}6:key_é{}", h("0f"), h("A0"));
        assert_eq!(
            unpacked(&packed),
            Some(vec![("ab1".to_owned(), 0x0f), ("key_é".to_owned(), 0xa0)])
        );
        assert_eq!(unpacked(""), Some(vec![]));
        for bad in [
            format!("3:ab1{}", &h("0f")[..63]),
            format!("4:ab1{}", h("0f")),
            format!("x:ab1{}", h("0f")),
            format!("3:ab1{}", h("0g")),
            format!("3ab1{}", h("0f")),
            format!("5:key_é{}", h("00")),
        ] {
            assert_eq!(unpacked(&bad), None, "{bad}");
        }
    }
}
