//! The mirror's tables (`mirror.rs`): rows kept in a vector in the order a snapshot takes them,
//! with an index from each row's id to its position that holds positions only — the ids stay in
//! the rows. At a million Warden keys an index of owned ids cost a million allocations (about
//! 50 MB) and most of the time of rebuilding the mirror from a saved base.
//!
//! Invariant: `at` holds exactly one position per row, hashed by that row's id; `whole` says
//! whether it still does (it does not while the rows are lent out for encoding).

use std::hash::BuildHasher;

use hashbrown::HashTable;
use warden_shared::snapshot::{ApiKeyEntry, Project};

/// A row with an id.
pub(super) trait Row {
    fn id(&self) -> &str;
}

impl Row for Project {
    fn id(&self) -> &str {
        &self.id
    }
}

impl Row for ApiKeyEntry {
    fn id(&self) -> &str {
        &self.id
    }
}

pub(super) struct Table<T> {
    pub(super) rows: Vec<T>,
    at: HashTable<usize>,
    hasher: std::hash::RandomState,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            rows: Vec::new(),
            at: HashTable::new(),
            hasher: std::hash::RandomState::new(),
        }
    }
}

impl<T: Row> Table<T> {
    /// Insert or replace by its id; the row replaced, if any.
    pub(super) fn upsert(&mut self, row: T) -> Option<T> {
        if let Some(slot) = self.get_mut(row.id()) {
            return Some(std::mem::replace(slot, row));
        }
        let Table { rows, at, hasher } = self;
        at.insert_unique(hasher.hash_one(row.id()), rows.len(), |&i| {
            hasher.hash_one(rows[i].id())
        });
        rows.push(row);
        None
    }

    /// The position of the row with `id`.
    fn position(&self, id: &str) -> Option<usize> {
        let rows = &self.rows;
        self.at
            .find(self.hasher.hash_one(id), |&i| {
                rows.get(i).is_some_and(|r| r.id() == id)
            })
            .copied()
    }

    pub(super) fn get(&self, id: &str) -> Option<&T> {
        self.rows.get(self.position(id)?)
    }

    pub(super) fn get_mut(&mut self, id: &str) -> Option<&mut T> {
        let i = self.position(id)?;
        self.rows.get_mut(i)
    }

    /// Remove the row with `id`; the last row takes its place.
    pub(super) fn remove(&mut self, id: &str) -> Option<T> {
        let Table { rows, at, hasher } = self;
        let found = at.find_entry(hasher.hash_one(id), |&i| {
            rows.get(i).is_some_and(|r| r.id() == id)
        });
        let (i, _) = found.ok()?.remove();
        let last = rows.len() - 1;
        let row = rows.swap_remove(i);
        if let Some(moved) = rows.get(i) {
            if let Some(slot) = at.find_mut(hasher.hash_one(moved.id()), |&j| j == last) {
                *slot = i;
            }
        }
        Some(row)
    }

    /// A table of `rows` as they are, with room to grow ([`Table::reserve`]).
    pub(super) fn indexed(rows: Vec<T>) -> Table<T> {
        let mut table = Table {
            rows,
            ..Table::default()
        };
        table.reserve(0);
        let Table { rows, at, hasher } = &mut table;
        for i in 0..rows.len() {
            at.insert_unique(hasher.hash_one(rows[i].id()), i, |&j| {
                hasher.hash_one(rows[j].id())
            });
        }
        table
    }

    /// Room for `more` rows and an eighth of the whole besides: the rows added one at a time
    /// afterwards do not each risk copying a million (growing the key table took 0.27 s).
    pub(super) fn reserve(&mut self, more: usize) {
        let room = more + (self.rows.len() + more) / 8;
        self.rows.reserve(room);
        let Table { rows, at, hasher } = self;
        // Room for every row there will be, those not indexed yet included (`indexed`).
        let indexed_too = rows.len().saturating_sub(at.len());
        at.reserve(room + indexed_too, |&i| hasher.hash_one(rows[i].id()));
    }

    /// Whether rows and positions agree (not, after a lent vector never came back).
    pub(super) fn whole(&self) -> bool {
        self.rows.len() == self.at.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> ApiKeyEntry {
        ApiKeyEntry {
            id: id.into(),
            hash: [id.len() as u8; 32],
            project: "p".into(),
        }
    }

    #[test]
    fn rows_are_found_replaced_and_removed_by_id() {
        let mut t = Table::indexed((0..100).map(|i| key(&format!("k{i}"))).collect());
        assert!(t.whole());
        assert_eq!(t.get("k42").map(|k| k.id.as_str()), Some("k42"));
        assert!(t.upsert(key("new")).is_none());
        assert!(t.upsert(key("k7")).is_some(), "replaced in place");
        assert_eq!(t.rows.len(), 101);
        // Removing moves the last row into the gap; every id still finds its own row.
        for gone in ["k0", "new", "k99", "k50"] {
            assert_eq!(t.remove(gone).map(|k| k.id), Some(gone.to_owned()));
            assert!(t.get(gone).is_none());
        }
        assert!(t.remove("k0").is_none());
        assert!(t.whole());
        for r in &t.rows {
            assert_eq!(t.get(&r.id).map(|k| &k.id), Some(&r.id));
        }
        assert_eq!(t.rows.len(), 97);
        // Lent out and not given back: not whole.
        let lent = std::mem::take(&mut t.rows);
        assert!(!t.whole());
        t.rows = lent;
        assert!(t.whole());
    }
}
