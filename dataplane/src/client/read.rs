//! Reading a request off the client connection: the head (with its deadline, and the idle
//! timeout between requests) and the body (Content-Length or chunked, one deadline for the whole
//! body, `100 Continue` when asked). Everything here is bounded by the shard's limits.

use std::ops::Range;
use std::time::{Duration, Instant};

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};

use super::READ_CHUNK;
use crate::error::{Error, Kind as ErrorKind, Result};
use crate::http::body::ChunkedDecoder;
use crate::http::parse::{parse_request, Framing, RequestHead};
use crate::shard::Shard;

/// Read until a whole request head is buffered. `Ok(None)`: the client closed (or went idle)
/// between requests, which needs no answer.
pub(super) async fn read_head<S: AsyncReadRent>(
    shard: &Shard,
    io: &mut S,
    buf: &mut Vec<u8>,
) -> Result<Option<RequestHead>> {
    let limits = shard.head_limits;
    let mut head_deadline = (!buf.is_empty()).then(|| Instant::now() + shard.timeouts.head);
    loop {
        if !buf.is_empty() {
            if let Some(head) = parse_request(buf, limits)? {
                return Ok(Some(head));
            }
        }
        let (wait, idle) = match head_deadline {
            Some(d) => (d.saturating_duration_since(Instant::now()), false),
            None => (shard.timeouts.idle, true),
        };
        // Heads are a few hundred bytes: the buffer grows only for one that needs it (up to
        // the head limit), so an idle connection holds no more than `READ_CHUNK`.
        match read_more(io, buf, wait, READ_CHUNK).await {
            Ok(0) => return Ok(None),
            Ok(_) => {
                head_deadline.get_or_insert_with(|| Instant::now() + shard.timeouts.head);
            }
            Err(ReadError::Timeout) if idle => return Ok(None),
            Err(ReadError::Timeout) => {
                return Err(Error::new(
                    ErrorKind::ClientTimeout,
                    "request head not received in time",
                ))
            }
            Err(ReadError::Io) => return Ok(None),
        }
    }
}

/// Read the body. Returns where it is (a range of `buf` for Content-Length bodies, or `None`
/// when it was decoded into `decoded`) and how many bytes of `buf` the request used.
pub(super) async fn read_body<S: AsyncReadRent + AsyncWriteRent>(
    shard: &Shard,
    io: &mut S,
    buf: &mut Vec<u8>,
    head: &RequestHead,
    decoded: &mut Vec<u8>,
) -> Result<(Option<Range<usize>>, usize)> {
    let max = shard.limits.max_body_bytes;
    let start = head.len;
    // One deadline for the whole body, not per read: a client dripping a byte at a time cannot
    // hold the connection (and its buffer) for longer than `timeouts.body_ms`.
    let deadline = Instant::now() + shard.timeouts.body;
    let wait = || deadline.saturating_duration_since(Instant::now());
    let too_slow = || {
        Error::new(
            ErrorKind::ClientTimeout,
            "request body not received in time",
        )
    };
    let gone = || {
        Error::new(
            ErrorKind::Malformed,
            "connection closed before the body was complete",
        )
    };
    match head.framing {
        Framing::Empty | Framing::UntilClose => Ok((Some(start..start), start)),
        Framing::Length(n) => {
            if n > max as u64 {
                return Err(Error::new(
                    ErrorKind::BodyTooLarge,
                    "request body exceeds the size limit",
                ));
            }
            let end = start + n as usize;
            if buf.len() < end && head.expect_continue {
                send_continue(io).await?;
            }
            while buf.len() < end {
                match read_more(io, buf, wait(), end - buf.len()).await {
                    Ok(0) | Err(ReadError::Io) => return Err(gone()),
                    Ok(_) => {}
                    Err(ReadError::Timeout) => return Err(too_slow()),
                }
            }
            Ok((Some(start..end), end))
        }
        Framing::Chunked => {
            let mut decoder = ChunkedDecoder::new(max as u64);
            let mut pos = start;
            if head.expect_continue && buf.len() == start {
                send_continue(io).await?;
            }
            loop {
                pos += decoder.decode(&buf[pos..], decoded)?;
                if decoder.is_done() {
                    return Ok((None, pos));
                }
                // Chunk bytes after the head are decoded into `decoded` now: drop them so the
                // connection buffer stays bounded by the head limit plus one read.
                buf.truncate(start);
                pos = start;
                match read_more(io, buf, wait(), READ_CHUNK).await {
                    Ok(0) | Err(ReadError::Io) => return Err(gone()),
                    Ok(_) => {}
                    Err(ReadError::Timeout) => return Err(too_slow()),
                }
            }
        }
    }
}

/// Read and drop what the client still sends, until it closes, a read fails or `deadline`.
pub(super) async fn discard<S: AsyncReadRent>(io: &mut S, buf: &mut Vec<u8>, deadline: Instant) {
    loop {
        buf.clear();
        let wait = deadline.saturating_duration_since(Instant::now());
        if wait.is_zero() {
            return;
        }
        if !matches!(read_more(io, buf, wait, DISCARD_READ).await, Ok(1..)) {
            return;
        }
    }
}

/// What one read takes while discarding: a body still coming is read in large pieces.
const DISCARD_READ: usize = 64 * 1024;

async fn send_continue<S: AsyncWriteRent>(io: &mut S) -> Result<()> {
    let (res, _) = io.write_all(&b"HTTP/1.1 100 Continue\r\n\r\n"[..]).await;
    res.map(|_| ())
        .map_err(|_| Error::new(ErrorKind::Malformed, "client went away"))
}

enum ReadError {
    Timeout,
    Io,
}

/// Append one read to `buf`, wanting room for at least `want` bytes (capped per read).
async fn read_more<S: AsyncReadRent>(
    io: &mut S,
    buf: &mut Vec<u8>,
    wait: Duration,
    want: usize,
) -> Result<usize, ReadError> {
    let room = want.clamp(1024, 64 * 1024).max(READ_CHUNK);
    if buf.capacity() - buf.len() < room {
        buf.reserve(room);
    }
    let (len, cap) = (buf.len(), buf.capacity());
    let slice = std::mem::take(buf).slice_mut(len..cap);
    match monoio::time::timeout(wait, io.read(slice)).await {
        Err(_) => Err(ReadError::Timeout),
        Ok((res, slice)) => {
            *buf = slice.into_inner();
            res.map_err(|_| ReadError::Io)
        }
    }
}
