//! The compact binary form of an audit record: what a shard writes into its ring and what the
//! segment files hold. A record is about a third of its JSON size (no field names, varint
//! numbers, the client address as bytes), and encoding it is a few copies, cheap enough for the
//! shard thread. `audit export` turns it back into JSON.
//!
//! ```text
//! payload = 0xB1 field*          (0xB1 tells it from the JSON payloads of older segments, which start with '{')
//! field   = tag u8 value         (fields in any order; absent fields are left out)
//! value   = varint (LEB128, at most 10 bytes) | string (varint length, UTF-8) | the composites below
//! attempt = provider, key_id, key_source, outcome (strings), status (varint, 0 = none); one field each
//! verdict = category, detector, action (strings), count (varint); one field each
//! usage   = input, output, cached, reasoning (varints)
//! client  = 4 (IPv4) or 6 (IPv6), then the address's bytes, then the port (u16 LE)
//! ```
//!
//! Decoding is strict: an unknown tag, a truncated value, a number out of its field's range or
//! invalid UTF-8 is an error, never a guess. The bytes come from this process or a file the
//! chain protects, but a reader still treats them as untrusted.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{Attempt, Kind, Record, Usage, Verdict};

/// The first byte of a binary record.
pub const VERSION: u8 = 0xB1;

mod tag;

/// An upstream attempt as the encoder reads it, whoever holds it (a [`Record`] or a shard's
/// own entry with shared strings).
pub trait AttemptFields {
    /// provider, key id, key source, outcome, status.
    fn fields(&self) -> (&str, &str, &str, &str, Option<u16>);
}

/// A guardrail verdict as the encoder reads it.
pub trait VerdictFields {
    /// category, detector, action, count.
    fn fields(&self) -> (&str, &str, &str, u32);
}

/// A record borrowed field by field: the one thing the encoder reads, so the field list is
/// written once for both [`Record`] and the data plane's per-request entry.
#[derive(Debug, Clone, Copy)]
pub struct View<'a, A, V> {
    pub kind: Kind,
    pub at_us: u64,
    pub request_id: Option<&'a str>,
    pub received_us: Option<u64>,
    pub first_byte_us: Option<u64>,
    pub tenant: Option<&'a str>,
    pub project: Option<&'a str>,
    pub environment: Option<&'a str>,
    pub api_key_id: Option<&'a str>,
    pub client: Option<SocketAddr>,
    pub dialect: Option<&'a str>,
    pub route: Option<&'a str>,
    pub stream: Option<bool>,
    pub model_alias: Option<&'a str>,
    pub provider: Option<&'a str>,
    pub upstream_model: Option<&'a str>,
    pub key_source: Option<&'a str>,
    pub provider_key_id: Option<&'a str>,
    pub provider_key_fingerprint: Option<&'a str>,
    pub attempts: &'a [A],
    pub status: Option<u16>,
    pub error: Option<&'a str>,
    pub usage: Option<Usage>,
    pub usage_estimated: Option<bool>,
    /// `exact` | `semantic`: answered from the cache.
    pub cache: Option<&'a str>,
    pub verdicts: &'a [V],
    /// The injection model's highest score over the request's texts, in thousandths.
    pub injection_score: Option<u16>,
    pub overhead_us: Option<u64>,
    pub upstream_us: Option<u64>,
    pub count: Option<u64>,
    pub deleted_through: Option<u64>,
    pub shard: Option<u32>,
    pub seq: Option<u64>,
}

/// Why a payload could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub &'static str);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "audit record: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

impl<A: AttemptFields, V: VerdictFields> View<'_, A, V> {
    /// Append the binary record to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(VERSION);
        num(out, tag::KIND, kind_code(self.kind));
        num(out, tag::AT_US, self.at_us);
        let strs = [
            (tag::REQUEST_ID, self.request_id),
            (tag::TENANT, self.tenant),
            (tag::PROJECT, self.project),
            (tag::ENVIRONMENT, self.environment),
            (tag::API_KEY_ID, self.api_key_id),
            (tag::DIALECT, self.dialect),
            (tag::ROUTE, self.route),
            (tag::MODEL_ALIAS, self.model_alias),
            (tag::PROVIDER, self.provider),
            (tag::UPSTREAM_MODEL, self.upstream_model),
            (tag::KEY_SOURCE, self.key_source),
            (tag::PROVIDER_KEY_ID, self.provider_key_id),
            (tag::PROVIDER_KEY_FINGERPRINT, self.provider_key_fingerprint),
            (tag::ERROR, self.error),
            (tag::CACHE, self.cache),
        ];
        for (t, v) in strs {
            if let Some(v) = v {
                out.push(t);
                string(out, v);
            }
        }
        let nums = [
            (tag::RECEIVED_US, self.received_us),
            (tag::FIRST_BYTE_US, self.first_byte_us),
            (tag::STREAM, self.stream.map(u64::from)),
            (tag::USAGE_ESTIMATED, self.usage_estimated.map(u64::from)),
            (tag::STATUS, self.status.map(u64::from)),
            (tag::OVERHEAD_US, self.overhead_us),
            (tag::UPSTREAM_US, self.upstream_us),
            (tag::COUNT, self.count),
            (tag::DELETED_THROUGH, self.deleted_through),
            (tag::SHARD, self.shard.map(u64::from)),
            (tag::SEQ, self.seq),
            (tag::INJECTION_SCORE, self.injection_score.map(u64::from)),
        ];
        for (t, v) in nums {
            if let Some(v) = v {
                num(out, t, v);
            }
        }
        if let Some(c) = self.client {
            out.push(tag::CLIENT);
            match c.ip() {
                IpAddr::V4(ip) => {
                    out.push(4);
                    out.extend_from_slice(&ip.octets());
                }
                IpAddr::V6(ip) => {
                    out.push(6);
                    out.extend_from_slice(&ip.octets());
                }
            }
            out.extend_from_slice(&c.port().to_le_bytes());
        }
        for a in self.attempts {
            let (provider, key_id, key_source, outcome, status) = a.fields();
            out.push(tag::ATTEMPT);
            for s in [provider, key_id, key_source, outcome] {
                string(out, s);
            }
            varint(out, status.map_or(0, u64::from));
        }
        if let Some(u) = self.usage {
            out.push(tag::USAGE);
            for v in [
                u.input_tokens,
                u.output_tokens,
                u.cached_tokens,
                u.reasoning_tokens,
            ] {
                varint(out, v);
            }
        }
        for v in self.verdicts {
            let (category, detector, action, count) = v.fields();
            out.push(tag::VERDICT);
            for s in [category, detector, action] {
                string(out, s);
            }
            varint(out, u64::from(count));
        }
    }
}

impl AttemptFields for Attempt {
    fn fields(&self) -> (&str, &str, &str, &str, Option<u16>) {
        (
            &self.provider,
            &self.key_id,
            &self.key_source,
            &self.outcome,
            self.status,
        )
    }
}

impl VerdictFields for Verdict {
    fn fields(&self) -> (&str, &str, &str, u32) {
        (&self.category, &self.detector, &self.action, self.count)
    }
}

impl Record {
    /// The record borrowed for encoding.
    pub fn view(&self) -> View<'_, Attempt, Verdict> {
        View {
            kind: self.kind,
            at_us: self.at_us,
            request_id: self.request_id.as_deref(),
            received_us: self.received_us,
            first_byte_us: self.first_byte_us,
            tenant: self.tenant.as_deref(),
            project: self.project.as_deref(),
            environment: self.environment.as_deref(),
            api_key_id: self.api_key_id.as_deref(),
            client: self.client.as_deref().and_then(|c| c.parse().ok()),
            dialect: self.dialect.as_deref(),
            route: self.route.as_deref(),
            stream: self.stream,
            model_alias: self.model_alias.as_deref(),
            provider: self.provider.as_deref(),
            upstream_model: self.upstream_model.as_deref(),
            key_source: self.key_source.as_deref(),
            provider_key_id: self.provider_key_id.as_deref(),
            provider_key_fingerprint: self.provider_key_fingerprint.as_deref(),
            attempts: &self.attempts,
            status: self.status,
            error: self.error.as_deref(),
            usage: self.usage,
            usage_estimated: self.usage_estimated,
            cache: self.cache.as_deref(),
            injection_score: self.injection_score,
            verdicts: &self.verdicts,
            overhead_us: self.overhead_us,
            upstream_us: self.upstream_us,
            count: self.count,
            deleted_through: self.deleted_through,
            shard: self.shard,
            seq: self.seq,
        }
    }

    /// The binary payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        self.view().encode(&mut out);
        out
    }

    /// A payload as stored in a segment: binary, or JSON in segments written before the
    /// binary form existed.
    pub fn decode(payload: &[u8]) -> Result<Record, DecodeError> {
        match payload.first() {
            Some(&VERSION) => decode_binary(&payload[1..]),
            Some(b'{') => {
                serde_json::from_slice(payload).map_err(|_| DecodeError("invalid JSON record"))
            }
            _ => Err(DecodeError("unknown record format")),
        }
    }
}

/// Append where a record came from — its shard's ring and its position there — to an encoded
/// payload. The drain thread adds these as it copies a record from a ring into the log.
pub fn append_origin(out: &mut Vec<u8>, shard: u32, seq: u64) {
    num(out, tag::SHARD, u64::from(shard));
    num(out, tag::SEQ, seq);
}

fn kind_code(k: Kind) -> u64 {
    match k {
        Kind::Request => 0,
        Kind::Response => 1,
        Kind::Recovery => 2,
        Kind::Outage => 3,
        Kind::Retention => 4,
    }
}

fn num(out: &mut Vec<u8>, t: u8, v: u64) {
    out.push(t);
    varint(out, v);
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn string(out: &mut Vec<u8>, s: &str) {
    varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// A cursor over a payload's bytes.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, DecodeError> {
        let (&b, rest) = self
            .bytes
            .split_first()
            .ok_or(DecodeError("truncated record"))?;
        self.bytes = rest;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.bytes.len() < n {
            return Err(DecodeError("truncated record"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = self.byte()?;
            let bits = u64::from(b & 0x7f);
            if i == 9 && bits > 1 {
                return Err(DecodeError("number too large"));
            }
            v |= bits << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError("number too long"))
    }

    fn string(&mut self) -> Result<String, DecodeError> {
        let len = usize::try_from(self.varint()?).map_err(|_| DecodeError("string too long"))?;
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| DecodeError("string is not UTF-8"))
    }

    fn small<T: TryFrom<u64>>(&mut self) -> Result<T, DecodeError> {
        T::try_from(self.varint()?).map_err(|_| DecodeError("number out of range"))
    }
}

fn decode_binary(bytes: &[u8]) -> Result<Record, DecodeError> {
    let mut r = Reader { bytes };
    let mut rec = Record::default();
    while !r.bytes.is_empty() {
        let t = r.byte()?;
        match t {
            tag::KIND => {
                rec.kind = match r.varint()? {
                    0 => Kind::Request,
                    1 => Kind::Response,
                    2 => Kind::Recovery,
                    3 => Kind::Outage,
                    4 => Kind::Retention,
                    _ => return Err(DecodeError("unknown record kind")),
                }
            }
            tag::AT_US => rec.at_us = r.varint()?,
            tag::RECEIVED_US => rec.received_us = Some(r.varint()?),
            tag::FIRST_BYTE_US => rec.first_byte_us = Some(r.varint()?),
            tag::STREAM => {
                rec.stream = Some(match r.varint()? {
                    0 => false,
                    1 => true,
                    _ => return Err(DecodeError("stream is not a boolean")),
                })
            }
            tag::USAGE_ESTIMATED => {
                rec.usage_estimated = Some(match r.varint()? {
                    0 => false,
                    1 => true,
                    _ => return Err(DecodeError("usage_estimated is not a boolean")),
                })
            }
            tag::STATUS => rec.status = Some(r.small()?),
            tag::OVERHEAD_US => rec.overhead_us = Some(r.varint()?),
            tag::UPSTREAM_US => rec.upstream_us = Some(r.varint()?),
            tag::COUNT => rec.count = Some(r.varint()?),
            tag::DELETED_THROUGH => rec.deleted_through = Some(r.varint()?),
            tag::SHARD => rec.shard = Some(r.small()?),
            tag::SEQ => rec.seq = Some(r.varint()?),
            tag::INJECTION_SCORE => rec.injection_score = Some(r.small()?),
            tag::CLIENT => {
                let ip = match r.byte()? {
                    4 => {
                        let b = r.take(4)?;
                        IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
                    }
                    6 => {
                        let mut a = [0u8; 16];
                        a.copy_from_slice(r.take(16)?);
                        IpAddr::V6(Ipv6Addr::from(a))
                    }
                    _ => return Err(DecodeError("unknown address family")),
                };
                let p = r.take(2)?;
                let port = u16::from_le_bytes([p[0], p[1]]);
                rec.client = Some(SocketAddr::new(ip, port).to_string());
            }
            tag::ATTEMPT => {
                let provider = r.string()?;
                let key_id = r.string()?;
                let key_source = r.string()?;
                let outcome = r.string()?;
                let status: u16 = r.small()?;
                rec.attempts.push(Attempt {
                    provider,
                    key_id,
                    key_source,
                    outcome,
                    status: Some(status).filter(|s| *s != 0),
                });
            }
            tag::USAGE => {
                rec.usage = Some(Usage {
                    input_tokens: r.varint()?,
                    output_tokens: r.varint()?,
                    cached_tokens: r.varint()?,
                    reasoning_tokens: r.varint()?,
                })
            }
            tag::VERDICT => {
                let category = r.string()?;
                let detector = r.string()?;
                let action = r.string()?;
                let count = r.small()?;
                rec.verdicts.push(Verdict {
                    category,
                    detector,
                    action,
                    count,
                });
            }
            _ => {
                let s = match t {
                    tag::REQUEST_ID => &mut rec.request_id,
                    tag::TENANT => &mut rec.tenant,
                    tag::PROJECT => &mut rec.project,
                    tag::ENVIRONMENT => &mut rec.environment,
                    tag::API_KEY_ID => &mut rec.api_key_id,
                    tag::DIALECT => &mut rec.dialect,
                    tag::ROUTE => &mut rec.route,
                    tag::MODEL_ALIAS => &mut rec.model_alias,
                    tag::PROVIDER => &mut rec.provider,
                    tag::UPSTREAM_MODEL => &mut rec.upstream_model,
                    tag::KEY_SOURCE => &mut rec.key_source,
                    tag::PROVIDER_KEY_ID => &mut rec.provider_key_id,
                    tag::PROVIDER_KEY_FINGERPRINT => &mut rec.provider_key_fingerprint,
                    tag::ERROR => &mut rec.error,
                    tag::CACHE => &mut rec.cache,
                    _ => return Err(DecodeError("unknown field")),
                };
                *s = Some(r.string()?);
            }
        }
    }
    Ok(rec)
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
