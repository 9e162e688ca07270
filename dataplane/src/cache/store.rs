//! One shard's cached answers: a map from key to entry, bounded in bytes twice over — the
//! shard's share of `[cache] memory_mb`, and each project's own `max_mb` — and evicted least
//! recently used first. Two intrusive lists thread the same nodes: one over every entry (the
//! shard's budget evicts from its tail) and one per project (a project over its cap evicts its
//! own oldest, never another project's). Expired entries are dropped when met.
//!
//! Single-threaded (one per shard, behind a `RefCell`); every operation is O(1) apart from the
//! evictions an insert causes.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::time::Instant;

use super::{Entry, Key};

/// No node.
const NIL: u32 = u32::MAX;
/// What an entry costs besides its answer bytes: the node, the map slot, the `Arc`s.
pub const ENTRY_OVERHEAD: usize = 160;

/// What an insert did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Inserted {
    pub stored: bool,
    pub evicted: u64,
}

pub struct Store {
    map: HashMap<Key, u32, BuildHasherDefault<KeyHasher>>,
    nodes: Vec<Node>,
    free: Vec<u32>,
    /// Most recently used first.
    all: List,
    projects: HashMap<Arc<str>, List>,
    bytes: usize,
    budget: usize,
}

struct Node {
    entry: Option<Arc<Entry>>,
    size: usize,
    /// Neighbours in the shard-wide list and in the project's list.
    all: Links,
    own: Links,
}

#[derive(Clone, Copy)]
struct Links {
    prev: u32,
    next: u32,
}

#[derive(Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
    bytes: usize,
    len: usize,
}

/// Keys are SHA-256 digests salted per process: their first eight bytes are already a hash.
#[derive(Default)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for (i, b) in bytes.iter().take(8).enumerate() {
            self.0 |= u64::from(*b) << (8 * i);
        }
    }
}

impl Default for List {
    fn default() -> Self {
        List {
            head: NIL,
            tail: NIL,
            bytes: 0,
            len: 0,
        }
    }
}

impl Store {
    /// A store that keeps at most `budget` bytes.
    pub fn new(budget: usize) -> Store {
        Store {
            map: HashMap::default(),
            nodes: Vec::new(),
            free: Vec::new(),
            all: List::default(),
            projects: HashMap::new(),
            bytes: 0,
            budget,
        }
    }

    /// The bytes held, entries counted with their overhead.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The live entry under `key`, marked most recently used; an expired one is removed.
    pub fn get(&mut self, key: &Key, now: Instant) -> Option<Arc<Entry>> {
        let i = *self.map.get(key)?;
        let entry = self.nodes[i as usize].entry.clone()?;
        if entry.expires <= now {
            self.remove(i);
            return None;
        }
        self.unlink(i);
        self.push_front(i);
        Some(entry)
    }

    /// Keep `entry`, replacing one under the same key, then evict until both bounds hold:
    /// the project's own `project_cap` (0: none) from its oldest, the shard's budget from the
    /// oldest of all. An entry bigger than either bound is not kept.
    pub fn insert(&mut self, entry: Arc<Entry>, project_cap: usize) -> Inserted {
        let size = entry.body.len() + entry.project.len() + ENTRY_OVERHEAD;
        let mut done = Inserted::default();
        if size > self.budget || (project_cap > 0 && size > project_cap) {
            return done;
        }
        if let Some(&old) = self.map.get(&entry.key) {
            self.remove(old);
        }
        let project = Arc::clone(&entry.project);
        if project_cap > 0 {
            while self.project_bytes(&project) + size > project_cap {
                match self.projects.get(&project).map(|l| l.tail) {
                    Some(tail) if tail != NIL => self.remove(tail),
                    _ => break,
                }
                done.evicted += 1;
            }
        }
        while self.bytes + size > self.budget && self.all.tail != NIL {
            self.remove(self.all.tail);
            done.evicted += 1;
        }
        let node = Node {
            size,
            entry: Some(Arc::clone(&entry)),
            all: Links {
                prev: NIL,
                next: NIL,
            },
            own: Links {
                prev: NIL,
                next: NIL,
            },
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        self.map.insert(entry.key, i);
        self.bytes += size;
        let list = self.projects.entry(project).or_default();
        list.bytes += size;
        list.len += 1;
        self.push_front(i);
        done.stored = true;
        done
    }

    /// How many entries `project` holds here.
    pub fn entries_of(&self, project: &str) -> usize {
        self.projects.get(project).map_or(0, |l| l.len)
    }

    /// Walk at most `steps` of `project`'s entries from its least recently used end, dropping
    /// those `stale` condemns and moving the others to the front, so that a walk resumed later
    /// meets the ones it has not seen yet first. Returns (entries walked, entries dropped).
    pub fn sweep(
        &mut self,
        project: &str,
        steps: usize,
        stale: impl Fn(&Entry) -> bool,
    ) -> (usize, usize) {
        let (mut walked, mut dropped) = (0, 0);
        while walked < steps {
            let Some(tail) = self.projects.get(project).map(|l| l.tail) else {
                break;
            };
            let Some(entry) = self.nodes.get(tail as usize).and_then(|n| n.entry.as_ref()) else {
                break;
            };
            walked += 1;
            if stale(entry) {
                self.remove(tail);
                dropped += 1;
            } else {
                self.unlink(tail);
                self.push_front(tail);
            }
        }
        (walked, dropped)
    }

    fn project_bytes(&self, project: &str) -> usize {
        self.projects.get(project).map_or(0, |l| l.bytes)
    }

    fn remove(&mut self, i: u32) {
        self.unlink(i);
        let node = &mut self.nodes[i as usize];
        let Some(entry) = node.entry.take() else {
            return;
        };
        let size = node.size;
        self.map.remove(&entry.key);
        self.bytes -= size;
        if let Some(list) = self.projects.get_mut(&entry.project) {
            list.bytes -= size;
            list.len -= 1;
            if list.head == NIL {
                self.projects.remove(&entry.project);
            }
        }
        self.free.push(i);
    }

    /// The project of node `i`'s entry (`None`: a free node).
    fn project_of(&self, i: u32) -> Option<Arc<str>> {
        self.nodes[i as usize]
            .entry
            .as_ref()
            .map(|e| Arc::clone(&e.project))
    }

    /// Take node `i` out of both lists.
    fn unlink(&mut self, i: u32) {
        let Some(project) = self.project_of(i) else {
            return;
        };
        let Node { all, own, .. } = self.nodes[i as usize];
        self.detach(all, |n| &mut n.all, Which::All);
        self.detach(own, |n| &mut n.own, Which::Project(&project));
    }

    /// Put node `i` at the front of both lists.
    fn push_front(&mut self, i: u32) {
        let Some(project) = self.project_of(i) else {
            return;
        };
        self.attach(i, |n| &mut n.all, Which::All);
        self.attach(i, |n| &mut n.own, Which::Project(&project));
    }

    fn detach(&mut self, links: Links, field: fn(&mut Node) -> &mut Links, which: Which<'_>) {
        let list = list(&mut self.all, &mut self.projects, which);
        match links.prev {
            NIL => list.head = links.next,
            p => field(&mut self.nodes[p as usize]).next = links.next,
        }
        match links.next {
            NIL => list.tail = links.prev,
            n => field(&mut self.nodes[n as usize]).prev = links.prev,
        }
    }

    fn attach(&mut self, i: u32, field: fn(&mut Node) -> &mut Links, which: Which<'_>) {
        let list = list(&mut self.all, &mut self.projects, which);
        let head = list.head;
        if head == NIL {
            list.tail = i;
        }
        list.head = i;
        *field(&mut self.nodes[i as usize]) = Links {
            prev: NIL,
            next: head,
        };
        if head != NIL {
            field(&mut self.nodes[head as usize]).prev = i;
        }
    }
}

/// The shard-wide list or a project's (made when first needed); a free function so that the
/// nodes stay borrowable beside it.
fn list<'a>(
    all: &'a mut List,
    projects: &'a mut HashMap<Arc<str>, List>,
    which: Which<'_>,
) -> &'a mut List {
    match which {
        Which::All => all,
        Which::Project(p) => projects.entry(Arc::clone(p)).or_default(),
    }
}

enum Which<'a> {
    All,
    Project(&'a Arc<str>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn entry(project: &str, n: u8, len: usize, ttl: Duration) -> Arc<Entry> {
        Arc::new(Entry {
            key: Key([n; 32]),
            project: project.into(),
            generation: 0,
            event_stream: false,
            body: vec![b'x'; len].into(),
            filled: Instant::now(),
            expires: Instant::now() + ttl,
        })
    }

    const HOUR: Duration = Duration::from_secs(3600);

    fn size(project: &str, len: usize) -> usize {
        len + project.len() + ENTRY_OVERHEAD
    }

    #[test]
    fn least_recently_used_goes_first() {
        let mut s = Store::new(3 * size("p", 100));
        for n in 1..=3 {
            assert!(s.insert(entry("p", n, 100, HOUR), 0).stored);
        }
        let now = Instant::now();
        assert!(s.get(&Key([1; 32]), now).is_some());
        let done = s.insert(entry("p", 4, 100, HOUR), 0);
        assert_eq!(done.evicted, 1);
        assert!(
            s.get(&Key([2; 32]), now).is_none(),
            "the oldest unused entry was evicted"
        );
        for n in [1, 3, 4] {
            assert!(s.get(&Key([n; 32]), now).is_some(), "{n}");
        }
        assert_eq!(s.bytes(), 3 * size("p", 100));
    }

    #[test]
    fn a_project_over_its_cap_evicts_only_its_own() {
        let mut s = Store::new(10 * size("a", 100));
        assert!(s.insert(entry("a", 1, 100, HOUR), 0).stored);
        assert!(
            s.insert(entry("b", 2, 100, HOUR), 2 * size("b", 100))
                .stored
        );
        assert!(
            s.insert(entry("b", 3, 100, HOUR), 2 * size("b", 100))
                .stored
        );
        let done = s.insert(entry("b", 4, 100, HOUR), 2 * size("b", 100));
        assert_eq!(done.evicted, 1);
        let now = Instant::now();
        assert!(
            s.get(&Key([1; 32]), now).is_some(),
            "another project's entry stays"
        );
        assert!(s.get(&Key([2; 32]), now).is_none());
        assert!(s.get(&Key([4; 32]), now).is_some());
    }

    #[test]
    fn expired_entries_are_not_served_and_are_freed() {
        let mut s = Store::new(1 << 20);
        s.insert(entry("p", 1, 10, Duration::ZERO), 0);
        assert!(s.get(&Key([1; 32]), Instant::now()).is_none());
        assert_eq!((s.len(), s.bytes()), (0, 0));
    }

    #[test]
    fn too_big_is_not_kept_and_replacing_keeps_the_count_right() {
        let mut s = Store::new(size("p", 100));
        assert!(!s.insert(entry("p", 1, 101, HOUR), 0).stored);
        assert!(s.insert(entry("p", 1, 100, HOUR), 0).stored);
        assert!(s.insert(entry("p", 1, 50, HOUR), 0).stored);
        assert_eq!((s.len(), s.bytes()), (1, size("p", 50)));
        assert!(!s.insert(entry("q", 2, 60, HOUR), size("q", 59)).stored);
    }

    #[test]
    fn a_sweep_drops_what_it_condemns_and_walks_each_entry_once() {
        let mut s = Store::new(1 << 20);
        for n in 1..=6 {
            s.insert(entry(if n % 2 == 0 { "a" } else { "b" }, n, 10, HOUR), 0);
        }
        assert_eq!((s.entries_of("a"), s.entries_of("b")), (3, 3));
        // Keys 2 and 6 are condemned, 4 is kept: a walk of two, then of one, sees all three.
        let stale = |e: &Entry| e.key.0[0] != 4;
        assert_eq!(s.sweep("a", 2, stale), (2, 1));
        assert_eq!(s.sweep("a", 1, stale), (1, 1));
        let now = Instant::now();
        assert!(s.get(&Key([4; 32]), now).is_some());
        assert!(s.get(&Key([2; 32]), now).is_none() && s.get(&Key([6; 32]), now).is_none());
        assert_eq!(s.sweep("a", 5, |_| true), (1, 1));
        assert_eq!(s.sweep("a", 5, |_| true), (0, 0), "nothing left to walk");
        assert_eq!((s.entries_of("a"), s.len()), (0, 3));
        assert_eq!(
            s.bytes(),
            3 * size("b", 10),
            "the other project is untouched"
        );
    }

    /// Random operations against a plain model: the bounds hold and both lists stay consistent.
    #[test]
    fn bounds_hold_under_random_operations() {
        let mut s = Store::new(20 * size("p0", 64));
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let now = Instant::now();
        for _ in 0..20_000 {
            let r = next();
            let project = format!("p{}", r % 3);
            let n = (r >> 8) as u8 % 64;
            if r % 5 == 0 {
                s.get(&Key([n; 32]), now);
            } else {
                let len = (r >> 16) as usize % 128;
                s.insert(entry(&project, n, len, HOUR), 8 * size("p0", 64));
            }
            assert!(s.bytes() <= 20 * size("p0", 64));
            for (p, list) in &s.projects {
                assert!(list.bytes <= 8 * size("p0", 64), "{p}");
            }
            let total: usize = s.projects.values().map(|l| l.bytes).sum();
            assert_eq!(total, s.bytes());
        }
        let mut walked = 0;
        let mut i = s.all.head;
        while i != NIL {
            walked += 1;
            i = s.nodes[i as usize].all.next;
        }
        assert_eq!(walked, s.len());
    }
}
