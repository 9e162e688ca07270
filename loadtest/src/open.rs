//! Open-loop load at a constant arrival rate, without coordinated omission.
//!
//! Request k is due at `start + k / rate`. Connections take the due requests round-robin; a
//! connection that is still busy when its next request is due sends it as soon as it is free,
//! and that request's latency still counts from when it was due — so a stalled server shows up
//! as latency, not as fewer samples (the flaw of closed-loop tools, "coordinated omission").
//! Every request due before the end of the run is sent and measured; a run cut off by the grace
//! period counts what it could not send as `missed`.
//!
//! SSE-aware: for each answer, time to the first response byte, to the first event carrying
//! content, the gaps between events, and the total, each into an HDR histogram (microseconds,
//! three significant digits).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use monoio::io::AsyncWriteRentExt;
use monoio::net::TcpStream;
use serde::Serialize;
use warden_dataplane::http::body::ChunkedDecoder;
use warden_dataplane::http::parse::{parse_response, Framing};

use crate::load::{read_more, Target, LIMITS};

/// How long after the last due time a run waits for answers still in flight.
const GRACE: Duration = Duration::from_secs(30);

pub struct OpenConfig {
    pub target: Target,
    pub rate: f64,
    pub duration: Duration,
    pub connections: usize,
    pub threads: usize,
}

/// Percentiles of one histogram, in microseconds.
#[derive(Serialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Percentiles {
    pub count: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        Percentiles {
            count: h.len(),
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        }
    }
}

/// One open-loop run's results.
#[derive(Serialize, Debug, Clone, Default)]
pub struct OpenReport {
    pub url: String,
    pub offered_rps: f64,
    pub achieved_rps: f64,
    pub duration_s: f64,
    pub requests: u64,
    pub errors: u64,
    /// Due but never sent before the grace period ran out.
    pub missed: u64,
    /// From the due time to the last byte.
    pub total: Percentiles,
    /// From the due time to the first response byte.
    pub ttfb: Percentiles,
    /// From the due time to the first event carrying content (streams).
    pub first_content: Percentiles,
    /// Between consecutive events of a stream.
    pub gaps: Percentiles,
}

/// Histograms for one thread, merged at the end.
pub struct Hists {
    pub total: Histogram<u64>,
    pub ttfb: Histogram<u64>,
    pub first_content: Histogram<u64>,
    pub gaps: Histogram<u64>,
    pub requests: u64,
    pub errors: u64,
    pub missed: u64,
}

impl Hists {
    #[allow(clippy::expect_used)]
    pub fn new() -> Hists {
        // Constant, valid bounds: 1 µs to an hour, three significant digits.
        let h = || Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds");
        Hists {
            total: h(),
            ttfb: h(),
            first_content: h(),
            gaps: h(),
            requests: 0,
            errors: 0,
            missed: 0,
        }
    }

    fn merge(&mut self, o: &Hists) {
        let _ = self.total.add(&o.total);
        let _ = self.ttfb.add(&o.ttfb);
        let _ = self.first_content.add(&o.first_content);
        let _ = self.gaps.add(&o.gaps);
        self.requests += o.requests;
        self.errors += o.errors;
        self.missed += o.missed;
    }
}

impl Default for Hists {
    fn default() -> Self {
        Hists::new()
    }
}

fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// When request `k` is due.
pub fn due(start: Instant, rate: f64, k: u64) -> Instant {
    start + Duration::from_secs_f64(k as f64 / rate)
}

pub fn run(config: &OpenConfig) -> anyhow::Result<OpenReport> {
    anyhow::ensure!(config.rate > 0.0, "--rate must be positive");
    let connections = config.connections.max(1);
    let threads = config.threads.clamp(1, connections);
    let total_requests = (config.rate * config.duration.as_secs_f64()).ceil() as u64;
    let start = Instant::now() + Duration::from_millis(50);
    let mut handles = Vec::new();
    for t in 0..threads {
        let mine: Vec<u64> = (0..connections as u64)
            .filter(|c| *c as usize % threads == t)
            .collect();
        let target = config.target.clone();
        let (rate, n) = (config.rate, connections as u64);
        handles.push(std::thread::spawn(move || -> anyhow::Result<Hists> {
            let mut rt = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
                .with_entries(256)
                .enable_timer()
                .build()?;
            rt.block_on(async move {
                let hists = Rc::new(RefCell::new(Hists::new()));
                let target = Rc::new(target);
                let mut tasks = Vec::new();
                for c in mine {
                    let ks: Vec<u64> = (c..total_requests).step_by(n as usize).collect();
                    tasks.push(monoio::spawn(connection(
                        Rc::clone(&target),
                        start,
                        rate,
                        ks,
                        Rc::clone(&hists),
                    )));
                }
                for task in tasks {
                    task.await;
                }
                Ok(Rc::try_unwrap(hists)
                    .map(RefCell::into_inner)
                    .unwrap_or_default())
            })
        }));
    }
    let mut all = Hists::new();
    for h in handles {
        let t = h
            .join()
            .map_err(|_| anyhow::anyhow!("load thread panicked"))??;
        all.merge(&t);
    }
    let elapsed = start
        .elapsed()
        .as_secs_f64()
        .max(config.duration.as_secs_f64());
    Ok(OpenReport {
        url: config.target.url.clone(),
        offered_rps: config.rate,
        achieved_rps: (all.requests - all.errors) as f64 / elapsed,
        duration_s: elapsed,
        requests: all.requests,
        errors: all.errors,
        missed: all.missed,
        total: Percentiles::of(&all.total),
        ttfb: Percentiles::of(&all.ttfb),
        first_content: Percentiles::of(&all.first_content),
        gaps: Percentiles::of(&all.gaps),
    })
}

async fn connection(
    target: Rc<Target>,
    start: Instant,
    rate: f64,
    ks: Vec<u64>,
    hists: Rc<RefCell<Hists>>,
) {
    let mut stream: Option<TcpStream> = None;
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let last_due = ks.last().map_or(start, |k| due(start, rate, *k));
    for (i, k) in ks.iter().enumerate() {
        let at = due(start, rate, *k);
        if Instant::now() > last_due + GRACE {
            hists.borrow_mut().missed += (ks.len() - i) as u64;
            return;
        }
        if let Some(wait) = at.checked_duration_since(Instant::now()) {
            monoio::time::sleep(wait).await;
        }
        if stream.is_none() {
            match TcpStream::connect_addr(target.addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    stream = Some(s);
                }
                Err(_) => {
                    let mut h = hists.borrow_mut();
                    h.requests += 1;
                    h.errors += 1;
                    continue;
                }
            }
        }
        let Some(s) = stream.as_mut() else { continue };
        let mut timing = Timing::default();
        let outcome = exchange(s, &target.request, &mut buf, Some(&mut timing)).await;
        let done = Instant::now();
        let mut h = hists.borrow_mut();
        h.requests += 1;
        match outcome {
            Some(true) => {
                let _ = h.total.record(us(done - at));
                if let Some(t) = timing.first_byte {
                    let _ = h.ttfb.record(us(t - at));
                }
                if let Some(t) = timing.first_content {
                    let _ = h.first_content.record(us(t - at));
                }
                for g in timing.gaps {
                    let _ = h.gaps.record(us(g));
                }
            }
            Some(false) => h.errors += 1,
            None => {
                h.errors += 1;
                stream = None;
            }
        }
    }
}

/// When things happened during one answer.
#[derive(Default, Debug)]
pub struct Timing {
    pub first_byte: Option<Instant>,
    pub first_content: Option<Instant>,
    pub gaps: Vec<Duration>,
    last_event: Option<Instant>,
    pending: Vec<u8>,
}

impl Timing {
    /// Decoded body bytes arrived at `now`: time each complete SSE event.
    pub fn body(&mut self, bytes: &[u8], now: Instant) {
        self.pending.extend_from_slice(bytes);
        while let Some(end) = memchr::memmem::find(&self.pending, b"\n\n") {
            let event = &self.pending[..end];
            if self.first_content.is_none() && carries_content(event) {
                self.first_content = Some(now);
            }
            if let Some(prev) = self.last_event {
                self.gaps.push(now - prev);
            }
            self.last_event = Some(now);
            self.pending.drain(..end + 2);
        }
    }
}

/// An event with text in it: OpenAI's `"content":"…"`, Anthropic's and Gemini's `"text":"…"`,
/// a Responses stream's `"delta":"…"`.
fn carries_content(event: &[u8]) -> bool {
    [&b"\"content\":\""[..], b"\"text\":\"", b"\"delta\":\""]
        .iter()
        .any(|key| {
            memchr::memmem::find(event, key)
                .is_some_and(|i| event.get(i + key.len()).is_some_and(|c| *c != b'"'))
        })
}

/// One request/response, timed when `timing` is given. `Some(ok)` when the connection can be
/// reused, `None` when it broke.
pub(crate) async fn exchange(
    stream: &mut TcpStream,
    request: &[u8],
    buf: &mut Vec<u8>,
    mut timing: Option<&mut Timing>,
) -> Option<bool> {
    let (res, _) = stream.write_all(request.to_vec()).await;
    res.ok()?;
    buf.clear();
    let head = loop {
        if let Some(h) = parse_response(buf, LIMITS, false).ok()? {
            break h;
        }
        read_more(stream, buf).await?;
        if let Some(t) = timing.as_deref_mut() {
            t.first_byte.get_or_insert_with(Instant::now);
        }
    };
    let mut pos = head.len;
    match head.framing {
        Framing::Empty => {}
        Framing::Length(n) => {
            while buf.len() < head.len + n as usize {
                read_more(stream, buf).await?;
            }
        }
        Framing::Chunked => {
            let mut d = ChunkedDecoder::new(u64::MAX);
            let mut sink = Vec::new();
            loop {
                pos += d.decode(&buf[pos..], &mut sink).ok()?;
                if let Some(t) = timing.as_deref_mut() {
                    t.body(&sink, Instant::now());
                }
                sink.clear();
                if d.is_done() {
                    break;
                }
                read_more(stream, buf).await?;
            }
        }
        Framing::UntilClose => return None,
    }
    head.keep_alive.then_some(head.status == 200)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn events_are_timed_and_content_is_recognised() {
        let mut t = Timing::default();
        let t0 = Instant::now();
        t.body(
            b"data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n",
            t0,
        );
        assert_eq!(t.first_content, None, "an empty content is not content");
        t.body(
            b"data: {\"choices\":[{\"delta\":{\"content\":\"Hi",
            t0 + Duration::from_millis(5),
        );
        t.body(b"\"}}]}\n\n", t0 + Duration::from_millis(7));
        assert_eq!(t.first_content, Some(t0 + Duration::from_millis(7)));
        assert_eq!(t.gaps, [Duration::from_millis(7)]);
    }

    #[test]
    fn percentiles_come_from_the_histogram() {
        let mut h = Hists::new();
        for v in 1..=1000u64 {
            let _ = h.total.record(v * 1000);
        }
        let p = Percentiles::of(&h.total);
        assert_eq!(p.count, 1000);
        assert!((499_000..=501_000).contains(&p.p50_us), "{p:?}");
        assert!((989_000..=991_000).contains(&p.p99_us), "{p:?}");
    }

    #[test]
    fn the_schedule_is_evenly_spaced() {
        let s = Instant::now();
        assert_eq!(due(s, 100.0, 0), s);
        assert_eq!(due(s, 100.0, 250), s + Duration::from_millis(2500));
    }

    /// A server that stalls once for 600 ms: at 50 requests a second over one connection, the
    /// stall must appear as latency of the requests due during it, and no sample may be lost.
    #[test]
    fn a_stalled_server_shows_up_as_latency_not_as_fewer_samples() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        std::thread::spawn(move || {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            let mut buf = [0u8; 4096];
            let mut served = 0;
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 {
                    break;
                }
                served += 1;
                if served == 10 {
                    std::thread::sleep(Duration::from_millis(600));
                }
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}");
            }
        });
        let target = Target::new(
            &format!("http://{addr}/v1/chat/completions"),
            "k",
            b"{}".to_vec(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let report = run(&OpenConfig {
            target,
            rate: 50.0,
            duration: Duration::from_secs(2),
            connections: 1,
            threads: 1,
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            report.requests, 100,
            "every due request was sent and measured"
        );
        assert_eq!(report.errors, 0);
        // ~30 requests were due during the stall: well over 1 % of samples waited 100 ms+.
        assert!(report.total.p99_us >= 400_000, "{:?}", report.total);
        assert!(report.total.p50_us < 300_000, "{:?}", report.total);
    }
}
