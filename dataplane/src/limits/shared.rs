//! Limits shared by every data plane of a deployment (`[shared_limits] redis_url`): a project's
//! requests and tokens per minute hold across all of them, not per process, with no network
//! hop on the request path.
//!
//! Each process holds a grant per project and minute — a slice of the limit the shared store
//! (Redis) handed it — and admits from it with atomics only (`limits::admit`). One background
//! thread keeps the grants sized to each project's pace: every `sync_ms`, or at once when a shard
//! finds a grant running out, it asks the store for more, returns what a project no longer uses,
//! and charges what was admitted beyond the grant. The store never grants past the limit (one
//! Lua script reads, adds and grants atomically), so what all data planes admit in a minute is
//! the limit plus at most one request (and, for tokens, one request's estimate) per data plane —
//! the credit that lets a project's first request of a minute through before its grant arrives.
//! docs/scale-out.md states the bounds and measures them.
//!
//! A monthly spend cap is counted there too: spend is known only after the answer, so each tick
//! a process adds what it spent since its last report to the month's total and reads the total
//! back (`Store::spend`).
//!
//! When the store does not answer, the process admits up to `local_share` of each limit on its
//! own traffic (counting what it admitted in the minute so far), and charges the store with what
//! it admitted beyond its grants once it answers again.
//!
//! The store's keys are `warden:limits:{project}:{r|t}:{minute}`, expiring after two minutes,
//! and `warden:limits:{project}:s:{month}` for spend, after forty days.
//! Whoever can write to that Redis can exhaust a project's limits (refusals), never raise them
//! beyond what the data planes count themselves.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::Duration;

use serde::Deserialize;

use crate::cache::redis::{command, parse_reply, Target};

/// `[shared_limits]`: requests and tokens per minute, and the monthly spend cap, held across
/// every data plane that names the same store.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct SharedLimits {
    /// `redis://[:password@]host:port[/db]`, the same for every data plane that shares limits.
    pub redis_url: String,
    /// The share of each limit one data plane admits on its own while the store does not
    /// answer (1: the whole limit, as without a shared store; 1/N for N data planes: never more
    /// than the limit in all).
    #[serde(default = "default_share")]
    pub local_share: f64,
    /// How often grants are resized (and the store retried while it is away).
    #[serde(default = "default_sync_ms")]
    pub sync_ms: u64,
}

fn default_share() -> f64 {
    1.0
}

fn default_sync_ms() -> u64 {
    50
}

/// How admission works in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No shared store: each process enforces the whole limit on its own traffic.
    Local,
    /// From the grants of the shared store.
    Leased,
    /// The shared store is configured but away: `local_share` of each limit.
    Degraded,
}

/// The two per-minute limits a grant is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Requests,
    Tokens,
}

const MODES: [Mode; 3] = [Mode::Local, Mode::Leased, Mode::Degraded];
static MODE: AtomicU8 = AtomicU8::new(0);
/// `local_share` in millionths.
static SHARE_PPM: AtomicU64 = AtomicU64::new(1_000_000);
static THREAD: OnceLock<std::thread::Thread> = OnceLock::new();
/// Calls to the store by outcome (`warden_shared_limits_calls_total`): answered, failed.
static CALLS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// A grant is packed with its minute in one word: the minute in the high 25 bits (enough past
/// the year 2030), the amount in the low 39.
const AMOUNT_BITS: u32 = 39;
const AMOUNT_MASK: u64 = (1 << AMOUNT_BITS) - 1;

/// Grants outlive their minute in the store by this much (then the key expires).
const KEY_TTL_MS: &str = "120000";

/// A month's spend outlives the month in the store by a few days (40 days in all).
const SPEND_TTL_MS: &str = "3456000000";

/// Adds this process's spend since it last reported to the month's total, first raising the
/// total to the control plane's month-to-date figure if it holds less (a store that restarted
/// empty). KEYS[1] the month's key; ARGV: the spend to add, the floor, the key's time to live.
/// Returns the total. Picodollars in Lua's doubles: exact to $9 007 a month, then to within a
/// few picodollars.
const SPEND: &str = "local g = tonumber(redis.call('GET', KEYS[1]) or '0') \
local floor = tonumber(ARGV[2]) \
if g < floor then g = floor end \
g = g + tonumber(ARGV[1]) \
redis.call('SET', KEYS[1], string.format('%d', g), 'PX', ARGV[3]) \
return string.format('%d', g)";

/// Reads, charges and grants in one step: KEYS[1] the minute's key; ARGV: the limit, a charge
/// (what was admitted beyond grants, less what is returned; may be negative), the amount wanted,
/// the key's time to live. Returns the amount granted, as a string (a bulk reply).
const LEASE: &str = "local g = tonumber(redis.call('GET', KEYS[1]) or '0') + tonumber(ARGV[2]) \
if g < 0 then g = 0 end \
local grant = math.min(tonumber(ARGV[3]), tonumber(ARGV[1]) - g) \
if grant < 0 then grant = 0 end \
redis.call('SET', KEYS[1], string.format('%d', g + grant), 'PX', ARGV[4]) \
return string.format('%d', grant)";

pub fn mode() -> Mode {
    MODES
        .get(usize::from(MODE.load(Relaxed)))
        .copied()
        .unwrap_or(Mode::Local)
}

fn set_mode(m: Mode) {
    MODE.store(m as u8, Relaxed);
}

/// `local_share` of `limit`, at least 1.
pub fn share_of(limit: u64) -> u64 {
    let ppm = SHARE_PPM.load(Relaxed);
    (u128::from(limit) * u128::from(ppm))
        .div_ceil(1_000_000)
        .clamp(1, u128::from(u64::MAX)) as u64
}

pub fn pack(minute: u64, amount: u64) -> u64 {
    (minute << AMOUNT_BITS) | amount.min(AMOUNT_MASK)
}

/// The amount of a packed grant if it is for `minute`, else 0.
pub fn granted_in(packed: u64, minute: u64) -> u64 {
    if packed >> AMOUNT_BITS == minute & ((1 << (64 - AMOUNT_BITS)) - 1) {
        packed & AMOUNT_MASK
    } else {
        0
    }
}

/// The cell of a pair that holds `minute`'s grant (one per minute's parity).
pub fn cell(cells: &[AtomicU64; 2], minute: u64) -> &AtomicU64 {
    &cells[(minute % 2) as usize]
}

/// Ask the lease thread to look at the grants now (a shard found one running out).
pub fn wake() {
    if let Some(t) = THREAD.get() {
        t.unpark();
    }
}

impl SharedLimits {
    pub fn check(&self) -> Result<Target, String> {
        if !(self.local_share > 0.0 && self.local_share <= 1.0) {
            return Err("shared_limits.local_share must be more than 0 and at most 1".into());
        }
        if !(5..=10_000).contains(&self.sync_ms) {
            return Err("shared_limits.sync_ms must be 5..=10000".into());
        }
        Target::parse_for(&self.redis_url, "shared_limits.redis_url")
    }
}

/// Start sharing limits through the store: until it first answers, admission is `Degraded`.
/// Every `sync_ms`, or when woken, `tick` resizes the grants through the store and says whether
/// the store answered every call.
pub fn start(
    config: &SharedLimits,
    mut tick: impl FnMut(&mut Store) -> bool + Send + 'static,
) -> Result<(), String> {
    let target = config.check()?;
    SHARE_PPM.store((config.local_share * 1e6).round() as u64, Relaxed);
    set_mode(Mode::Degraded);
    let every = Duration::from_millis(config.sync_ms);
    let thread = std::thread::Builder::new()
        .name("warden-limits".into())
        .spawn(move || {
            let mut store = Store { target, conn: None };
            loop {
                let calls = CALLS[0].load(Relaxed);
                let mut ok = tick(&mut store);
                // Nothing to lease this tick: still find out whether the store answers.
                if ok && CALLS[0].load(Relaxed) == calls {
                    ok = store.call(&command(&[b"PING"])).is_ok();
                }
                store.settle_mode(ok);
                std::thread::park_timeout(every);
            }
        })
        .map_err(|e| format!("starting the shared-limits thread: {e}"))?;
    let _ = THREAD.set(thread.thread().clone());
    Ok(())
}

/// The shared store did not answer, or answered something other than a grant.
#[derive(Debug)]
pub struct Unanswered;

/// The lease thread's connection to the shared store.
pub struct Store {
    target: Target,
    conn: Option<TcpStream>,
}

impl Store {
    fn settle_mode(&mut self, ok: bool) {
        if ok {
            if mode() != Mode::Leased {
                tracing::info!("the shared limit store answers: admitting from its grants");
            }
            set_mode(Mode::Leased);
        } else {
            if mode() != Mode::Degraded {
                tracing::warn!(
                    "the shared limit store does not answer: admitting a local share of each limit"
                );
            }
            set_mode(Mode::Degraded);
            self.conn = None;
        }
    }

    /// In one step on the store: add `charge` (admitted beyond grants, less what is returned)
    /// to the minute's `key`, and grant up to `want` more without passing `limit`. The grant.
    pub fn lease(
        &mut self,
        key: &str,
        limit: u64,
        charge: i128,
        want: u64,
    ) -> Result<u64, Unanswered> {
        let (limit, charge, want) = (limit.to_string(), charge.to_string(), want.to_string());
        let parts: [&[u8]; 8] = [
            b"EVAL",
            LEASE.as_bytes(),
            b"1",
            key.as_bytes(),
            limit.as_bytes(),
            charge.as_bytes(),
            want.as_bytes(),
            KEY_TTL_MS.as_bytes(),
        ];
        self.answered(&command(&parts))
    }

    /// Add `delta` picodollars to the month's `key` (raised first to `floor`, the control
    /// plane's month-to-date figure, if it holds less); the deployment's total.
    pub fn spend(&mut self, key: &str, delta: u64, floor: u64) -> Result<u64, Unanswered> {
        let (delta, floor) = (delta.to_string(), floor.to_string());
        let parts: [&[u8]; 7] = [
            b"EVAL",
            SPEND.as_bytes(),
            b"1",
            key.as_bytes(),
            delta.as_bytes(),
            floor.as_bytes(),
            SPEND_TTL_MS.as_bytes(),
        ];
        self.answered(&command(&parts))
    }

    /// A command whose answer is a number (as a bulk string), counted by outcome.
    fn answered(&mut self, request: &[u8]) -> Result<u64, Unanswered> {
        let reply = self.call(request);
        let slot = usize::from(reply.is_err());
        if let Some(c) = CALLS.get(slot) {
            c.fetch_add(1, Relaxed);
        }
        reply
            .map_err(|_| Unanswered)?
            .and_then(|v| std::str::from_utf8(&v).ok()?.parse().ok())
            .ok_or(Unanswered)
    }

    /// One command on the connection (made first if there is none), within the timeouts.
    fn call(&mut self, request: &[u8]) -> Result<Option<Vec<u8>>, ()> {
        if self.conn.is_none() {
            self.conn = Some(connect(&self.target).map_err(|_| ())?);
        }
        let conn = self.conn.as_mut().ok_or(())?;
        exchange(conn, request).map_err(|_| ())
    }
}

/// The store's key for a project's spend in one month (its first day, days since the epoch).
pub fn spend_key(project: &str, month: i64) -> String {
    format!("warden:limits:{project}:s:{month}")
}

/// The store's key for a project's grants of one kind in one minute.
pub fn key(project: &str, kind: Kind, minute: u64) -> String {
    let k = if kind == Kind::Requests { "r" } else { "t" };
    format!("warden:limits:{project}:{k}:{minute}")
}

fn connect(t: &Target) -> std::io::Result<TcpStream> {
    let timeout = Duration::from_millis(500);
    let mut s = TcpStream::connect_timeout(&t.addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    s.set_nodelay(true)?;
    if let Some(p) = &t.password {
        exchange(&mut s, &command(&[b"AUTH", p.as_bytes()]))?;
    }
    if t.db != 0 {
        let db = t.db.to_string();
        exchange(&mut s, &command(&[b"SELECT", db.as_bytes()]))?;
    }
    Ok(s)
}

/// Write `request`, read one short reply (a grant is a few digits).
fn exchange(s: &mut TcpStream, request: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
    s.write_all(request)?;
    let mut buf = Vec::with_capacity(64);
    let mut chunk = [0u8; 256];
    loop {
        match parse_reply(&buf, 64) {
            Ok(Some(reply)) => return Ok(reply),
            Ok(None) => {}
            Err(e) => return Err(std::io::Error::other(e.0)),
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}

/// `warden_shared_limits_mode` and `warden_shared_limits_calls_total`.
pub fn render(out: &mut String) {
    use std::fmt::Write;
    let current = mode();
    let _ = writeln!(out, "# HELP warden_shared_limits_mode How limits are admitted: local (no shared store), leased (from the shared store's grants) or degraded (the store is away: a local share).\n# TYPE warden_shared_limits_mode gauge");
    for (m, name) in MODES.iter().zip(["local", "leased", "degraded"]) {
        let _ = writeln!(
            out,
            "warden_shared_limits_mode{{mode=\"{name}\"}} {}",
            u8::from(*m == current)
        );
    }
    let _ = writeln!(out, "# HELP warden_shared_limits_calls_total Calls to the shared limit store (grants, returns, charges), by outcome.\n# TYPE warden_shared_limits_calls_total counter");
    for (c, outcome) in CALLS.iter().zip(["answered", "failed"]) {
        let _ = writeln!(
            out,
            "warden_shared_limits_calls_total{{outcome=\"{outcome}\"}} {}",
            c.load(Relaxed)
        );
    }
}
