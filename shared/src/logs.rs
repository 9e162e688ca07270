//! Process logs for both planes: `tracing` events, filtered by `WARDEN_LOG` (the
//! `tracing-subscriber` EnvFilter syntax: `info`, `warn`, `warden_dataplane::proxy=debug,info`;
//! default `info`), as text or as JSON lines (`log_format = "json"` in either config: one object
//! per event with `timestamp`, `level`, `target` and the event's `fields`).
//!
//! A thread that logs never waits for stderr: each event is formatted into its own buffer and put
//! in a bounded queue (65 536 lines); one writer thread drains it to stderr. When the queue is
//! full the line is dropped and counted ([`dropped`], exported as a metric) — a slow log
//! consumer must not stall a shard. (tracing-appender's non-blocking writer does the same but
//! brings `time`, `symlink` and `crossbeam-channel` for the rolling files we do not use; this is
//! the part we need, over the crossbeam queue already in the tree.)

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::thread::{JoinHandle, Thread};
use std::time::Duration;

use crossbeam_queue::ArrayQueue;
use serde::Deserialize;

/// How log lines are written.
#[derive(Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

const QUEUE_LINES: usize = 65_536;

/// Lines dropped because the queue was full, since start.
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Lines dropped so far because stderr could not keep up.
pub fn dropped() -> u64 {
    DROPPED.load(Relaxed)
}

/// The shared end of the queue.
struct Shared {
    queue: ArrayQueue<Vec<u8>>,
    writer: OnceLock<Thread>,
    stop: AtomicBool,
}

/// Hands each event a buffer that goes to the queue when the event is written.
#[derive(Clone)]
struct Lines(Arc<Shared>);

/// One event's line.
struct Line {
    buf: Vec<u8>,
    to: Arc<Shared>,
}

impl Write for Line {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        if self.to.queue.push(std::mem::take(&mut self.buf)).is_err() {
            DROPPED.fetch_add(1, Relaxed);
        }
        if let Some(t) = self.to.writer.get() {
            t.unpark();
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Lines {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line {
            buf: Vec::with_capacity(256),
            to: Arc::clone(&self.0),
        }
    }
}

/// Keeps the writer thread; dropping it writes out what is queued (hold it for the process's
/// life, in `main`).
pub struct Guard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.shared.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

/// Install the process-wide subscriber (once, before anything logs).
pub fn init(format: LogFormat) -> Guard {
    let shared = Arc::new(Shared {
        queue: ArrayQueue::new(QUEUE_LINES),
        writer: OnceLock::new(),
        stop: AtomicBool::new(false),
    });
    let drain = Arc::clone(&shared);
    let thread = std::thread::Builder::new()
        .name("warden-logs".into())
        .spawn(move || {
            loop {
                // Lock stderr per batch, not for the thread's life: `eprintln!` elsewhere must
                // not wait on us.
                if !drain.queue.is_empty() {
                    let mut err = std::io::stderr().lock();
                    while let Some(line) = drain.queue.pop() {
                        let _ = err.write_all(&line);
                    }
                    let _ = err.flush();
                }
                if drain.stop.load(Relaxed) && drain.queue.is_empty() {
                    return;
                }
                std::thread::park_timeout(Duration::from_millis(100));
            }
        })
        .ok();
    if let Some(t) = &thread {
        let _ = shared.writer.set(t.thread().clone());
    }
    let filter = tracing_subscriber::EnvFilter::try_from_env("WARDEN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(Lines(Arc::clone(&shared)));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(false).init(),
    }
    Guard { shared, thread }
}
