//! The semantic cache (`[tenants.projects.cache] mode = "semantic"`): a request whose last user
//! turn means what an earlier one meant — and is identical in everything else — is answered with
//! that earlier answer.
//!
//! It sits behind the exact cache. A request that missed there is split (`query.rs`) into its
//! last user turn and a *partition*: a salted hash of the project, the provider, the upstream
//! model and the rest of the request, so that only requests equal in all of that are ever
//! compared. The turn is embedded by a static embedding model (Model2Vec's layout, read with
//! `model2vec-rs`; ours is distilled from all-MiniLM-L6-v2 by `models/distill`) and searched in
//! the partition's index (`index.rs`, HNSW); a neighbour counts when its cosine similarity is at
//! least the project's `semantic_threshold` *and* both turns carry the same numbers, negations
//! and names in the same order (`salient.rs`; misspellings put right first, `spelling.rs`). The neighbour is an exact-cache key: the answer
//! comes from the exact tiers (this shard, then Redis), with every check a hit has there.
//!
//! None of this runs on a shard. Embedding and search run on `[cache] semantic_workers` threads
//! fed by one bounded queue; a shard hands its request over and awaits the answer with a
//! deadline (`semantic_timeout_ms`). A full queue or a missed deadline is a miss, counted, and the
//! request goes to the provider: the semantic cache can make a request cheaper, never later by
//! more than the deadline. A filled answer's turn is embedded and indexed the same way, after the
//! answer has been sent.
//!
//! What does not qualify: requests offering tools, more than one choice, a last turn that is
//! not the user's plain text. A turn the request guardrails rewrote is compared as rewritten
//! (placeholders in place of the values), so `restore` gives each caller its own values back.

pub mod cli;
pub mod index;
pub mod query;
pub mod salient;
pub mod spelling;

use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use futures_channel::oneshot;
use model2vec_rs::model::StaticModel;

use super::Key;
use crate::metrics::cache::{Figures, Stats, WorkerMetrics};
use index::{Found, Index};
use salient::Salient;
use spelling::Vocabulary;

/// Jobs waiting for a worker; past it a lookup is a miss and a fill is not indexed.
const QUEUE: usize = 256;
/// The most of a turn that is embedded (the tokens past it change a mean of hundreds little).
const MAX_TEXT: usize = 16 << 10;
/// Tokens embedded at most.
const MAX_TOKENS: usize = 512;

/// What `[cache]` says about the semantic tier.
#[derive(Debug, Clone)]
pub struct Settings {
    pub model_dir: std::path::PathBuf,
    pub workers: usize,
    pub max_entries: usize,
    pub timeout: Duration,
}

/// A request's part in the semantic cache: where it is compared, what is compared, how close it
/// must be.
#[derive(Clone)]
pub struct Ask {
    /// The project whose share of the index the entry counts against.
    pub project: Arc<str>,
    pub partition: [u8; 32],
    pub text: Arc<str>,
    pub threshold: f32,
}

enum Job {
    Lookup {
        ask: Ask,
        reply: oneshot::Sender<Option<Found>>,
    },
    Insert {
        ask: Ask,
        key: Key,
        ttl: Duration,
    },
    Forget {
        project: Arc<str>,
    },
}

/// The model, the index and the workers, one per data plane.
pub struct Engine {
    jobs: SyncSender<Job>,
    timeout: Duration,
    pub figures: Arc<Figures>,
}

impl Engine {
    /// Load the model from `settings.model_dir` and start the workers.
    pub fn start(settings: &Settings) -> anyhow::Result<Engine> {
        let model = load(&settings.model_dir)?;
        let index = Arc::new(RwLock::new(Index::new(model.dim(), settings.max_entries)));
        let (jobs, queue) = sync_channel::<Job>(QUEUE);
        // The mutex is taken by the workers only, never by a shard.
        let queue = Arc::new(Mutex::new(queue));
        let model = Arc::new(model);
        let vocabulary = Arc::new(Vocabulary::load(&settings.model_dir)?);
        if vocabulary.is_empty() {
            tracing::warn!(
                dir = %settings.model_dir.display(),
                "cache.semantic_model has no {}: misspellings are not corrected (rerun scripts/semantic-model.sh)",
                spelling::WORDS
            );
        }
        let figures = Arc::new(Figures {
            workers: (0..settings.workers.max(1))
                .map(|_| Arc::new(WorkerMetrics::default()))
                .collect(),
            stats: Stats::default(),
        });
        for (i, metrics) in figures.workers.iter().enumerate() {
            let worker = Worker {
                queue: Arc::clone(&queue),
                model: Arc::clone(&model),
                vocabulary: Arc::clone(&vocabulary),
                index: Arc::clone(&index),
                metrics: Arc::clone(metrics),
                figures: Arc::clone(&figures),
            };
            std::thread::Builder::new()
                .name(format!("warden-semantic-{i}"))
                .spawn(move || worker.run())?;
        }
        Ok(Engine {
            jobs,
            timeout: settings.timeout,
            figures,
        })
    }

    /// The closest cached question to `ask` within the deadline, if any. Never blocks the
    /// shard: a full queue is an immediate miss.
    pub async fn lookup(&self, ask: Ask) -> Option<Found> {
        let (reply, answer) = oneshot::channel();
        match self.jobs.try_send(Job::Lookup { ask, reply }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.figures.stats.queue_full.fetch_add(1, Relaxed);
                return None;
            }
            Err(TrySendError::Disconnected(_)) => return None,
        }
        match monoio::time::timeout(self.timeout, answer).await {
            Ok(Ok(found)) => found,
            Ok(Err(_)) => None,
            Err(_) => {
                self.figures.stats.timeouts.fetch_add(1, Relaxed);
                None
            }
        }
    }

    /// Drop `project`'s part of the index, in the background (its entries are unreachable
    /// already: their partitions hash the project's cache generation).
    pub fn forget(&self, project: Arc<str>) {
        if let Err(TrySendError::Full(_)) = self.jobs.try_send(Job::Forget { project }) {
            self.figures.stats.queue_full.fetch_add(1, Relaxed);
        }
    }

    /// Index a filled answer's question, in the background.
    pub fn insert(&self, ask: Ask, key: Key, ttl: Duration) {
        if let Err(TrySendError::Full(_)) = self.jobs.try_send(Job::Insert { ask, key, ttl }) {
            self.figures.stats.queue_full.fetch_add(1, Relaxed);
        }
    }
}

/// Read a Model2Vec model directory (`config.json`, `model.safetensors`, `tokenizer.json`)
/// from disk; nothing is fetched.
pub fn load(dir: &Path) -> anyhow::Result<StaticModel> {
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        anyhow::ensure!(
            dir.join(f).is_file(),
            "cache.semantic_model {}: no {f} (make one with scripts/semantic-model.sh)",
            dir.display()
        );
    }
    StaticModel::from_pretrained(dir, None, Some(true), None)
        .map_err(|e| anyhow::anyhow!("cache.semantic_model {}: {e:#}", dir.display()))
}

/// The embedding of `text` (its first [`MAX_TEXT`] bytes), a unit vector.
pub fn embed(model: &StaticModel, text: &str) -> Vec<f32> {
    let mut end = text.len().min(MAX_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let v = model.encode_with_args(&[text[..end].to_string()], Some(MAX_TOKENS), 1);
    v.into_iter().next().unwrap_or_default()
}

struct Worker {
    queue: Arc<Mutex<Receiver<Job>>>,
    model: Arc<StaticModel>,
    vocabulary: Arc<Vocabulary>,
    index: Arc<RwLock<Index>>,
    metrics: Arc<WorkerMetrics>,
    figures: Arc<Figures>,
}

impl Worker {
    fn run(self) {
        loop {
            let job = match self.queue.lock() {
                Ok(q) => q.recv(),
                Err(_) => return,
            };
            let Ok(job) = job else { return };
            // A panic on one text (in the tokenizer, the model or the index) ends that job, not
            // the worker: a lookup's reply is dropped with it, which its request takes as a miss.
            // Unwinding inside the index's write lock poisons it, and then every worker stops
            // (lookups miss at once when none is left).
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.work(job))) {
                Ok(true) => {}
                Ok(false) => return,
                Err(_) => {
                    self.metrics.panics.inc();
                    tracing::error!("a semantic cache job panicked: it was dropped");
                }
            }
        }
    }

    /// One job; `false` when the index's lock is poisoned and the worker should stop.
    fn work(&self, job: Job) -> bool {
        match job {
            Job::Lookup { ask, reply } => {
                if reply.is_canceled() {
                    self.metrics.stale.inc();
                    return true;
                }
                let start = Instant::now();
                let text = self.vocabulary.corrected(&ask.text);
                let vector = embed(&self.model, &text);
                let salient = Salient::of(&text);
                let found = match self.index.read() {
                    Ok(index) => index.find(
                        &ask.partition,
                        &vector,
                        &salient,
                        ask.threshold,
                        Instant::now(),
                    ),
                    Err(_) => None,
                };
                self.metrics
                    .lookup
                    .observe_us(start.elapsed().as_micros() as u64);
                let _ = reply.send(found);
            }
            Job::Insert { ask, key, ttl } => {
                let start = Instant::now();
                let text = self.vocabulary.corrected(&ask.text);
                let vector = embed(&self.model, &text);
                let salient = Salient::of(&text);
                let Ok(mut index) = self.index.write() else {
                    return false;
                };
                let dropped = index.insert(
                    &ask.project,
                    ask.partition,
                    &vector,
                    salient,
                    key,
                    ttl,
                    Instant::now(),
                );
                let stats = &self.figures.stats;
                stats.entries.store(index.len() as i64, Relaxed);
                stats.partitions.store(index.partitions() as i64, Relaxed);
                drop(index);
                stats.evictions.fetch_add(dropped as u64, Relaxed);
                self.metrics
                    .insert
                    .observe_us(start.elapsed().as_micros() as u64);
            }
            Job::Forget { project } => {
                let Ok(mut index) = self.index.write() else {
                    return false;
                };
                let dropped = index.forget(&project);
                let stats = &self.figures.stats;
                stats.entries.store(index.len() as i64, Relaxed);
                stats.partitions.store(index.partitions() as i64, Relaxed);
                drop(index);
                stats.evictions.fetch_add(dropped as u64, Relaxed);
            }
        }
        true
    }
}
