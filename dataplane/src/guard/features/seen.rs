//! Which features a block has seen: one number per table index, the last block the feature
//! occurred in (`Seen`), and the per-block sums over a block's distinct features
//! (`BlockSets::sums`), the data plane's hot loop.

use std::hint::select_unpredictable;

use super::BLOCK;

thread_local! {
    /// Where each feature last occurred, reused from text to text (a shard scores on one thread;
    /// `walk` falls back to a fresh one if it is ever entered twice).
    pub(super) static SEEN: std::cell::RefCell<Seen> = std::cell::RefCell::default();
}

/// The most feature occurrences a block has: three n-grams per byte, and a word and a pair
/// for every two bytes (a letter and a separator), plus one.
const MAX_BLOCK_FEATURES: usize = 3 * BLOCK + 2 * (BLOCK / 2 + 1);

/// The features of the current block and of the one before, as one number per index of the
/// table: the last block the feature occurred in. Blocks are numbered on from text to text, and
/// a text starts one number past the last text's end, so nothing carries over and nothing is
/// ever cleared (two bit sets cleared after every block cost an eighth of the time). When the
/// numbers run out, the block before keeps 1 and everything else goes back to 0.
#[derive(Default)]
pub(super) struct Seen {
    stamps: Vec<u16>,
    /// The current block's number (at least 2 once a text has started: 0 is "never", and the
    /// block before a text's first block is a number no feature has).
    pub(super) block: u16,
    /// The current block's feature occurrences: the first `count` of `MAX_BLOCK_FEATURES` slots.
    occurrences: Vec<u32>,
}

impl Seen {
    pub(super) fn reset(&mut self, bits: u32) {
        let size = 1usize << bits;
        if self.stamps.len() < size {
            self.stamps.resize(size, 0);
        }
        self.occurrences.resize(MAX_BLOCK_FEATURES, 0);
        self.advance();
    }

    /// The next block number, renumbering first when they run out.
    pub(super) fn advance(&mut self) {
        if self.block >= u16::MAX - 1 {
            let last = self.block;
            for s in &mut self.stamps {
                *s = u16::from(*s == last);
            }
            self.block = 1;
        }
        self.block += 1;
    }

    /// The next block's slots for its occurrences, to fill.
    pub(super) fn start_block(&mut self) -> &mut [u32] {
        self.advance();
        &mut self.occurrences
    }

    /// The current block's `count` occurrences, and where every feature last occurred.
    pub(super) fn block(&mut self, count: usize) -> (&[u32], BlockSets<'_>) {
        (
            self.occurrences.get(..count).unwrap_or(&[]),
            BlockSets {
                stamps: &mut self.stamps,
                block: self.block,
            },
        )
    }
}

/// Where every feature last occurred, seen from the current block.
pub(super) struct BlockSets<'s> {
    stamps: &'s mut [u16],
    block: u16,
}

impl BlockSets<'_> {
    /// This block's sum and count of distinct features, and of those the block before had.
    /// Out of line: inlined into `walk`, its loop lost its registers to the caller's.
    #[inline(never)]
    pub(super) fn sums(&mut self, occurrences: &[u32], table: &[i8]) -> [(i32, u32); 2] {
        let size = table.len();
        let (Some(stamps), true) = (self.stamps.get_mut(..size), size.is_power_of_two()) else {
            return [(0, 0); 2];
        };
        let mask = size - 1;
        let block = self.block;
        // Count and weight travel together in one i64 (count << 32, plus the weight), added
        // under masks: whether a feature is new or shared is not predictable, so no branch.
        let (mut all, mut shared) = (0i64, 0i64);
        for (k, &i) in occurrences.iter().enumerate() {
            // The tables are read at random: asking for a later feature's lines now overlaps
            // their fetches with this one's work (7 % of the time on an EPYC guest).
            if let Some(&next) = occurrences.get(k + PREFETCH_AHEAD) {
                let next = next as usize & mask;
                prefetch(stamps.as_ptr().wrapping_add(next));
                prefetch(table.as_ptr().wrapping_add(next));
            }
            let i = i as usize & mask;
            let last = std::mem::replace(&mut stamps[i], block);
            let d = block.wrapping_sub(last);
            let v = (1i64 << 32) + i64::from(table[i]);
            all += select_unpredictable(d != 0, v, 0);
            shared += select_unpredictable(d == 1, v, 0);
        }
        let split = |a: i64| {
            let count = (a + (1 << 31)) >> 32;
            ((a - (count << 32)) as i32, count as u32)
        };
        [split(all), split(shared)]
    }

    /// Put `index` in the current block's set: whether it is new there, and whether the block
    /// before had it.
    #[inline(always)]
    pub(super) fn mark(&mut self, index: usize) -> (bool, bool) {
        match self.stamps.get_mut(index) {
            Some(stamp) => {
                let last = std::mem::replace(stamp, self.block);
                (last != self.block, last == self.block.wrapping_sub(1))
            }
            None => (true, false),
        }
    }
}

/// How many features ahead `sums` asks for the table lines it will read.
const PREFETCH_AHEAD: usize = 12;

/// Ask the CPU to bring the cache line holding `at` closer; a hint only, so any address will do.
#[inline(always)]
#[allow(unsafe_code)]
fn prefetch<T>(at: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads nothing the program sees and never faults, whatever the address;
    // SSE, which it needs, is part of every x86-64 CPU.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(at.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}
