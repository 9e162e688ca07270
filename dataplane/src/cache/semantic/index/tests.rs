//! The index on its own: partitions, generations, expiry and the bound's fair shares.

use super::*;

fn unit(seed: u64, dim: usize) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let v: Vec<f32> = (0..dim)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 2000) as f32 / 1000.0 - 1.0
        })
        .collect();
    let n = dot(&v, &v).sqrt();
    v.into_iter().map(|a| a / n).collect()
}

fn key(i: u64) -> Key {
    let mut k = [0u8; 32];
    k[..8].copy_from_slice(&i.to_le_bytes());
    Key(k)
}

const TTL: Duration = Duration::from_secs(60);

fn project() -> Arc<str> {
    Arc::from("p")
}

#[test]
fn finds_the_same_vector_in_its_partition_only() {
    let now = Instant::now();
    let mut index = Index::new(32, 10_000);
    let s = Salient::of("x");
    for i in 0..1000 {
        index.insert(
            &project(),
            [1; 32],
            &unit(i, 32),
            s.clone(),
            key(i),
            TTL,
            now,
        );
    }
    for i in [0, 1, 255, 256, 700, 999] {
        let found = index.find(&[1; 32], &unit(i, 32), &s, 0.99, now).unwrap();
        assert_eq!(found.key, key(i), "entry {i}");
        assert!(found.similarity > 0.999);
    }
    assert_eq!(index.find(&[2; 32], &unit(5, 32), &s, 0.5, now), None);
    // A different salient sequence is not the same question, however close.
    let other = Salient::of("x 7");
    assert_eq!(index.find(&[1; 32], &unit(5, 32), &other, 0.5, now), None);
    // Below the threshold: nothing.
    assert_eq!(index.find(&[1; 32], &unit(5000, 32), &s, 0.95, now), None);
}

#[test]
fn expired_entries_are_not_found_and_generations_roll() {
    let now = Instant::now();
    let mut index = Index::new(16, 100);
    let s = Salient::of("x");
    index.insert(
        &project(),
        [1; 32],
        &unit(1, 16),
        s.clone(),
        key(1),
        TTL,
        now,
    );
    let later = now + TTL + Duration::from_secs(1);
    assert_eq!(index.find(&[1; 32], &unit(1, 16), &s, 0.9, later), None);
    // The next insert after a TTL starts a generation; the one after that drops the first.
    index.insert(
        &project(),
        [1; 32],
        &unit(2, 16),
        s.clone(),
        key(2),
        TTL,
        later,
    );
    assert_eq!(index.len(), 2);
    let much_later = later + TTL + Duration::from_secs(1);
    index.insert(
        &project(),
        [1; 32],
        &unit(3, 16),
        s.clone(),
        key(3),
        TTL,
        much_later,
    );
    assert_eq!(index.len(), 2);
    assert_eq!(
        index
            .find(&[1; 32], &unit(3, 16), &s, 0.9, much_later)
            .map(|f| f.key),
        Some(key(3))
    );
}

#[test]
fn the_entry_bound_drops_least_recently_used_partitions() {
    let now = Instant::now();
    let mut index = Index::new(16, 10);
    let s = Salient::of("x");
    for p in 0..6u8 {
        for i in 0..2 {
            index.insert(
                &project(),
                [p; 32],
                &unit(u64::from(p) * 10 + i, 16),
                s.clone(),
                key(i),
                TTL,
                now,
            );
        }
    }
    assert!(index.len() <= 10, "{} entries", index.len());
    assert!(index.find(&[0; 32], &unit(0, 16), &s, 0.9, now).is_none());
    assert!(index.find(&[5; 32], &unit(50, 16), &s, 0.9, now).is_some());
    // One partition alone stays within the bound too.
    for i in 0..100 {
        index.insert(
            &project(),
            [9; 32],
            &unit(1000 + i, 16),
            s.clone(),
            key(i),
            TTL,
            now,
        );
    }
    assert!(index.len() <= 10, "{} entries", index.len());
}

/// Five entries of `project`, one per partition `[0; 32]` to `[4; 32]`.
fn quiet_five(index: &mut Index, project: &Arc<str>, now: Instant) {
    for i in 0..5u8 {
        let (v, k) = (unit(u64::from(i), 16), key(u64::from(i)));
        index.insert(project, [i; 32], &v, Salient::of("x"), k, TTL, now);
    }
}

#[test]
fn a_busy_project_evicts_its_own_partitions_before_a_quiet_one_loses_any() {
    let now = Instant::now();
    let mut index = Index::new(16, 40);
    let s = Salient::of("x");
    let (quiet, busy): (Arc<str>, Arc<str>) = (Arc::from("quiet"), Arc::from("busy"));
    quiet_five(&mut index, &quiet, now);
    // The busy project writes 300 entries over 60 partitions, all used more recently than
    // the quiet project's.
    for i in 0..300u64 {
        let p = [100 + (i % 60) as u8; 32];
        index.insert(&busy, p, &unit(1000 + i, 16), s.clone(), key(i), TTL, now);
    }
    assert!(index.len() <= 40, "{} entries", index.len());
    assert_eq!(index.entries_of("quiet"), 5);
    assert_eq!(index.entries_of("busy"), index.len() - 5);
    for i in 0..5u8 {
        let found = index.find(&[i; 32], &unit(u64::from(i), 16), &s, 0.99, now);
        assert_eq!(
            found.map(|f| f.key),
            Some(key(u64::from(i))),
            "quiet entry {i}"
        );
    }
    // Once the quiet project holds the most, its least recently used partition goes first.
    let mut small = Index::new(16, 6);
    quiet_five(&mut small, &quiet, now);
    small.insert(&busy, [200; 32], &unit(7, 16), s.clone(), key(7), TTL, now);
    small.insert(&busy, [201; 32], &unit(8, 16), s.clone(), key(8), TTL, now);
    assert_eq!(
        (small.entries_of("quiet"), small.entries_of("busy")),
        (4, 2)
    );
    assert!(small.find(&[0; 32], &unit(0, 16), &s, 0.99, now).is_none());
}

#[test]
fn a_forgotten_project_loses_every_partition_and_no_other_does() {
    let now = Instant::now();
    let mut index = Index::new(8, 1_000);
    let s = Salient::of("x");
    let other: Arc<str> = Arc::from("q");
    for i in 0..30u64 {
        let partition = [(i % 3) as u8; 32];
        index.insert(
            &project(),
            partition,
            &unit(i, 8),
            s.clone(),
            key(i),
            TTL,
            now,
        );
    }
    index.insert(&other, [9; 32], &unit(99, 8), s.clone(), key(99), TTL, now);
    assert_eq!((index.len(), index.partitions()), (31, 4));
    assert_eq!(index.forget("p"), 30);
    assert_eq!((index.len(), index.partitions()), (1, 1));
    assert_eq!(index.entries_of("p"), 0);
    assert_eq!(index.find(&[0; 32], &unit(0, 8), &s, 0.99, now), None);
    assert!(index.find(&[9; 32], &unit(99, 8), &s, 0.99, now).is_some());
    assert_eq!(index.forget("p"), 0, "nothing left to forget");
}
