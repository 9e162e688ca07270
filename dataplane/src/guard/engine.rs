//! The compiled detector database and scanning one text into confirmed, non-overlapping
//! findings. Hyperscan reports every end offset at which a pattern matches (with the leftmost
//! start): for each start, candidates are tried from the longest down until a validator confirms
//! one; overlapping findings keep the longer one (the earlier detector on a tie).

use hyperscan::prelude::*;

use super::detectors::{Detector, DETECTORS};
use super::pii::{phone::DEFAULT_REGIONS, Candidate, Plans};

pub struct Engine {
    /// Every detector without start-of-match tracking, reporting once: the fast question "is
    /// anything here at all?", which most texts answer no to.
    quick: BlockDatabase,
    /// The same detectors with leftmost start offsets, run only on texts the quick pass flags.
    exact: BlockDatabase,
    /// The hint regions' numbering plans; each shard's scratch takes its own copy.
    phones: Plans,
    /// For each detector whose expression Hyperscan reports, every detector sharing it.
    members: Vec<Vec<usize>>,
}

/// One shard's working space: Hyperscan scratch for both databases and its own compiled
/// numbering plans (their regex caches are then never shared between threads).
pub struct Scratch {
    hs: hyperscan::Scratch,
    phones: Plans,
}

/// A confirmed value in a scanned text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finding {
    pub detector: usize,
    pub start: usize,
    pub end: usize,
}

impl Finding {
    pub fn detector(&self) -> &'static Detector {
        &DETECTORS[self.detector]
    }
}

impl Engine {
    /// The built-in detectors, with the default phone hint regions.
    pub fn new() -> Result<Engine, String> {
        Engine::with_regions(DEFAULT_REGIONS)
    }

    /// The built-in detectors; national phone numbers are checked against `regions`' plans.
    pub fn with_regions(regions: &[&str]) -> Result<Engine, String> {
        // Detectors that share a pattern share one expression, reported under the first of them.
        let leader = |i: usize| {
            let d = &DETECTORS[i];
            DETECTORS
                .iter()
                .position(|o| o.pattern == d.pattern && o.caseless == d.caseless)
                .unwrap_or(i)
        };
        let members = (0..DETECTORS.len())
            .map(|i| (0..DETECTORS.len()).filter(|&j| leader(j) == i).collect())
            .collect();
        let build = |base: CompileFlags,
                     with: &dyn Fn(&Detector) -> bool|
         -> Result<BlockDatabase, String> {
            let patterns: Vec<Pattern> = DETECTORS
                .iter()
                .enumerate()
                .filter(|(i, d)| with(d) && leader(*i) == *i)
                .map(|(i, d)| {
                    let mut flags = base | CompileFlags::UTF8;
                    if base.contains(CompileFlags::SINGLEMATCH) && d.category.located() {
                        flags |= CompileFlags::PREFILTER;
                    }
                    if d.caseless {
                        flags |= CompileFlags::CASELESS;
                    }
                    Pattern {
                        expression: d.pattern.to_owned(),
                        flags,
                        id: Some(i),
                        ext: Default::default(),
                        som: None,
                    }
                })
                .collect();
            Patterns(patterns)
                .build()
                .map_err(|e| format!("compiling the guardrail detectors: {e}"))
        };
        // Injection signals only need to be known, not located: they stay out of the costly
        // start-of-match database.
        Ok(Engine {
            quick: build(CompileFlags::SINGLEMATCH, &|_| true)?,
            exact: build(CompileFlags::SOM_LEFTMOST, &|d| d.category.located())?,
            phones: Plans::new(regions)?,
            members,
        })
    }

    /// Working space for one shard (large enough for both databases).
    pub fn scratch(&self) -> Result<Scratch, String> {
        let mut s = self
            .exact
            .alloc_scratch()
            .map_err(|e| format!("guardrail scratch: {e}"))?;
        self.quick
            .realloc_scratch(&mut s)
            .map_err(|e| format!("guardrail scratch: {e}"))?;
        Ok(Scratch {
            hs: s,
            phones: self.phones.clone(),
        })
    }

    /// Confirmed findings in `text`, in order, not overlapping.
    pub fn scan(&self, scratch: &Scratch, text: &[u8], out: &mut Vec<Finding>) {
        // Which detectors fire at all (each reports once); injection signals are findings as
        // they are, the rest need the exact pass for their spans.
        let mut located = false;
        let mut signals: Vec<Finding> = Vec::new();
        let _ = self.quick.scan(text, &scratch.hs, |id, _, to, _| {
            if !DETECTORS[id as usize].category.located() {
                signals.push(Finding {
                    detector: id as usize,
                    start: to as usize,
                    end: to as usize,
                });
            } else {
                located = true;
            }
            Matching::Continue
        });
        if !located {
            out.extend(signals);
            return;
        }
        let mut raw: Vec<(usize, usize, usize)> = Vec::new();
        let _ = self.exact.scan(text, &scratch.hs, |id, from, to, _| {
            raw.push((id as usize, from as usize, to as usize));
            Matching::Continue
        });
        if raw.is_empty() {
            return;
        }
        // Per (detector, start): longest candidate first.
        raw.sort_unstable_by(|a, b| (a.0, a.1, b.2).cmp(&(b.0, b.1, a.2)));
        let mut found: Vec<Finding> = Vec::new();
        // Longest candidates no validator confirmed (an IBAN or card number with a bad
        // checksum): a shorter value inside one is a fragment of it, not a value of its own.
        let mut rejected: Vec<(usize, usize, usize)> = Vec::new();
        let mut i = 0;
        while i < raw.len() {
            let (det, start) = (raw[i].0, raw[i].1);
            let group = i;
            while i < raw.len() && raw[i].0 == det && raw[i].1 == start {
                i += 1;
            }
            let mut any = false;
            for &member in &self.members[det] {
                // Longest candidate first; the first one this member's validator confirms.
                let confirmed = raw[group..i].iter().find_map(|&(_, from, to)| {
                    let candidate = Candidate {
                        text,
                        start: from,
                        end: to,
                        phones: &scratch.phones,
                    };
                    (DETECTORS[member].validate)(&candidate).map(|(a, b)| Finding {
                        detector: member,
                        start: from + a,
                        end: from + b,
                    })
                });
                any |= confirmed.is_some();
                found.extend(confirmed);
            }
            if !any {
                rejected.push((det, start, raw[group].2));
            }
        }
        found.retain(|f| {
            !rejected.iter().any(|&(det, start, end)| {
                !self.members[det].contains(&f.detector)
                    && start <= f.start
                    && f.end <= end
                    && end - start > f.end - f.start
            })
        });
        found.sort_unstable_by(|a, b| {
            (a.start, b.end, a.detector).cmp(&(b.start, a.end, b.detector))
        });
        for f in found {
            match out.last_mut() {
                Some(last) if f.start < last.end => {
                    let (longer, tie) = (
                        f.end - f.start > last.end - last.start,
                        f.end - f.start == last.end - last.start,
                    );
                    if longer || (tie && f.detector < last.detector) {
                        *last = f;
                    }
                }
                _ => out.push(f),
            }
        }
        out.extend(signals);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(engine: &Engine, text: &str) -> Vec<(&'static str, String)> {
        let scratch = engine.scratch().unwrap_or_else(|e| panic!("{e}"));
        let mut out = Vec::new();
        engine.scan(&scratch, text.as_bytes(), &mut out);
        out.iter()
            .map(|f| (f.detector().id, text[f.start..f.end].to_owned()))
            .collect()
    }

    #[test]
    fn finds_confirmed_values_only() {
        let engine = Engine::new().unwrap_or_else(|e| panic!("{e}"));
        let found = ids(
            &engine,
            "Mail jane.doe@example.co.uk or call +44 20 7946 0958; card 4111-1111-1111-1111, order 4111-1111-1111-1112. \
             SSN 123-45-6789, IBAN DE89 3704 0044 0532 0130 00, host 10.0.0.254, key sk-ant-api03-abcdefghijklmnopqrstuvwxyz.",
        );
        let want = [
            ("email", "jane.doe@example.co.uk"),
            ("phone", "+44 20 7946 0958"),
            ("payment_card", "4111-1111-1111-1111"),
            ("us_ssn", "123-45-6789"),
            ("iban", "DE89 3704 0044 0532 0130 00"),
            ("ipv4", "10.0.0.254"),
            (
                "anthropic_api_key",
                "sk-ant-api03-abcdefghijklmnopqrstuvwxyz",
            ),
        ];
        assert_eq!(
            found,
            want.iter()
                .map(|(a, b)| (*a, (*b).to_owned()))
                .collect::<Vec<_>>()
        );
        assert!(ids(
            &engine,
            "Order 4111-1111-1111-1112 shipped; tracking 1Z999AA10123456784."
        )
        .is_empty());
    }
}

#[cfg(test)]
mod each_pattern {
    use super::*;

    #[test]
    fn every_detector_compiles_alone() {
        let mut failed = Vec::new();
        for d in DETECTORS {
            let mut flags = if !d.category.located() {
                CompileFlags::SINGLEMATCH
            } else {
                CompileFlags::SOM_LEFTMOST
            };
            flags |= CompileFlags::UTF8;
            if d.caseless {
                flags |= CompileFlags::CASELESS;
            }
            let p = Pattern {
                expression: d.pattern.to_owned(),
                flags,
                id: Some(0),
                ext: Default::default(),
                som: None,
            };
            let built: Result<BlockDatabase, _> = Patterns(vec![p]).build();
            if let Err(e) = built {
                failed.push(format!("{}: {e}", d.id));
            }
        }
        assert!(failed.is_empty(), "{failed:#?}");
    }
}
