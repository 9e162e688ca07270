//! Values split across texts that the model reads as one: a card whose first half ends one
//! content part and whose second half starts the next (`"my card is 4111 1111"`,
//! `" 1111 1111"`), or a key cut between two tool results. Each text scanned alone holds no
//! value; the provider puts the parts side by side and the model reads the card. A retrieval
//! pipeline that chunks a page by size splits values this way without anyone meaning to. An
//! instruction is split the same way (`"Ignore all"`, `" previous"`, `" instructions"`): each part
//! scores as nothing to the injection model.
//!
//! Texts from one source that follow one another make a run, joined with nothing between them.
//! Around each seam of a run, [`REACH`] bytes each side are read again (windows that overlap are
//! read as one): a finding that starts before a seam and ends after it is a split value, unless
//! a text read alone holds a value of the same kind that it overlaps — joined, `"scores"` and
//! `"jane@example.com"` read as `scoresjane@example.com`, an address found whole in its own text
//! and replaced there, with a neighbour's letters run on. (A card whose second half reads alone as
//! a phone number is still a split card.) Each window is scored for injection. A split value's bytes are not in any one string of the body,
//! so it cannot be replaced there: a value the policy would redact refuses the request instead
//! (`apply.rs`), as a value in an encoded attachment does.
//!
//! Cost: at most 2 × `REACH` bytes of each text of a run are copied and read once more, however
//! many parts it is cut into (a run is read and cut back to its last `REACH` bytes every [`RUN`]
//! bytes, so its copy stays bounded too); a request of one text per source reads no seam.

use std::ops::Range;

use warden_shared::snapshot::GuardrailPolicy;

use super::{action_for, score_injection, seal, take, Placeholders, Plan, Sealed};
use crate::extract::Source;
use crate::guard::custom::CustomScan;
use crate::guard::engine::{Engine, Finding, Scratch};
use crate::guard::pii::Plans;
use crate::guard::Category;

/// How far from a seam a split value is looked for, each side: longer than any card, phone
/// number, IBAN, address or provider key.
const REACH: usize = 256;

/// A run is read, and cut back to its tail, once it holds this many bytes.
const RUN: usize = 64 * 1024;

/// What stands between the first and the last `REACH` bytes of a long text in a run.
const GAP: &str = "\n\n";

/// What the reading of a run's seams hands its caller, with the run's source.
pub enum Seam<'a> {
    /// The text around one or more seams, to score for injection.
    Window(&'a str),
    /// A value that crosses a seam: a built-in detector's finding (`own`: an operator pattern's;
    /// either way `finding.detector` indexes that set) and its bytes as the model reads them.
    Value {
        finding: Finding,
        own: bool,
        value: &'a [u8],
    },
}

/// The detectors a run is read with.
pub struct Readers<'e> {
    pub engine: &'e Engine,
    pub scratch: &'e Scratch,
    pub phones: Option<&'e Plans>,
    pub custom: Option<&'e CustomScan>,
}

/// The run being read.
#[derive(Default)]
pub struct Seams {
    /// The source of the texts in `run` (`None`: no run).
    source: Option<Source>,
    /// The run's texts, joined.
    run: String,
    /// Where each of the run's seams is in `run`.
    seams: Vec<usize>,
    /// The values found in the run's texts, each read alone: where they are in `run`, and their
    /// detector (`true`: an operator pattern's).
    found: Vec<(Range<usize>, usize, bool)>,
}

impl Seams {
    /// Take `text` (from `source`; `found`: the values in it, read alone, by the built-in
    /// detectors and by operator patterns) into the run, first reading the run it ends, if it ends
    /// one.
    pub fn read(
        &mut self,
        readers: &Readers<'_>,
        (source, text, found): (Source, &str, (&[Finding], &[Finding])),
        out: &mut dyn FnMut(Source, Seam<'_>),
    ) {
        // An image, or a document sent encoded, breaks what the model reads as one text; the
        // fields of a tool definition (names, descriptions, property names) are shown as a schema,
        // each in its place, not side by side.
        let joins = !matches!(
            source,
            Source::Unread | Source::Attachment | Source::Definition
        );
        if self.source != Some(source) || !joins {
            self.finish(readers, out);
        }
        if !joins || text.is_empty() {
            return;
        }
        self.source = Some(source);
        let at = self.run.len();
        if at > 0 {
            self.seams.push(at);
        }
        // Only a text's first and last REACH bytes can be in a window: a longer one is kept as
        // those two, apart (no window reaches the gap between them), and its middle not copied.
        let (head, tail) = if text.len() > 2 * REACH + GAP.len() {
            (ceil_char(text, REACH), floor_char(text, text.len() - REACH))
        } else {
            (text.len(), text.len())
        };
        self.run.push_str(&text[..head]);
        self.keep_found(found, 0..head, at);
        if tail < text.len() {
            self.run.push_str(GAP);
            let at = self.run.len();
            self.run.push_str(&text[tail..]);
            self.keep_found(found, tail..text.len(), at);
        }
        if self.run.len() >= RUN {
            self.read_seams(readers, out);
            // Keep the tail, for a value that crosses the next seam.
            let cut = ceil_char(&self.run, self.run.len().saturating_sub(REACH));
            self.run.drain(..cut);
            self.seams.clear();
            self.found.retain_mut(|(f, _, _)| {
                (f.start, f.end) = (f.start.saturating_sub(cut), f.end.saturating_sub(cut));
                f.end > 0
            });
        }
    }

    /// Keep where the values found in the part `kept` of a text are, once that part is in the run
    /// from `at` on.
    fn keep_found(&mut self, found: (&[Finding], &[Finding]), kept: Range<usize>, at: usize) {
        for (set, own) in [(found.0, false), (found.1, true)] {
            for f in set
                .iter()
                .filter(|f| f.start < kept.end && kept.start < f.end)
            {
                let (start, end) = (f.start.max(kept.start), f.end.min(kept.end));
                let span = at + start - kept.start..at + end - kept.start;
                self.found.push((span, f.detector, own));
            }
        }
    }

    /// Read the run's seams and end it.
    pub fn finish(&mut self, readers: &Readers<'_>, out: &mut dyn FnMut(Source, Seam<'_>)) {
        self.read_seams(readers, out);
        self.run.clear();
        self.seams.clear();
        self.found.clear();
        self.source = None;
    }

    fn read_seams(&self, readers: &Readers<'_>, out: &mut dyn FnMut(Source, Seam<'_>)) {
        let Some(source) = self.source else { return };
        let mut found = Vec::new();
        let mut own = Vec::new();
        for window in self.windows() {
            let text = &self.run[window.clone()];
            let seams: Vec<usize> = self
                .seams
                .iter()
                .filter(|s| window.contains(s))
                .map(|s| s - window.start)
                .collect();
            // Across a seam, and not a value found in one text with its neighbour's bytes run on.
            let crosses = |f: &Finding, own: bool| {
                let (start, end) = (window.start + f.start, window.start + f.end);
                seams.iter().any(|&s| f.start < s && s < f.end)
                    && !self.found.iter().any(|(v, detector, by_pattern)| {
                        (*detector, *by_pattern) == (f.detector, own)
                            && v.start < end
                            && start < v.end
                    })
            };
            found.clear();
            readers
                .engine
                .scan_in(readers.scratch, readers.phones, text.as_bytes(), &mut found);
            for f in found.iter().filter(|f| crosses(f, false)) {
                let value = &text.as_bytes()[f.start..f.end];
                out(
                    source,
                    Seam::Value {
                        finding: *f,
                        own: false,
                        value,
                    },
                );
            }
            if let Some(custom) = readers.custom {
                own.clear();
                custom.scan(text.as_bytes(), &found, &mut own);
                for f in own.iter().filter(|f| crosses(f, true)) {
                    let value = &text.as_bytes()[f.start..f.end];
                    out(
                        source,
                        Seam::Value {
                            finding: *f,
                            own: true,
                            value,
                        },
                    );
                }
            }
            out(source, Seam::Window(text));
        }
    }

    /// `REACH` bytes each side of each seam (on character boundaries), windows that meet merged.
    fn windows(&self) -> Vec<Range<usize>> {
        let mut windows: Vec<Range<usize>> = Vec::new();
        for &seam in &self.seams {
            let start = floor_char(&self.run, seam.saturating_sub(REACH));
            let end = ceil_char(&self.run, (seam + REACH).min(self.run.len()));
            match windows.last_mut() {
                Some(last) if start <= last.end => last.end = end,
                _ => windows.push(start..end),
            }
        }
        windows
    }
}

/// Apply the policy to what the reading of a run's seams found: a window's injection score, a
/// value split across a seam (redact and restore refuse the request: no placeholder can stand
/// for it).
pub fn apply(
    (plan, placeholders, restored): (&mut Plan, &mut Placeholders, &mut Vec<Vec<u8>>),
    (policy, custom): (&GuardrailPolicy, Option<&CustomScan>),
    source: Source,
    seam: Seam<'_>,
) {
    match seam {
        Seam::Window(text) => score_injection(plan, policy, source, text),
        Seam::Value {
            finding,
            own: false,
            value,
        } => {
            let d = finding.detector();
            if d.category.located() {
                let action = seal(plan, Sealed::Split, action_for(policy, d.category));
                let found = (d.category, d.id, value, d.placeholder);
                take(plan, placeholders, restored, found, action);
            }
        }
        Seam::Value {
            finding,
            own: true,
            value,
        } => {
            if let Some(custom) = custom {
                let (p, kind) = custom.pattern(finding.detector);
                let action = seal(plan, Sealed::Split, p.action);
                let found = (Category::Custom, p.id.as_str(), value, kind);
                take(plan, placeholders, restored, found, action);
            }
        }
    }
}

/// The first character boundary of `text` at or after `i`.
fn ceil_char(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// The last character boundary of `text` at or before `i`.
fn floor_char(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}
