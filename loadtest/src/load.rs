//! `warden-loadtest run`: a closed-loop, keep-alive HTTP/1.1 load generator — N connections,
//! each sending its next request as soon as the previous response is complete — reporting
//! throughput and latency percentiles as one JSON line.
//!
//! Latency is measured per request from the first byte written to the last byte read. Closed
//! loop measures capacity, not latency under a fixed arrival rate; the open-loop generator of
//! the benchmark harness issue is the tool for that.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use monoio::buf::IoBufMut;
use monoio::io::AsyncReadRent;
use monoio::net::TcpStream;
use serde::Serialize;
use warden_dataplane::http::parse::Limits;
use warden_dataplane::upstream::origin::Origin;

pub(crate) const LIMITS: Limits = Limits {
    max_head: 64 * 1024,
    max_headers: 100,
};
/// Latency samples kept per thread; beyond this, samples are dropped (counts stay exact).
const MAX_SAMPLES: usize = 20_000_000;

pub struct LoadConfig {
    pub url: String,
    pub connections: usize,
    pub threads: usize,
    pub duration: Duration,
    pub key: String,
    pub body: Vec<u8>,
}

#[derive(Serialize, Debug)]
pub struct Report {
    pub url: String,
    pub connections: usize,
    pub duration_s: f64,
    pub requests: u64,
    pub errors: u64,
    pub rps: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

#[derive(Default)]
struct Tally {
    samples: Vec<u32>,
    requests: u64,
    errors: u64,
}

/// Where requests go and the bytes of one request.
#[derive(Clone, Debug)]
pub struct Target {
    pub url: String,
    pub addr: std::net::SocketAddr,
    pub request: Vec<u8>,
}

impl Target {
    /// A `POST` of `body` to `url` (plain HTTP) with `key` as the bearer token.
    pub fn new(url: &str, key: &str, body: Vec<u8>) -> anyhow::Result<Target> {
        Target::with_headers(url, key, body, &[])
    }

    /// [`Target::new`] with extra request headers (a peer gateway's routing headers).
    pub fn with_headers(
        url: &str,
        key: &str,
        body: Vec<u8>,
        extra: &[(String, String)],
    ) -> anyhow::Result<Target> {
        let origin = Origin::parse(url).map_err(anyhow::Error::msg)?;
        anyhow::ensure!(!origin.tls, "the load generator speaks plain HTTP only");
        let after_scheme = &url["http://".len()..];
        let path = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
        let addr = std::net::ToSocketAddrs::to_socket_addrs(&(origin.host.as_ref(), origin.port))?
            .next()
            .ok_or_else(|| anyhow::anyhow!("no address for {}", origin.host))?;
        let extra: String = extra.iter().map(|(n, v)| format!("{n}: {v}\r\n")).collect();
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {key}\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\n\r\n",
            origin.authority,
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(&body);
        Ok(Target {
            url: url.to_owned(),
            addr,
            request,
        })
    }
}

pub fn run(config: LoadConfig) -> anyhow::Result<Report> {
    let target = Target::new(&config.url, &config.key, config.body.clone())?;
    let addr = target.addr;
    let request = Rc::new(target.request);
    let threads = config.threads.clamp(1, config.connections.max(1));
    let started = Instant::now();
    let deadline = started + config.duration;
    let mut handles = Vec::new();
    for t in 0..threads {
        let conns = config.connections / threads + usize::from(t < config.connections % threads);
        let request = request.as_ref().clone();
        handles.push(std::thread::spawn(move || -> anyhow::Result<Tally> {
            let mut rt = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
                .with_entries(256)
                .enable_timer()
                .build()?;
            rt.block_on(async move {
                let tally = Rc::new(RefCell::new(Tally::default()));
                let request = Rc::new(request);
                let mut tasks = Vec::new();
                for _ in 0..conns {
                    tasks.push(monoio::spawn(connection(
                        addr,
                        Rc::clone(&request),
                        deadline,
                        Rc::clone(&tally),
                    )));
                }
                for task in tasks {
                    task.await;
                }
                Ok(Rc::try_unwrap(tally)
                    .map(RefCell::into_inner)
                    .unwrap_or_default())
            })
        }));
    }
    let mut all = Tally::default();
    for h in handles {
        let t = h
            .join()
            .map_err(|_| anyhow::anyhow!("load thread panicked"))??;
        all.requests += t.requests;
        all.errors += t.errors;
        all.samples.extend(t.samples);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.samples.sort_unstable();
    let pct = |p: f64| -> u64 {
        if all.samples.is_empty() {
            return 0;
        }
        let i = ((all.samples.len() as f64 * p).ceil() as usize).clamp(1, all.samples.len()) - 1;
        u64::from(all.samples[i])
    };
    Ok(Report {
        url: config.url,
        connections: config.connections,
        duration_s: elapsed,
        requests: all.requests,
        errors: all.errors,
        rps: all.requests as f64 / elapsed,
        p50_us: pct(0.50),
        p90_us: pct(0.90),
        p99_us: pct(0.99),
        p999_us: pct(0.999),
        max_us: all.samples.last().map_or(0, |v| u64::from(*v)),
    })
}

async fn connection(
    addr: std::net::SocketAddr,
    request: Rc<Vec<u8>>,
    deadline: Instant,
    tally: Rc<RefCell<Tally>>,
) {
    let mut stream: Option<TcpStream> = None;
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    while Instant::now() < deadline {
        if stream.is_none() {
            match TcpStream::connect_addr(addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    stream = Some(s);
                }
                Err(_) => {
                    tally.borrow_mut().errors += 1;
                    monoio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let Some(s) = stream.as_mut() else { continue };
        let start = Instant::now();
        let ok = crate::open::exchange(s, &request, &mut buf, None).await;
        let us = start.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
        let mut t = tally.borrow_mut();
        t.requests += 1;
        match ok {
            Some(true) => {
                if t.samples.len() < MAX_SAMPLES {
                    t.samples.push(us);
                }
            }
            Some(false) => t.errors += 1,
            None => {
                t.errors += 1;
                stream = None;
            }
        }
    }
}

pub(crate) async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<()> {
    if buf.capacity() - buf.len() < 8192 {
        buf.reserve(64 * 1024);
    }
    let (len, cap) = (buf.len(), buf.capacity());
    let (res, slice) = stream.read(std::mem::take(buf).slice_mut(len..cap)).await;
    *buf = slice.into_inner();
    match res {
        Ok(n) if n > 0 => Some(()),
        _ => None,
    }
}
