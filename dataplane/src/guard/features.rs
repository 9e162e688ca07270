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
mod seen;

use icu_normalizer::ComposingNormalizerBorrowed;
use lexicon::{canonical, word_hash_at};
use seen::{BlockSets, Seen, SEEN};

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

/// Which sizes of byte n-grams a model uses: bit `n` for n-grams of `n` bytes (3, 4 and 5
/// exist). Models before version 2 use all three; fewer sizes, fewer features to hash and sum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grams(u8);

impl Grams {
    pub const ALL: Grams = Grams(0b11_1000);

    /// From a model file's bit mask: `None` if it names a size that does not exist.
    pub fn from_mask(mask: u32) -> Option<Grams> {
        (mask & !u32::from(Grams::ALL.0) == 0).then_some(Grams(mask as u8))
    }

    /// From a list such as `3,4,5` or `4` (empty: no byte n-grams).
    pub fn parse(list: &str) -> Option<Grams> {
        let mut mask = 0u32;
        for size in list.split(',').filter(|s| !s.is_empty()) {
            mask |= 1
                << size
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (3..=5).contains(n))?;
        }
        Grams::from_mask(mask)
    }

    pub fn mask(self) -> u32 {
        u32::from(self.0)
    }

    fn has(self, size: usize) -> bool {
        size < 8 && self.0 & (1 << size) != 0
    }
}

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
        let src = text.as_bytes();
        let mut bytes = Vec::with_capacity(src.len() + 8);
        let mut space = true;
        let mut at = 0;
        while at < src.len() {
            // A run of ASCII bytes, then one character outside ASCII.
            let run = src[at..]
                .iter()
                .position(|c| !c.is_ascii())
                .map_or(src.len(), |k| at + k);
            push_ascii(&src[at..run], &mut bytes, &mut space);
            at = run;
            if let Some(c) = text.get(at..).and_then(|rest| rest.chars().next()) {
                at += c.len_utf8();
                for l in c.to_lowercase() {
                    push_char(l, &mut bytes, &mut space);
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
    pub fn each(&self, bits: u32, grams: Grams, mut f: impl FnMut(usize, usize)) {
        self.walk(bits, grams, |block, occurrences, sets| {
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
    pub fn window_sums(&self, table: &[i8], bits: u32, grams: Grams) -> Vec<(i32, u32)> {
        // Per block: the sum and count of its features, and of those the block before has too.
        let mut blocks: Vec<[(i32, u32); 2]> = Vec::with_capacity(self.len.div_ceil(BLOCK));
        let size = 1usize << bits;
        let table = table.get(..size).unwrap_or(&[]);
        self.walk(bits, grams, |_, occurrences, sets| {
            blocks.push(sets.sums(occurrences, table));
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
    fn walk(&self, bits: u32, grams: Grams, f: impl FnMut(usize, &[u32], &mut BlockSets<'_>)) {
        SEEN.with(|seen| match seen.try_borrow_mut() {
            Ok(mut seen) => self.walk_with(bits, grams, f, &mut seen),
            Err(_) => self.walk_with(bits, grams, f, &mut Seen::default()),
        })
    }

    #[inline(always)]
    fn walk_with(
        &self,
        bits: u32,
        grams: Grams,
        mut f: impl FnMut(usize, &[u32], &mut BlockSets<'_>),
        seen: &mut Seen,
    ) {
        let shift = 64 - bits;
        // The n-gram sizes in use, as (mask, seed), and how many.
        let mut kinds = [(0u64, 0u64); 3];
        let mut k = 0;
        for (size, seed) in SEED_CHAR.iter().enumerate().filter(|(n, _)| grams.has(*n)) {
            if let Some(slot) = kinds.get_mut(k) {
                *slot = ((1u64 << (8 * size)) - 1, *seed);
                k += 1;
            }
        }
        let kinds = &kinds[..k];
        let index = |h: u64| (h.wrapping_mul(0x9fb2_1c65_1e98_df25) >> shift) as u32;
        seen.reset(bits);
        let b = &self.bytes;
        let mut words = Words {
            text: self.as_str(),
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
            // Byte n-grams (of the sizes in use) starting on a character boundary. The positions
            // whose n-grams all fit are done in bulk, without a check per feature; the last four
            // bytes of the text after them, one by one.
            let bulk_end = hi.min(self.len.saturating_sub(4)).max(lo);
            if let (true, Some(dst), Some(src)) = (
                k > 0,
                buf.get_mut(..k * (bulk_end - lo) + k),
                b.get(lo..bulk_end + 7),
            ) {
                let ascii = self.ascii || src[..bulk_end - lo].is_ascii();
                if grams == Grams::ALL && ascii {
                    // Every byte starts a character: three slots a position.
                    for (slot, w) in dst.chunks_exact_mut(3).zip(src.windows(8)) {
                        let word =
                            u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
                        slot[0] = index((word & 0xff_ffff) ^ SEED_CHAR[3]);
                        slot[1] = index((word & 0xffff_ffff) ^ SEED_CHAR[4]);
                        slot[2] = index((word & 0xff_ffff_ffff) ^ SEED_CHAR[5]);
                    }
                    n = 3 * (bulk_end - lo);
                } else if let ([(mask, seed)], true) = (kinds, ascii) {
                    // One size: one slot a position.
                    for (slot, w) in dst.iter_mut().zip(src.windows(8)) {
                        let word =
                            u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
                        *slot = index((word & mask) ^ seed);
                    }
                    n = bulk_end - lo;
                } else {
                    // Written at every position, kept where a character starts.
                    for w in src.windows(8) {
                        let word =
                            u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
                        if let Some(slot) = dst.get_mut(n..n + k) {
                            for (s, (mask, seed)) in slot.iter_mut().zip(kinds) {
                                *s = index((word & mask) ^ seed);
                            }
                        }
                        n += k * usize::from(w[0] & 0xc0 != 0x80);
                    }
                }
            }
            let mut out = |i: u32| {
                if let Some(slot) = buf.get_mut(n) {
                    *slot = i;
                    n += 1;
                }
            };
            for p in bulk_end..hi {
                if b[p] & 0xc0 == 0x80 {
                    continue;
                }
                let word = u64::from_le_bytes(b[p..p + 8].try_into().unwrap_or([0; 8]));
                for (mask, seed) in kinds {
                    if p + (mask.count_ones() / 8) as usize > self.len {
                        break;
                    }
                    out(index((word & mask) ^ seed));
                }
            }
            // Words and word pairs: runs of letters and digits that start in this block.
            while let Some((start, end)) = words.peek() {
                if start >= hi {
                    break;
                }
                words.ahead = None;
                let h = canonical(word_hash_at(b, start, end));
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

    /// The next run of letters and digits at or after `from`: its start and end. Bytes below
    /// 0x80 are looked at as bytes; a character is decoded only where one starts above it.
    fn after(&self, from: usize) -> Option<(usize, usize)> {
        let start = self.skip(from, false)?;
        Some((start, self.skip(start, true).unwrap_or(self.text.len())))
    }

    /// The first position at or after `from` where a character is (`inside`: is not) a letter
    /// or digit; `None` at the end of the text.
    #[inline(always)]
    fn skip(&self, from: usize, inside: bool) -> Option<usize> {
        let bytes = self.text.as_bytes();
        let mut at = from;
        loop {
            let c = *bytes.get(at)?;
            if c < 0x80 {
                if c.is_ascii_alphanumeric() != inside {
                    return Some(at);
                }
                at += 1;
            } else {
                let ch = self.text.get(at..)?.chars().next()?;
                if ch.is_alphanumeric() != inside {
                    return Some(at);
                }
                at += ch.len_utf8();
            }
        }
    }
}

/// Append ASCII bytes lower-cased, whitespace and control characters (the bytes up to the
/// space, and DEL) as one space a run. Sixteen bytes at a time where no two blanks meet (most
/// prose: one space between words), byte by byte where they do.
fn push_ascii(src: &[u8], bytes: &mut Vec<u8>, space: &mut bool) {
    let start = bytes.len();
    bytes.resize(start + src.len(), 0);
    let dst = &mut bytes[start..];
    let (mut n, mut was_blank) = (0usize, *space);
    let blank = |c: u8| c <= b' ' || c == 0x7f;
    let one = |c: u8, dst: &mut [u8], n: &mut usize, was_blank: &mut bool| {
        let b = blank(c);
        if let Some(slot) = dst.get_mut(*n) {
            *slot = if b { b' ' } else { c.to_ascii_lowercase() };
        }
        *n += usize::from(!(b && *was_blank));
        *was_blank = b;
    };
    let mut chunks = src.chunks_exact(16);
    for chunk in &mut chunks {
        let mut out = [0u8; 16];
        let mut blanks = [false; 16];
        for ((o, b), &c) in out.iter_mut().zip(blanks.iter_mut()).zip(chunk) {
            *b = blank(c);
            *o = if *b { b' ' } else { c.to_ascii_lowercase() };
        }
        let mut meet = was_blank & blanks[0];
        for k in 1..16 {
            meet |= blanks[k] & blanks[k - 1];
        }
        if meet {
            for &c in chunk {
                one(c, dst, &mut n, &mut was_blank);
            }
        } else if let Some(slot) = dst.get_mut(n..n + 16) {
            slot.copy_from_slice(&out);
            n += 16;
            was_blank = blanks[15];
        }
    }
    for &c in chunks.remainder() {
        one(c, dst, &mut n, &mut was_blank);
    }
    bytes.truncate(start + n);
    *space = was_blank;
}

/// Append one character outside ASCII (already lower case): whitespace and control characters as
/// a space (one a run), zero-width characters not at all.
fn push_char(c: char, bytes: &mut Vec<u8>, space: &mut bool) {
    if c.is_whitespace() || c.is_control() {
        if !*space {
            bytes.push(b' ');
            *space = true;
        }
    } else if !zero_width(c) {
        *space = false;
        let mut buf = [0u8; 4];
        bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
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
