//! Values split across texts that the model reads as one: a card whose first half ends one
//! content part and whose second half starts the next (`"my card is 4111 1111"`,
//! `" 1111 1111"`), or a key cut between two tool results. Each text scanned alone holds no
//! value; the provider puts the parts side by side and the model reads the card. A retrieval
//! pipeline that chunks a page by size splits values this way without anyone meaning to.
//!
//! Texts from one source that follow one another are read joined at their seam: the last
//! [`REACH`] bytes of what came before (across any number of short texts) and the first
//! [`REACH`] bytes of the next, with nothing between them. A finding that starts before the seam
//! and ends after it is a split value. Its bytes are not in any one string of the body, so it
//! cannot be replaced there: a value the policy would redact refuses the request instead
//! (`apply.rs`), as a value in an encoded attachment does.
//!
//! An instruction is split the same way (`"Ignore all"`, `" previous"`, `" instructions"`): each
//! part scores as nothing to the injection model, so the joined text at each seam is scored too.
//!
//! Cost: one scan and one injection score of at most 2 × `REACH` bytes for each text that follows
//! one of its own source; a request of one text per source reads no seam.

use crate::extract::Source;

use super::super::custom::CustomScan;
use super::super::engine::{Engine, Finding, Scratch};
use super::super::pii::Plans;

/// How far from a seam a split value is looked for, each side: longer than any card, phone
/// number, IBAN, address or provider key.
const REACH: usize = 256;

/// The texts read so far, as far back as a split value can reach.
#[derive(Default)]
pub struct Seams {
    /// The source of the texts in `tail` (`None`: nothing to join the next text to).
    source: Option<Source>,
    /// The last `REACH` bytes (or a little less, to start on a character) of the texts of
    /// `source` read without a break.
    tail: String,
    /// The tail and the head of the next text, joined (empty: no seam at this text).
    joined: String,
    /// Built-in findings in `joined` that cross the seam.
    pub split: Vec<Finding>,
    /// Operator pattern findings in `joined` that cross the seam.
    pub split_own: Vec<Finding>,
}

impl Seams {
    /// Read `text` (from `source`) after the texts before it: fills `split` and `split_own` with
    /// the values that start before it and end in it, then takes it into the tail.
    pub fn read(
        &mut self,
        engine: &Engine,
        (scratch, phones): (&Scratch, Option<&Plans>),
        custom: Option<&CustomScan>,
        source: Source,
        text: &str,
    ) {
        self.split.clear();
        self.split_own.clear();
        self.joined.clear();
        if matches!(
            source,
            Source::Unread | Source::Attachment | Source::Definition
        ) {
            // An image, or a document sent encoded, breaks what the model reads as one text; the
            // fields of a tool definition (names, descriptions, property names) are shown as a
            // schema, each in its place, not side by side.
            self.source = None;
            self.tail.clear();
            return;
        }
        if self.source == Some(source) && !self.tail.is_empty() && !text.is_empty() {
            let seam = self.tail.len();
            let mut head = text.len().min(REACH);
            while !text.is_char_boundary(head) {
                head -= 1;
            }
            self.joined.push_str(&self.tail);
            self.joined.push_str(&text[..head]);
            let mut found = Vec::new();
            engine.scan_in(scratch, phones, self.joined.as_bytes(), &mut found);
            let crosses = |f: &Finding| f.start < seam && f.end > seam;
            self.split
                .extend(found.iter().filter(|f| crosses(f)).copied());
            if let Some(custom) = custom {
                let mut own = Vec::new();
                custom.scan(self.joined.as_bytes(), &found, &mut own);
                self.split_own
                    .extend(own.into_iter().filter(|f| crosses(f)));
            }
        }
        if self.source != Some(source) {
            self.tail.clear();
            self.source = Some(source);
        }
        self.tail.push_str(text);
        if self.tail.len() > REACH {
            let mut cut = self.tail.len() - REACH;
            while !self.tail.is_char_boundary(cut) {
                cut += 1;
            }
            self.tail.drain(..cut);
        }
    }

    /// A split value's bytes, as the model reads them.
    pub fn value(&self, f: &Finding) -> &[u8] {
        &self.joined.as_bytes()[f.start..f.end]
    }

    /// The text read across the seam before the last text, if it had one.
    pub fn joined(&self) -> Option<&str> {
        (!self.joined.is_empty()).then_some(self.joined.as_str())
    }
}
