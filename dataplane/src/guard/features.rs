//! Hashed text features for the learned classifiers: one pass over a normalised copy of the text
//! (NFKC, lower case, whitespace collapsed, zero-width characters gone) yields word unigrams and
//! bigrams — words in German, French, Spanish and Italian that carry instructions mapped onto
//! their English counterpart first (`lexicon`) — and byte 3-, 4- and 5-grams that start on a
//! character boundary. Each feature is an index into a table of `2^bits` weights.
//!
//! Features are reported with the 256-byte block of the normalised text they start in, so a long
//! text (a retrieved document with one injected paragraph) is scored window by window, not
//! drowned by its benign bulk; each distinct feature is reported once per block, and a window
//! (two blocks) counts a feature both blocks have once, so a phrase said ten times weighs what it
//! weighs said once. The training script reads the same features through
//! `warden-dataplane guard features`, so there is one implementation of all this.

mod lexicon;

use icu_normalizer::ComposingNormalizerBorrowed;
use lexicon::{canonical, word_hash};

/// Bytes per block; a window is two consecutive blocks.
pub const BLOCK: usize = 256;

/// Seeds that keep the feature kinds apart in the one table.
const SEED_WORD: u64 = 0x9e37_79b9_7f4a_7c15;
const SEED_BIGRAM: u64 = 0xc2b2_ae3d_27d4_eb4f;
const SEED_CHAR: [u64; 6] = [
    0,
    0,
    0,
    0x1656_67b1_9e37_79f9,
    0x27d4_eb2f_1656_67c5,
    0x85eb_ca77_c2b2_ae63,
];

/// A text made ready for featurising: lower case, NFKC, single spaces, eight bytes of padding.
pub struct Normalised {
    bytes: Vec<u8>,
    len: usize,
    ascii: bool,
}

impl Normalised {
    pub fn of(text: &str) -> Normalised {
        let nfkc;
        let text = if text.is_ascii() {
            text
        } else {
            nfkc = ComposingNormalizerBorrowed::new_nfkc().normalize(text);
            &nfkc
        };
        let mut bytes = Vec::with_capacity(text.len() + 8);
        if text.is_ascii() {
            // Whitespace and control characters are the bytes up to the space, and DEL; a run
            // becomes one space. Written in place: one pass, no branch on most bytes.
            let src = text.as_bytes();
            bytes.resize(src.len(), 0);
            let (mut n, mut space) = (0usize, true);
            for &c in src {
                let blank = c <= b' ' || c == 0x7f;
                if let Some(slot) = bytes.get_mut(n) {
                    *slot = if blank { b' ' } else { c.to_ascii_lowercase() };
                }
                n += usize::from(!(blank && space));
                space = blank;
            }
            bytes.truncate(n);
            return Normalised::finish(bytes);
        }
        let mut space = true;
        let mut push = |c: char, bytes: &mut Vec<u8>| {
            if c.is_whitespace() || c.is_control() {
                if !space {
                    bytes.push(b' ');
                    space = true;
                }
            } else if !zero_width(c) {
                space = false;
                let mut buf = [0u8; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        };
        for c in text.chars() {
            if c.is_ascii() {
                push(c.to_ascii_lowercase(), &mut bytes);
            } else {
                for l in c.to_lowercase() {
                    push(l, &mut bytes);
                }
            }
        }
        Normalised::finish(bytes)
    }

    fn finish(mut bytes: Vec<u8>) -> Normalised {
        if bytes.last() == Some(&b' ') {
            bytes.pop();
        }
        let len = bytes.len();
        let ascii = bytes.is_ascii();
        bytes.extend_from_slice(&[0u8; 8]);
        Normalised { bytes, len, ascii }
    }

    pub fn as_str(&self) -> &str {
        // Built from whole characters only.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Call `f(block, index)` for every distinct feature of every block, `index < 2^bits` (the
    /// training script's view).
    pub fn each(&self, bits: u32, mut f: impl FnMut(usize, usize)) {
        self.walk(bits, |block, occurrences, sets| {
            for &i in occurrences {
                if sets.mark(i as usize).0 {
                    f(block, i as usize);
                }
            }
        });
    }

    /// Each window's sum of `table[index]` over its distinct features, and their number — the
    /// data plane's view (`table.len()` is `2^bits`). A window is two consecutive blocks (one,
    /// for a text of one block): the union of what `each` reports for them.
    pub fn window_sums(&self, table: &[i8], bits: u32) -> Vec<(i32, u32)> {
        // Per block: the sum and count of its features, and of those the block before has too.
        let mut blocks: Vec<[(i32, u32); 2]> = Vec::with_capacity(self.len.div_ceil(BLOCK));
        self.walk(bits, |_, occurrences, sets| {
            // Local sums, added without a branch (`new` and `shared` as 0 or 1).
            let (mut sum, mut count, mut shared_sum, mut shared_count) = (0i32, 0u32, 0i32, 0u32);
            for &i in occurrences {
                let (new, shared) = sets.mark(i as usize);
                let w = i32::from(table.get(i as usize).copied().unwrap_or(0));
                let (n, s) = (u32::from(new), u32::from(new & shared));
                sum += w * n as i32;
                count += n;
                shared_sum += w * s as i32;
                shared_count += s;
            }
            blocks.push([(sum, count), (shared_sum, shared_count)]);
        });
        if blocks.len() <= 1 {
            return blocks.iter().map(|b| b[0]).collect();
        }
        blocks
            .windows(2)
            .map(|p| {
                let (a, b, shared) = (p[0][0], p[1][0], p[1][1]);
                (a.0 + b.0 - shared.0, a.1 + b.1 - shared.1)
            })
            .collect()
    }

    /// Block by block, collect every feature occurrence — its byte n-grams, then the words (and
    /// word pairs) that start in it — and call `f(block, occurrences, sets)`, where
    /// `sets.mark(index)` tells the first occurrence of a feature in the block from the others,
    /// and whether the block before had it. A feature that occurs twice in a block counts once,
    /// so repeating a phrase does not make a text look more like the phrase's class.
    #[inline(always)]
    fn walk(&self, bits: u32, f: impl FnMut(usize, &[u32], &mut BlockSets<'_>)) {
        SEEN.with(|seen| match seen.try_borrow_mut() {
            Ok(mut seen) => self.walk_with(bits, f, &mut seen),
            Err(_) => self.walk_with(bits, f, &mut Seen::default()),
        })
    }

    #[inline(always)]
    fn walk_with(
        &self,
        bits: u32,
        mut f: impl FnMut(usize, &[u32], &mut BlockSets<'_>),
        seen: &mut Seen,
    ) {
        let shift = 64 - bits;
        let index = |h: u64| (h.wrapping_mul(0x9fb2_1c65_1e98_df25) >> shift) as u32;
        seen.reset(bits);
        let b = &self.bytes;
        let mut words = Words {
            text: self.as_str(),
            ascii: self.ascii,
            next: 0,
            ahead: None,
            prev: None,
        };
        for block in 0..self.len.div_ceil(BLOCK) {
            let (lo, hi) = (block * BLOCK, ((block + 1) * BLOCK).min(self.len));
            // Written through a local slice and count: a `Vec::push` here kept its length in
            // memory, one store-to-load chain per feature (2.5x the time).
            let buf = seen.start_block();
            let mut n = 0usize;
            let mut out = |i: u32| {
                if let Some(slot) = buf.get_mut(n) {
                    *slot = i;
                    n += 1;
                }
            };
            // Byte n-grams starting on a character boundary.
            for p in lo..hi {
                if b[p] & 0xc0 == 0x80 {
                    continue;
                }
                let word = u64::from_le_bytes(b[p..p + 8].try_into().unwrap_or([0; 8]));
                if p + 5 <= self.len {
                    out(index((word & 0xff_ffff) ^ SEED_CHAR[3]));
                    out(index((word & 0xffff_ffff) ^ SEED_CHAR[4]));
                    out(index((word & 0xff_ffff_ffff) ^ SEED_CHAR[5]));
                } else {
                    for (n, seed) in SEED_CHAR.iter().enumerate().skip(3) {
                        if p + n > self.len {
                            break;
                        }
                        let mask = (1u64 << (8 * n)) - 1;
                        out(index((word & mask) ^ seed));
                    }
                }
            }
            // Words and word pairs: runs of letters and digits that start in this block.
            while let Some((start, end)) = words.peek() {
                if start >= hi {
                    break;
                }
                words.ahead = None;
                let h = canonical(word_hash(&b[start..end]));
                out(index(h ^ SEED_WORD));
                if let Some(p) = words.prev {
                    out(index(p.rotate_left(17) ^ h ^ SEED_BIGRAM));
                }
                words.prev = Some(h);
            }
            let (occurrences, mut sets) = seen.block(n);
            f(block, occurrences, &mut sets);
        }
    }
}

/// Where the word scanner stands: the next byte to look at, the word found but not yet reported
/// (it starts in a later block), and the last reported word's hash (for pairs).
struct Words<'t> {
    text: &'t str,
    ascii: bool,
    next: usize,
    ahead: Option<(usize, usize)>,
    prev: Option<u64>,
}

impl Words<'_> {
    fn peek(&mut self) -> Option<(usize, usize)> {
        if self.ahead.is_none() {
            self.ahead = self.after(self.next);
            if let Some((_, end)) = self.ahead {
                self.next = end;
            }
        }
        self.ahead
    }

    /// The next run of letters and digits at or after `from`: its start and end.
    fn after(&self, from: usize) -> Option<(usize, usize)> {
        if self.ascii {
            let text = self.text.as_bytes();
            let start = from
                + text
                    .get(from..)?
                    .iter()
                    .position(u8::is_ascii_alphanumeric)?;
            let end = text[start..]
                .iter()
                .position(|c| !c.is_ascii_alphanumeric())
                .map_or(text.len(), |n| start + n);
            return Some((start, end));
        }
        let rest = self.text.get(from..)?;
        let (s, _) = rest.char_indices().find(|(_, c)| c.is_alphanumeric())?;
        let end = rest[s..]
            .char_indices()
            .find(|(_, c)| !c.is_alphanumeric())
            .map_or(rest.len(), |(n, _)| s + n);
        Some((from + s, from + end))
    }
}

thread_local! {
    /// Where each feature last occurred, reused from text to text (a shard scores on one thread;
    /// `walk` falls back to a fresh one if it is ever entered twice).
    static SEEN: std::cell::RefCell<Seen> = std::cell::RefCell::default();
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
struct Seen {
    stamps: Vec<u16>,
    /// The current block's number (at least 2 once a text has started: 0 is "never", and the
    /// block before a text's first block is a number no feature has).
    block: u16,
    /// The current block's feature occurrences: the first `count` of `MAX_BLOCK_FEATURES` slots.
    occurrences: Vec<u32>,
}

impl Seen {
    fn reset(&mut self, bits: u32) {
        let size = 1usize << bits;
        if self.stamps.len() < size {
            self.stamps.resize(size, 0);
        }
        self.occurrences.resize(MAX_BLOCK_FEATURES, 0);
        self.advance();
    }

    /// The next block number, renumbering first when they run out.
    fn advance(&mut self) {
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
    fn start_block(&mut self) -> &mut [u32] {
        self.advance();
        &mut self.occurrences
    }

    /// The current block's `count` occurrences, and where every feature last occurred.
    fn block(&mut self, count: usize) -> (&[u32], BlockSets<'_>) {
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
struct BlockSets<'s> {
    stamps: &'s mut [u16],
    block: u16,
}

impl BlockSets<'_> {
    /// Put `index` in the current block's set: whether it is new there, and whether the block
    /// before had it.
    #[inline(always)]
    fn mark(&mut self, index: usize) -> (bool, bool) {
        match self.stamps.get_mut(index) {
            Some(stamp) => {
                let last = std::mem::replace(stamp, self.block);
                (last != self.block, last == self.block.wrapping_sub(1))
            }
            None => (true, false),
        }
    }
}

fn zero_width(c: char) -> bool {
    matches!(
        c,
        '\u{200b}'..='\u{200f}' | '\u{2060}'..='\u{2064}' | '\u{feff}' | '\u{00ad}' | '\u{034f}'
    )
}

#[cfg(test)]
mod tests;
