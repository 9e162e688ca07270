//! A project's operator-defined detectors, compiled once per snapshot off the shards (see
//! `warden_shared::patterns`) and scanned after the built-in ones. Their findings are kept apart
//! from the built-in table: a `Finding`'s detector index here is the pattern's index in the set.
//! Where a custom value overlaps a built-in one, the built-in finding wins (it has a validator).

use std::rc::Rc;
use std::sync::Arc;

use hyperscan::prelude::*;
use warden_shared::snapshot::{CustomPattern, Snapshot};

use super::engine::Finding;

pub struct CustomSet {
    db: BlockDatabase,
    pub patterns: Vec<CustomPattern>,
    /// `EMPLOYEE_ID` for `employee_id`, per pattern.
    pub placeholders: Vec<String>,
}

impl CustomSet {
    /// Whether any pattern acts on responses.
    pub fn checks_responses(&self) -> bool {
        self.patterns
            .iter()
            .any(|p| p.response_action != warden_shared::snapshot::GuardAction::Off)
    }

    pub fn compile(patterns: &[CustomPattern]) -> Result<CustomSet, String> {
        warden_shared::patterns::check(patterns)?;
        Ok(CustomSet {
            db: warden_shared::patterns::compile(patterns)?,
            patterns: patterns.to_vec(),
            placeholders: patterns
                .iter()
                .map(warden_shared::patterns::placeholder)
                .collect(),
        })
    }

    /// Leftmost-longest, non-overlapping matches in `text`, in order, leaving out any that
    /// overlaps a span in `taken` (the built-in findings, sorted by start).
    pub fn scan(&self, scratch: &Scratch, text: &[u8], taken: &[Finding], out: &mut Vec<Finding>) {
        let mut raw: Vec<(usize, usize, usize)> = Vec::new();
        let _ = self.db.scan(text, scratch, |id, from, to, _| {
            raw.push((from as usize, to as usize, id as usize));
            Matching::Continue
        });
        // Earliest start first, then the longest.
        raw.sort_unstable_by(|a, b| (a.0, b.1, a.2).cmp(&(b.0, a.1, b.2)));
        let mut end = 0;
        for (start, stop, id) in raw {
            if start < end && !out.is_empty() {
                continue;
            }
            if taken.iter().any(|t| t.start < stop && start < t.end) {
                continue;
            }
            out.push(Finding {
                detector: id,
                start,
                end: stop,
            });
            end = stop;
        }
    }

    /// Grow `scratch` so it serves this set's database too.
    pub fn fit_scratch(&self, scratch: &mut Option<Scratch>) -> Result<(), String> {
        match scratch {
            Some(s) => self
                .db
                .realloc_scratch(s)
                .map(|_| ())
                .map_err(|e| format!("custom pattern scratch: {e}")),
            None => {
                *scratch = Some(
                    self.db
                        .alloc_scratch()
                        .map_err(|e| format!("custom pattern scratch: {e}"))?,
                );
                Ok(())
            }
        }
    }
}

/// A project's set with the shard's scratch that fits it, held for the length of a request (a
/// snapshot swapped in meanwhile does not change what this request scans with). The serving
/// state hands them out (`ServingState::custom_scan`).
#[derive(Clone)]
pub struct CustomScan {
    set: Arc<CustomSet>,
    scratch: Rc<dyn ScratchOwner>,
}

/// What holds the shard's scratch for a snapshot's custom sets (the serving state): a scratch
/// is not `Sync`, so a request keeps its owner alive rather than a share of the scratch.
pub trait ScratchOwner {
    /// Fitted to every set of the snapshot ([`CustomSet::fit_scratch`]).
    fn custom_scratch(&self) -> Option<&hyperscan::Scratch>;
}

impl CustomScan {
    pub fn new(set: Arc<CustomSet>, scratch: Rc<dyn ScratchOwner>) -> CustomScan {
        CustomScan { set, scratch }
    }

    /// See [`CustomSet::scan`].
    pub fn scan(&self, text: &[u8], taken: &[Finding], out: &mut Vec<Finding>) {
        if let Some(scratch) = self.scratch.custom_scratch() {
            self.set.scan(scratch, text, taken, out);
        }
    }

    /// Whether any pattern acts on responses.
    pub fn checks_responses(&self) -> bool {
        self.set.checks_responses()
    }

    /// A finding's pattern and placeholder type.
    pub fn pattern(&self, i: usize) -> (&CustomPattern, &str) {
        (&self.set.patterns[i], &self.set.placeholders[i])
    }
}

/// Each project's compiled set (by the snapshot's project order), compiled once per snapshot
/// and shared by every shard's serving state.
pub type CustomSets = Vec<Option<Arc<CustomSet>>>;

pub fn compile_all(snapshot: &Snapshot) -> Result<CustomSets, String> {
    snapshot
        .projects
        .iter()
        .map(|p| {
            if p.custom_patterns.is_empty() {
                return Ok(None);
            }
            CustomSet::compile(&p.custom_patterns)
                .map(|s| Some(Arc::new(s)))
                .map_err(|e| format!("project {}: {e}", p.id))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_shared::snapshot::GuardAction;

    #[test]
    fn finds_leftmost_longest_values_and_yields_to_built_in_ones() {
        let set = CustomSet::compile(&[
            CustomPattern {
                id: "employee_id".into(),
                pattern: r"\bEMP-\d{4,8}\b".into(),
                caseless: false,
                action: GuardAction::Redact,
                response_action: GuardAction::Off,
            },
            CustomPattern {
                id: "codename".into(),
                pattern: r"project (?:falcon|osprey)".into(),
                caseless: true,
                action: GuardAction::Block,
                response_action: GuardAction::Off,
            },
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let mut scratch = None;
        set.fit_scratch(&mut scratch)
            .unwrap_or_else(|e| panic!("{e}"));
        let scratch = scratch.unwrap_or_else(|| panic!("no scratch"));
        let text = "EMP-123456 works on Project FALCON; EMP-99 does not count.";
        let mut out = Vec::new();
        set.scan(&scratch, text.as_bytes(), &[], &mut out);
        let got: Vec<(&str, &str)> = out
            .iter()
            .map(|f| (set.patterns[f.detector].id.as_str(), &text[f.start..f.end]))
            .collect();
        assert_eq!(
            got,
            [
                ("employee_id", "EMP-123456"),
                ("codename", "Project FALCON")
            ]
        );
        assert_eq!(set.placeholders, ["EMPLOYEE_ID", "CODENAME"]);
        let built_in = [Finding {
            detector: 0,
            start: 2,
            end: 6,
        }];
        out.clear();
        set.scan(&scratch, text.as_bytes(), &built_in, &mut out);
        assert_eq!(out.len(), 1);
    }
}
