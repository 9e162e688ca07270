//! The compiled detector databases and scanning one text into confirmed, non-overlapping
//! findings. A quick pass without start-of-match tracking says which detectors could fire at all
//! (most texts: none); only the families of those that did run their exact pass, which reports
//! every end offset at which a pattern matches (with the leftmost start). For each start,
//! candidates are tried from the longest down until a validator confirms one; overlapping findings
//! keep the longer one (the earlier detector on a tie).

use hyperscan::prelude::*;

use super::detectors::{Detector, DETECTORS};
use super::pii::{phone::DEFAULT_REGIONS, Candidate, Plans};
use super::views;
use super::Category;

pub struct Engine {
    /// Every detector without start-of-match tracking, reporting once (located ones in
    /// Hyperscan's cheaper prefilter form): the fast question "could anything be here?".
    quick: BlockDatabase,
    /// The located detectors with leftmost start offsets, one database per family (see
    /// `family`), each run only when the quick pass saw one of its members.
    exact: Vec<BlockDatabase>,
    /// Each detector's family (an index into `exact`); `None` for signals.
    family: Vec<Option<usize>>,
    /// The hint regions' numbering plans; each shard's scratch takes its own copy.
    phones: Plans,
}

/// Detectors whose start-of-match tracking costs alike go together: a text with an e-mail
/// address should not pay for thirty digit patterns, nor a text with a date for every secret.
fn family(d: &Detector) -> usize {
    match (d.category, d.id) {
        (Category::Secrets, _) => 0,
        (_, "email") => 1,
        (_, "ipv6") => 2,
        (_, "uk_nino" | "it_fiscal_code" | "es_dni" | "es_nie" | "fr_nir" | "iban" | "bic") => 3,
        (_, "passport" | "drivers_licence" | "date_of_birth" | "street_address") => 4,
        _ => 5,
    }
}
const FAMILIES: usize = 6;

/// One shard's working space: Hyperscan scratch for every database and its own compiled
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

/// `work` on a thread of its own within `scope` (a thread that cannot be made is an error,
/// not a panic).
fn background<'scope, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    work: impl FnOnce() -> Result<T, String> + Send + 'scope,
) -> Result<std::thread::ScopedJoinHandle<'scope, Result<T, String>>, String> {
    std::thread::Builder::new()
        .name("warden-compile".into())
        .spawn_scoped(scope, work)
        .map_err(|e| format!("starting a thread to compile the guardrail detectors: {e}"))
}

/// What a [`background`] thread built.
fn joined<T>(handle: std::thread::ScopedJoinHandle<'_, Result<T, String>>) -> Result<T, String> {
    handle
        .join()
        .map_err(|_| "compiling the guardrail detectors panicked".to_owned())?
}

impl Engine {
    /// The built-in detectors, with the default phone hint regions.
    pub fn new() -> Result<Engine, String> {
        Engine::with_regions(DEFAULT_REGIONS)
    }

    /// The built-in detectors; national phone numbers are checked against `regions`' plans.
    pub fn with_regions(regions: &[&str]) -> Result<Engine, String> {
        let build = |base: CompileFlags,
                     with: &dyn Fn(&Detector) -> bool|
         -> Result<BlockDatabase, String> {
            let patterns: Vec<Pattern> = DETECTORS
                .iter()
                .enumerate()
                .filter(|(_, d)| with(d))
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
        let family_of: Vec<Option<usize>> = DETECTORS
            .iter()
            .map(|d| d.category.located().then(|| family(d)))
            .collect();
        let exact = || {
            (0..FAMILIES)
                .map(|f| {
                    build(CompileFlags::SOM_LEFTMOST, &|d| {
                        d.category.located() && family(d) == f
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        // The three take about as long as each other (a debug build on the 2-vCPU EPYC: the
        // quick database 0.30 s, the exact ones 0.24 s, the phone plans 0.14-0.22 s) and share
        // nothing, so they are built at once: every start of the data plane waits for them.
        let (quick, exact, phones) = std::thread::scope(|s| {
            let quick = background(s, || build(CompileFlags::SINGLEMATCH, &|_| true))?;
            let phones = background(s, || Plans::new(regions))?;
            let exact = exact();
            Ok::<_, String>((joined(quick)?, exact?, joined(phones)?))
        })?;
        Ok(Engine {
            quick,
            exact,
            family: family_of,
            phones,
        })
    }

    /// The built-in detectors compiled once per test binary and shared by its tests: each
    /// compilation costs a third of a second of Hyperscan, which a hundred unit tests paid anew.
    #[cfg(test)]
    pub(crate) fn for_tests() -> &'static Engine {
        static ENGINE: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
        ENGINE.get_or_init(|| Engine::new().unwrap_or_else(|e| panic!("{e}")))
    }

    /// Bare national numbers valid as written count as phone numbers without a phone word
    /// (`phone_standalone`; see `pii::phone`).
    pub fn phone_standalone(mut self, on: bool) -> Engine {
        self.phones = self.phones.standalone(on);
        self
    }

    /// Working space for one shard (large enough for every database).
    pub fn scratch(&self) -> Result<Scratch, String> {
        let mut s = self
            .quick
            .alloc_scratch()
            .map_err(|e| format!("guardrail scratch: {e}"))?;
        for db in &self.exact {
            db.realloc_scratch(&mut s)
                .map_err(|e| format!("guardrail scratch: {e}"))?;
        }
        Ok(Scratch {
            hs: s,
            phones: self.phones.clone(),
        })
    }

    /// Confirmed findings in `text`, in order, not overlapping.
    pub fn scan(&self, scratch: &Scratch, text: &[u8], out: &mut Vec<Finding>) {
        self.scan_in(scratch, None, text, out);
    }

    /// This shard's copy of a project's phone plans (see `ServingState::phones_for`): those of
    /// its own regions (`shared`) or the data plane's, taking bare numbers alone as the project's
    /// `phone_standalone` says, or as the data plane's plans do where it says nothing.
    pub fn local_plans(&self, shared: Option<&Plans>, standalone: Option<bool>) -> Plans {
        let standalone = standalone.unwrap_or(self.phones.is_standalone());
        shared
            .unwrap_or(&self.phones)
            .clone()
            .standalone(standalone)
    }

    /// Whether a project's `phone_standalone` leaves the data plane's plans as they are.
    pub fn phones_as_configured(&self, standalone: Option<bool>) -> bool {
        standalone.is_none_or(|on| on == self.phones.is_standalone())
    }

    /// [`scan`](Self::scan) with a project's own phone plans in place of the data plane's.
    /// Values written percent-encoded (`jane%40example.com`, `4111%201111%20…`, as in a URL's
    /// query), in characters the detectors fold to ASCII (fullwidth digits, other scripts'
    /// digits, dashes, odd spaces, invisible characters), with JSON escapes
    /// (`jane\u0040example.com` in a tool's JSON text), HTML references (`jane&#64;…` in a
    /// retrieved page) or bracketed words (`jane [at] example [dot] com`: `views.rs`) are found
    /// too, with their spans in `text`.
    pub fn scan_in(
        &self,
        scratch: &Scratch,
        phones: Option<&Plans>,
        text: &[u8],
        out: &mut Vec<Finding>,
    ) {
        let base = out.len();
        let signals = self.scan_located(scratch, phones, text, out);
        let mut viewed = false;
        let views = [
            views::percent_decoded(text),
            views::folded(text),
            views::json_unescaped(text),
            views::html_unescaped(text),
            views::words_unescaped(text),
        ];
        for (view, at) in views.into_iter().flatten() {
            let mut more = Vec::new();
            let _ = self.scan_located(scratch, phones, &view, &mut more);
            for f in more {
                let (start, end) = (at[f.start], at[f.end]);
                // Only values the view changed: the others were found (or not) as written. A
                // value found whole in the view takes the place of the parts of it found as
                // written (`geor\u{200b}gia@…` as written is `gia@…`).
                let changed = end - start != f.end - f.start;
                let overlaps = |g: &Finding| g.start < end && start < g.end;
                let inside = |g: &Finding| start <= g.start && g.end <= end;
                if changed && out[base..].iter().filter(|g| overlaps(g)).all(inside) {
                    let mut i = base;
                    while i < out.len() {
                        if overlaps(&out[i]) {
                            out.swap_remove(i);
                        } else {
                            i += 1;
                        }
                    }
                    out.push(Finding {
                        detector: f.detector,
                        start,
                        end,
                    });
                }
            }
            viewed = true;
        }
        if viewed {
            out[base..].sort_unstable_by_key(|f| (f.start, f.end));
        }
        out.extend(signals);
    }

    /// The located findings of `text` into `out`, in text order; returns the injection signals.
    fn scan_located(
        &self,
        scratch: &Scratch,
        phones: Option<&Plans>,
        text: &[u8],
        out: &mut Vec<Finding>,
    ) -> Vec<Finding> {
        let phones = phones.unwrap_or(&scratch.phones);
        // Which detectors could fire (each reports once); injection signals are findings as
        // they are, the rest need their family's exact pass for their spans.
        let mut families = [false; FAMILIES];
        let mut signals: Vec<Finding> = Vec::new();
        let _ = self.quick.scan(text, &scratch.hs, |id, _, to, _| {
            match self.family[id as usize] {
                Some(f) => families[f] = true,
                None => signals.push(Finding {
                    detector: id as usize,
                    start: to as usize,
                    end: to as usize,
                }),
            }
            Matching::Continue
        });
        let mut raw: Vec<(usize, usize, usize)> = Vec::new();
        for (db, _) in self.exact.iter().zip(families).filter(|(_, hit)| *hit) {
            let _ = db.scan(text, &scratch.hs, |id, from, to, _| {
                raw.push((id as usize, from as usize, to as usize));
                Matching::Continue
            });
        }
        if raw.is_empty() {
            return signals;
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
            let longest = raw[i].2;
            let mut confirmed = None;
            while i < raw.len() && raw[i].0 == det && raw[i].1 == start {
                if confirmed.is_none() {
                    let (from, to) = (raw[i].1, raw[i].2);
                    let candidate = Candidate {
                        text,
                        start: from,
                        end: to,
                        phones,
                    };
                    if let Some((a, b)) = (DETECTORS[det].validate)(&candidate) {
                        confirmed = Some(Finding {
                            detector: det,
                            start: from + a,
                            end: from + b,
                        });
                    }
                }
                i += 1;
            }
            if confirmed.is_none() {
                rejected.push((det, start, longest));
            }
            found.extend(confirmed);
        }
        found.retain(|f| {
            !rejected.iter().any(|&(det, start, end)| {
                det != f.detector
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
        signals
    }
}

#[cfg(test)]
mod tests;
