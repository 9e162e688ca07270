//! The shared tier of the answer cache: one Redis server that several data planes read and fill
//! (`[cache] redis_url`). Each shard talks to it over its own few connections on its own monoio
//! runtime — no thread handoff, no lock — with RESP2's `GET` and `SET … PX` only.
//!
//! There is no maintained Redis client for monoio (redis-rs needs tokio or blocking sockets), and
//! two commands of RESP2 are a few dozen lines: what is written here is framing, bounded and
//! strict. Every operation has a deadline; an error or a timeout drops that connection and counts
//! as a miss (`warden_cache_remote_errors_total`): Redis being away never fails a request.
//!
//! Values are `WC2`, a flags byte (event stream or not), when the answer was kept and when it
//! expires as Unix milliseconds (it is served until the earlier of that expiry and its fill plus
//! the project's TTL as it is when read), the
//! project id (length-prefixed, compared on read: isolation does not rest on the key alone), the
//! provider's bytes, and an HMAC-SHA256 over the key's name and all of that. Keys are
//! `warden:cache:` and the hex of the entry's key. The key's salt and the MAC key are derived from
//! the master key, which the data planes of one deployment share: only they compute each other's
//! keys, and whoever else can write to the Redis server (a neighbour on its network, another
//! deployment) cannot plant an answer — a value that fails its MAC is no value.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::Key;

/// Connections kept idle per shard.
const IDLE: usize = 4;
/// Bytes asked for per read.
const READ: usize = 16 * 1024;

/// Where the shared tier lives, parsed from `redis://[:password@]host:port[/db]`.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub password: Option<String>,
    pub db: u16,
}

/// One shard's client.
pub struct Redis {
    target: Target,
    timeout: Duration,
    /// Signs and checks values (derived from the master key).
    mac_key: [u8; 32],
    /// The largest value read back (an entry's bound plus its header).
    max_value: usize,
    idle: RefCell<Vec<TcpStream>>,
}

/// What was read back for a key.
pub struct Found {
    pub event_stream: bool,
    /// When the answer was kept and when it expires (its TTL then), Unix milliseconds, by the
    /// clock of the data plane that kept it.
    pub filled_ms: u64,
    pub expires_ms: u64,
    pub project: String,
    pub body: Vec<u8>,
}

#[derive(Debug)]
pub struct RedisError(pub &'static str);

impl Target {
    /// `url` as `redis://[:password@]host:port[/db]`; errors name the setting (`key`).
    pub fn parse(url: &str) -> Result<Target, String> {
        Target::parse_for(url, "cache.redis_url")
    }

    pub fn parse_for(url: &str, key: &str) -> Result<Target, String> {
        let rest = url
            .strip_prefix("redis://")
            .ok_or_else(|| format!("{key}: must start with redis://"))?;
        let (auth, rest) = match rest.rsplit_once('@') {
            Some((auth, rest)) => (Some(auth), rest),
            None => (None, rest),
        };
        let password = auth.map(|a| a.rsplit_once(':').map_or(a, |(_, p)| p).to_owned());
        let (hostport, db) = rest.split_once('/').unwrap_or((rest, "0"));
        let db = if db.is_empty() { "0" } else { db };
        let db: u16 = db
            .parse()
            .map_err(|_| format!("{key}: database {db:?} is not a number"))?;
        use std::net::ToSocketAddrs;
        let addr = hostport
            .to_socket_addrs()
            .map_err(|e| format!("{key}: {hostport}: {e}"))?
            .next()
            .ok_or_else(|| format!("{key}: {hostport} has no address"))?;
        Ok(Target { addr, password, db })
    }
}

impl Redis {
    pub fn new(target: Target, timeout: Duration, mac_key: [u8; 32], max_value: usize) -> Redis {
        Redis {
            target,
            timeout,
            mac_key,
            max_value,
            idle: RefCell::new(Vec::new()),
        }
    }

    /// The value under `key` (`None`: absent, or unreadable as a cache value).
    pub async fn get(&self, key: &Key) -> Result<Option<Found>, RedisError> {
        let name = key_name(key);
        let reply = self.call(command(&[b"GET", &name])).await?;
        Ok(reply.and_then(|v| decode(&self.mac_key, &name, &v)))
    }

    /// Keep `body`, filled at `filled_ms`, under `key` until `expires_ms` (Unix ms).
    pub async fn set(
        &self,
        key: &Key,
        head: (bool, u64, u64, &str),
        body: &[u8],
    ) -> Result<(), RedisError> {
        let ttl = head.2.saturating_sub(now_ms()).max(1).to_string();
        let name = key_name(key);
        let value = encode(&self.mac_key, &name, head, body);
        self.call(command(&[b"SET", &name, &value, b"PX", ttl.as_bytes()]))
            .await
            .map(|_| ())
    }

    /// Send one command and read its reply, on an idle connection or a new one, within the
    /// deadline. A connection that failed in any way is dropped.
    async fn call(&self, request: Vec<u8>) -> Result<Option<Vec<u8>>, RedisError> {
        let work = async {
            // Taken out before any await: another task of this shard may want one meanwhile.
            let pooled = self.idle.borrow_mut().pop();
            let mut conn = match pooled {
                Some(c) => c,
                None => self.connect().await?,
            };
            let reply = exchange(&mut conn, request, self.max_value).await?;
            let mut idle = self.idle.borrow_mut();
            if idle.len() < IDLE {
                idle.push(conn);
            }
            Ok(reply)
        };
        monoio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| RedisError("timed out"))?
    }

    async fn connect(&self) -> Result<TcpStream, RedisError> {
        let mut conn = TcpStream::connect_addr(self.target.addr)
            .await
            .map_err(|_| RedisError("connect failed"))?;
        let _ = conn.set_nodelay(true);
        if let Some(p) = &self.target.password {
            exchange(&mut conn, command(&[b"AUTH", p.as_bytes()]), 64).await?;
        }
        if self.target.db != 0 {
            let db = self.target.db.to_string();
            exchange(&mut conn, command(&[b"SELECT", db.as_bytes()]), 64).await?;
        }
        Ok(conn)
    }
}

/// Write `request`, read one reply: a bulk string (`Some`), nil (`None`) or a simple `+OK`.
async fn exchange(
    conn: &mut TcpStream,
    request: Vec<u8>,
    max_value: usize,
) -> Result<Option<Vec<u8>>, RedisError> {
    let (res, _) = conn.write_all(request).await;
    res.map_err(|_| RedisError("write failed"))?;
    let mut buf: Vec<u8> = Vec::with_capacity(READ);
    loop {
        match parse_reply(&buf, max_value)? {
            Some(reply) => return Ok(reply),
            None => {
                if buf.capacity() - buf.len() < READ / 2 {
                    buf.reserve(READ);
                }
                let (len, cap) = (buf.len(), buf.capacity());
                let (res, b) = conn
                    .read(std::mem::take(&mut buf).slice_mut(len..cap))
                    .await;
                buf = b.into_inner();
                match res {
                    Ok(0) | Err(_) => return Err(RedisError("connection closed")),
                    Ok(_) => {}
                }
            }
        }
    }
}

/// One complete reply at the start of `buf`, or `Ok(None)` when more bytes are needed.
/// `Ok(Some(None))` is nil or a status; an error reply or anything else is an error.
#[allow(clippy::type_complexity)]
pub fn parse_reply(buf: &[u8], max_value: usize) -> Result<Option<Option<Vec<u8>>>, RedisError> {
    let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
        if buf.len() > 1024 {
            return Err(RedisError("reply line too long"));
        }
        return Ok(None);
    };
    let line = &buf[..end];
    match line.first() {
        Some(b'+') => Ok(Some(None)),
        Some(b'-') => Err(RedisError("error reply")),
        Some(b'$') => {
            let len: i64 = std::str::from_utf8(&line[1..])
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or(RedisError("bad bulk length"))?;
            if len < 0 {
                return Ok(Some(None));
            }
            let len = len as usize;
            if len > max_value {
                return Err(RedisError("value larger than an entry may be"));
            }
            let start = end + 2;
            if buf.len() < start + len + 2 {
                return Ok(None);
            }
            if &buf[start + len..start + len + 2] != b"\r\n" {
                return Err(RedisError("bad bulk terminator"));
            }
            Ok(Some(Some(buf[start..start + len].to_vec())))
        }
        _ => Err(RedisError("unexpected reply")),
    }
}

/// A RESP array of bulk strings.
pub fn command(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len() + 16).sum::<usize>() + 16);
    out.extend_from_slice(format!("*{}\r\n", parts.len()).as_bytes());
    for p in parts {
        out.extend_from_slice(format!("${}\r\n", p.len()).as_bytes());
        out.extend_from_slice(p);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn key_name(key: &Key) -> Vec<u8> {
    let mut name = b"warden:cache:".to_vec();
    name.extend_from_slice(warden_shared::audit::hex(&key.0).as_bytes());
    name
}

/// The length of an HMAC-SHA256 tag.
const MAC: usize = 32;

fn mac(mac_key: &[u8; 32], name: &[u8]) -> Hmac<Sha256> {
    let mut m = match <Hmac<Sha256> as Mac>::new_from_slice(mac_key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    };
    m.update(&(name.len() as u64).to_le_bytes());
    m.update(name);
    m
}

fn encode(
    mac_key: &[u8; 32],
    name: &[u8],
    (event_stream, filled_ms, expires_ms, project): (bool, u64, u64, &str),
    body: &[u8],
) -> Vec<u8> {
    let mut v = Vec::with_capacity(body.len() + project.len() + 24 + MAC);
    v.extend_from_slice(b"WC2");
    v.push(u8::from(event_stream));
    v.extend_from_slice(&filled_ms.to_le_bytes());
    v.extend_from_slice(&expires_ms.to_le_bytes());
    v.extend_from_slice(&(project.len() as u16).to_le_bytes());
    v.extend_from_slice(project.as_bytes());
    v.extend_from_slice(body);
    let mut m = mac(mac_key, name);
    m.update(&v);
    v.extend_from_slice(&m.finalize().into_bytes());
    v
}

/// A value read back, if its MAC holds for this key's name and it is well formed.
fn decode(mac_key: &[u8; 32], name: &[u8], v: &[u8]) -> Option<Found> {
    let (signed, tag) = v.split_at(v.len().checked_sub(MAC)?);
    let mut m = mac(mac_key, name);
    m.update(signed);
    m.verify_slice(tag).ok()?;
    let rest = signed.strip_prefix(b"WC2")?;
    let (&flags, rest) = rest.split_first()?;
    let filled_ms = u64::from_le_bytes(rest.get(..8)?.try_into().ok()?);
    let expires_ms = u64::from_le_bytes(rest.get(8..16)?.try_into().ok()?);
    let rest = &rest[16..];
    let n = u16::from_le_bytes(rest.get(..2)?.try_into().ok()?) as usize;
    let project = std::str::from_utf8(rest.get(2..2 + n)?).ok()?.to_owned();
    Some(Found {
        event_stream: flags == 1,
        filled_ms,
        expires_ms,
        project,
        body: rest.get(2 + n..)?.to_vec(),
    })
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read_only_when_whole_and_within_bounds() {
        assert_eq!(parse_reply(b"$-1\r\n", 10).unwrap(), Some(None));
        assert_eq!(parse_reply(b"+OK\r\n", 10).unwrap(), Some(None));
        assert_eq!(
            parse_reply(b"$3\r\nabc\r\n", 10).unwrap(),
            Some(Some(b"abc".to_vec()))
        );
        let whole = b"$5\r\nab\r\nc\r\n";
        for cut in 0..whole.len() {
            assert_eq!(parse_reply(&whole[..cut], 10).unwrap(), None, "{cut}");
        }
        assert_eq!(
            parse_reply(whole, 10).unwrap(),
            Some(Some(b"ab\r\nc".to_vec()))
        );
        assert!(parse_reply(b"$11\r\n", 10).is_err(), "over the bound");
        assert!(parse_reply(b"-ERR no\r\n", 10).is_err());
        assert!(parse_reply(b"$3\r\nabcXY", 10).is_err());
        assert!(parse_reply(b":1\r\n", 10).is_err());
        assert!(parse_reply(&[b'x'; 2000], 10).is_err());
    }

    #[test]
    fn values_round_trip_and_anything_unsigned_is_no_value() {
        let (k, name) = ([7u8; 32], b"warden:cache:ab".as_slice());
        let v = encode(&k, name, (true, 42, 99, "acme-prod"), b"data: x\n\n");
        let f = decode(&k, name, &v).unwrap();
        assert!(f.event_stream);
        assert_eq!(
            (f.filled_ms, f.expires_ms, f.project.as_str()),
            (42, 99, "acme-prod")
        );
        assert_eq!(f.body, b"data: x\n\n");
        assert!(decode(&k, name, b"WC2").is_none());
        assert!(decode(&k, name, b"something else").is_none());
        assert!(decode(&k, name, &v[..v.len() - 1]).is_none());
        // Another deployment's MAC key, another key's name, one changed byte: no value.
        assert!(decode(&[8u8; 32], name, &v).is_none());
        assert!(decode(&k, b"warden:cache:cd", &v).is_none());
        let mut forged = v.clone();
        forged[20] ^= 1;
        assert!(decode(&k, name, &forged).is_none());
    }

    #[test]
    fn urls_are_read() {
        let t = Target::parse("redis://:s3cret@127.0.0.1:6379/2").unwrap();
        assert_eq!(t.password.as_deref(), Some("s3cret"));
        assert_eq!((t.db, t.addr.port()), (2, 6379));
        let t = Target::parse("redis://127.0.0.1:6380").unwrap();
        assert_eq!((t.password, t.db), (None, 0));
        assert!(Target::parse("http://127.0.0.1:6379").is_err());
        assert!(Target::parse("redis://127.0.0.1:6379/x").is_err());
    }
}
