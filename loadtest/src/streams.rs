//! `warden-loadtest streams`: many long-lived SSE streams held open at once, to measure what
//! one idle stream costs a gateway and what it adds to each event.
//!
//! Each stream asks the mock (through the gateway, or directly for the baseline) for `events`
//! content events, `interval` apart, stamped with the wall-clock time the mock wrote them
//! (`mock:stamp=1`). Stream starts are spread evenly over one interval, so events arrive at an
//! even rate rather than in bursts of every stream at once. Once every stream is open and
//! between events, the gateway's resident memory is read from `/proc/PID/status`: its growth
//! over the reading before the first stream, divided by the streams, is the memory one idle
//! stream holds (its client and provider connections included). Each event's delay is the
//! client's read time minus the mock's stamp (one host, one clock); the gateway's added delay
//! is its distribution against the direct run's.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use monoio::io::AsyncWriteRentExt;
use monoio::net::TcpStream;
use serde::Serialize;

use crate::load::{read_more, Target};
use crate::open::Percentiles;

pub struct StreamsConfig {
    pub url: String,
    pub key: String,
    pub model: String,
    pub streams: usize,
    pub threads: usize,
    pub events: usize,
    pub interval: Duration,
    /// The gateway's process, for its resident memory (none: not measured).
    pub pid: Option<u32>,
}

#[derive(Serialize, Debug)]
pub struct StreamsReport {
    pub url: String,
    pub streams: usize,
    /// Streams whose response head arrived with status 200.
    pub opened: usize,
    /// Streams that ended with the chunked body's last chunk.
    pub completed: usize,
    pub errors: usize,
    pub events: u64,
    pub interval_ms: u64,
    pub rss_before_kib: Option<u64>,
    pub rss_open_kib: Option<u64>,
    /// (open − before) / streams, in bytes.
    pub rss_per_stream_bytes: Option<u64>,
    /// Each event's delay from the mock's write to the client's read.
    pub delay_us: Percentiles,
}

#[derive(Default)]
struct Tally {
    completed: usize,
    errors: usize,
    events: u64,
}

pub fn run(config: StreamsConfig) -> anyhow::Result<StreamsReport> {
    anyhow::ensure!(config.streams > 0, "--streams must be at least 1");
    let body = serde_json::json!({
        "model": config.model, "stream": true,
        "messages": [{"role": "user", "content": format!(
            "hold this stream open mock:chunks={} mock:delay_ms={} mock:stamp=1",
            config.events, config.interval.as_millis()
        )}]
    });
    let target = Target::new(&config.url, &config.key, serde_json::to_vec(&body)?)?;
    let rss_before = config.pid.and_then(rss_kib);
    let opened = Arc::new(AtomicUsize::new(0));
    let threads = config.threads.clamp(1, config.streams);
    let started = Instant::now();
    let mut handles = Vec::new();
    for t in 0..threads {
        // Stream i of all starts at i × interval / streams; this thread takes every threads-th.
        let mine: Vec<usize> = (t..config.streams).step_by(threads).collect();
        let (target, opened) = (target.clone(), Arc::clone(&opened));
        let (interval, n) = (config.interval, config.streams);
        handles.push(std::thread::spawn(
            move || -> anyhow::Result<(Tally, Histogram<u64>)> {
                let mut rt = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
                    .with_entries(1024)
                    .enable_timer()
                    .build()?;
                rt.block_on(async move {
                    let tally = Rc::new(RefCell::new(Tally::default()));
                    let hist = Rc::new(RefCell::new(Histogram::<u64>::new(3)?));
                    let request = Rc::new(target.request);
                    let mut tasks = Vec::new();
                    for i in mine {
                        let at = started + interval.mul_f64(i as f64 / n as f64);
                        tasks.push(monoio::spawn(one_stream(
                            target.addr,
                            Rc::clone(&request),
                            at,
                            Arc::clone(&opened),
                            Rc::clone(&tally),
                            Rc::clone(&hist),
                        )));
                    }
                    for task in tasks {
                        task.await;
                    }
                    let tally = std::mem::take(&mut *tally.borrow_mut());
                    let hist = hist.borrow().clone();
                    Ok((tally, hist))
                })
            },
        ));
    }
    // Every stream is open by one interval in, and idle between its events a half interval
    // later: that is when the gateway's memory is read.
    let mut rss_open = None;
    if let Some(pid) = config.pid {
        let deadline = started + config.interval * 4;
        while opened.load(Ordering::Relaxed) < config.streams && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let since = started.elapsed();
        let idle = config.interval + config.interval / 2;
        std::thread::sleep(idle.saturating_sub(since));
        rss_open = rss_kib(pid);
    }
    let mut all = Tally::default();
    let mut hist = Histogram::<u64>::new(3)?;
    for h in handles {
        let (t, h) = h
            .join()
            .map_err(|_| anyhow::anyhow!("a stream thread panicked"))??;
        all.completed += t.completed;
        all.errors += t.errors;
        all.events += t.events;
        hist.add(h)?;
    }
    let per_stream = match (rss_before, rss_open) {
        (Some(b), Some(o)) => Some(o.saturating_sub(b) * 1024 / config.streams as u64),
        _ => None,
    };
    Ok(StreamsReport {
        url: config.url,
        streams: config.streams,
        opened: opened.load(Ordering::Relaxed),
        completed: all.completed,
        errors: all.errors,
        events: all.events,
        interval_ms: config.interval.as_millis() as u64,
        rss_before_kib: rss_before,
        rss_open_kib: rss_open,
        rss_per_stream_bytes: per_stream,
        delay_us: Percentiles::of(&hist),
    })
}

/// One stream: connect at `at`, send the request, read events until the body ends.
async fn one_stream(
    addr: std::net::SocketAddr,
    request: Rc<Vec<u8>>,
    at: Instant,
    opened: Arc<AtomicUsize>,
    tally: Rc<RefCell<Tally>>,
    hist: Rc<RefCell<Histogram<u64>>>,
) {
    monoio::time::sleep(at.saturating_duration_since(Instant::now())).await;
    let ok = async {
        let mut s = TcpStream::connect_addr(addr).await.ok()?;
        let _ = s.set_nodelay(true);
        s.write_all(request.as_ref().clone()).await.0.ok()?;
        let mut buf = Vec::with_capacity(4096);
        let mut head = false;
        loop {
            read_more(&mut s, &mut buf).await?;
            let now = now_us();
            if !head {
                let Some(end) = memchr::memmem::find(&buf, b"\r\n\r\n") else {
                    continue;
                };
                if !buf.starts_with(b"HTTP/1.1 200") {
                    return None;
                }
                head = true;
                opened.fetch_add(1, Ordering::Relaxed);
                // Only body bytes stay: a head can end in "0\r\n\r\n" too (an x-request-id
                // ending in 0).
                buf.drain(..end + 4);
            }
            // Each stamp is read once; a stamp split across reads waits for the next read.
            let mut scanned = 0;
            while let Some(at) = memchr::memmem::find(&buf[scanned..], b"sent_us:") {
                let start = scanned + at + "sent_us:".len();
                let Some(digits) = buf.get(start..start + 16) else {
                    break;
                };
                if let Some(sent) = std::str::from_utf8(digits)
                    .ok()
                    .and_then(|d| d.parse::<u64>().ok())
                {
                    let _ = hist.borrow_mut().record(now.saturating_sub(sent));
                    tally.borrow_mut().events += 1;
                }
                scanned = start + 16;
            }
            // The last chunk, after the previous chunk's CRLF (or alone, for an empty body).
            if buf.ends_with(b"\r\n0\r\n\r\n") || buf == b"0\r\n\r\n" {
                return Some(());
            }
            // Keep the buffer small: drop what has been scanned.
            buf.drain(..scanned);
        }
    }
    .await;
    let mut t = tally.borrow_mut();
    match ok {
        Some(()) => t.completed += 1,
        None => t.errors += 1,
    }
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// A process's resident memory (`VmRSS`), in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}
