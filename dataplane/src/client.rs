//! The client connection's I/O: reading a request's head and body off it (`client/read.rs`,
//! bounded by the shard's limits and deadlines) and writing answers to it.
//!
//! Answers are built in `out` and written in one go by [`Client::flush`], which hands the
//! buffer to the driver and takes it back, so a connection reuses one allocation for every
//! answer it sends.

use std::ops::Range;
use std::time::{Duration, Instant};

use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};

use crate::error::{Error, Result};
use crate::http::parse::RequestHead;
use crate::http::respond;
use crate::shard::Shard;

mod read;

/// Initial connection buffer; grows up to the head limit plus the body limit.
pub const READ_CHUNK: usize = 8 * 1024;

/// One client connection and the buffer its answers are written from.
pub struct Client<S> {
    pub io: S,
    /// The answer being built; [`Client::flush`] sends and clears it.
    pub out: Vec<u8>,
}

impl<S> Client<S> {
    pub fn new(io: S) -> Client<S> {
        Client {
            io,
            out: Vec::with_capacity(4096),
        }
    }
}

impl<S: AsyncWriteRent> Client<S> {
    /// Write `out` to the client and clear it.
    pub async fn flush(&mut self) -> std::io::Result<()> {
        write_out(&mut self.io, &mut self.out).await
    }

    /// Send an error in `dialect` as the whole answer; `Ok` when it was written.
    pub async fn error(
        &mut self,
        e: &Error,
        dialect: warden_shared::catalog::Dialect,
        rid: &[u8],
        keep_alive: bool,
    ) -> std::io::Result<()> {
        self.out.clear();
        respond::error_in(&mut self.out, e, dialect, rid, keep_alive);
        self.flush().await
    }
}

/// Write `out` to `io` and clear it, keeping the allocation.
pub async fn write_out<S: AsyncWriteRent>(io: &mut S, out: &mut Vec<u8>) -> std::io::Result<()> {
    let (res, mut buf) = io.write_all(std::mem::take(out)).await;
    buf.clear();
    *out = buf;
    res.map(|_| ())
}

impl<S: AsyncReadRent + AsyncWriteRent> Client<S> {
    /// Read until a whole request head is in `buf`. `Ok(None)`: the client closed (or went
    /// idle) between requests, which needs no answer.
    pub async fn read_head(
        &mut self,
        shard: &Shard,
        buf: &mut Vec<u8>,
    ) -> Result<Option<RequestHead>> {
        read::read_head(shard, &mut self.io, buf).await
    }

    /// Read the body: where it is (a range of `buf` for Content-Length bodies, or `None` when
    /// it was decoded into `decoded`) and how many bytes of `buf` the request used.
    pub async fn read_body(
        &mut self,
        shard: &Shard,
        buf: &mut Vec<u8>,
        head: &RequestHead,
        decoded: &mut Vec<u8>,
    ) -> Result<(Option<Range<usize>>, usize)> {
        read::read_body(shard, &mut self.io, buf, head, decoded).await
    }

    /// End a connection whose client may still be sending, after an answer that closes it
    /// early (a refused head or body, credentials refused before the body was read): half-close
    /// first, so the client reads the answer and then the end of the stream, then read and drop
    /// what it still sends until it closes or [`LINGER`] has passed. Closed with unread bytes, a
    /// socket sends a reset instead, which the client can see instead of the answer (its send
    /// fails, or the reset overtakes the answer it has not read yet). `buf` is reused.
    pub async fn linger(mut self, buf: &mut Vec<u8>) {
        if self.io.shutdown().await.is_err() {
            return;
        }
        read::discard(&mut self.io, buf, Instant::now() + LINGER).await;
    }
}

/// The longest a connection is kept open after an answer that ends it, to read what the client
/// still sends (see [`Client::linger`]).
pub const LINGER: Duration = Duration::from_secs(2);
