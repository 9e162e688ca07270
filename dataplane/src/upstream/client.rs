//! One request to a provider: pick a pooled connection or connect (DNS off-shard, TCP, TLS),
//! write the request, read the response head, then hand back an [`Exchange`] the caller reads
//! the body from, whole or as it streams.
//!
//! Stale connections: a pooled connection the provider closed while idle shows up as a failed
//! write or an EOF/reset before any response byte. Then, and only then, the request is retried
//! once on a fresh connection — nothing reached the provider's application in that case.
//!
//! Timeouts: connect (TCP + TLS), first byte (request written → response head started), idle
//! (between reads of the body).

use std::sync::Arc;
use std::time::{Duration, Instant};

use monoio::buf::IoBufMut;
use monoio::net::TcpStream;
use monoio_rustls::TlsConnector;
use rustls::pki_types::ServerName;

use super::io::{SecretBuf, UpstreamIo};
use super::origin::Origin;
use super::Upstream;
use crate::error::{Error, Kind, OrErr, Result};
use crate::http::body::{ChunkError, ChunkedDecoder};
use crate::http::parse::{parse_response, Framing, HeadError, Limits, ResponseHead};

/// Response bytes read per call.
const READ_CHUNK: usize = 16 * 1024;
/// A stream's first reads: SSE events are small, and a stream may sit idle for minutes with a
/// read pending, so it starts with a small buffer and doubles it (up to [`READ_CHUNK`]) only
/// while reads fill it.
const STREAM_READ: usize = 2 * 1024;
/// Bound on a provider's response head.
const HEAD_LIMITS: Limits = Limits {
    max_head: 64 * 1024,
    max_headers: 100,
};

/// A provider response in progress.
pub struct Exchange {
    pub head: ResponseHead,
    io: Option<UpstreamIo>,
    /// Bytes read past what has been decoded.
    buf: Vec<u8>,
    body: BodyState,
    /// Bytes asked for per read of the body.
    read_size: usize,
    pool_key: Box<str>,
    /// When the provider's first response byte arrived.
    pub first_byte_at: Instant,
    /// An answer from the cache, read back from memory (`replay`): no provider was asked.
    pub replayed: bool,
}

enum BodyState {
    Length(u64),
    Chunked(ChunkedDecoder),
    UntilClose,
    Done,
}

/// Send `request` to `origin` and read the response head.
pub async fn send(up: &Upstream, origin: &Origin, request: SecretBuf) -> Result<Exchange> {
    let mut request = request;
    if let Some(io) = up.pool.take(&origin.pool_key, &up.metrics) {
        up.metrics.pool_reused.inc();
        match attempt(io, request, up.first_byte_timeout).await {
            Ok((io, buf, head_len)) => return Exchange::start(io, buf, head_len, origin),
            Err(Attempt::Stale(req)) => {
                up.metrics.pool_stale_retries.inc();
                request = req;
            }
            Err(Attempt::Failed(e)) => return Err(e),
        }
    }
    let io = connect(up, origin).await?;
    match attempt(io, request, up.first_byte_timeout).await {
        Ok((io, buf, head_len)) => Exchange::start(io, buf, head_len, origin),
        Err(Attempt::Stale(_)) => Err(Error::new(
            Kind::UpstreamClosed,
            "provider closed the connection before responding",
        )),
        Err(Attempt::Failed(e)) => Err(e),
    }
}

enum Attempt {
    /// Nothing came back; the request may be sent again.
    Stale(SecretBuf),
    Failed(Error),
}

/// Write the request and read until the response head is complete. Returns the connection, the
/// bytes read, and the head length.
async fn attempt(
    mut io: UpstreamIo,
    request: SecretBuf,
    first_byte: Duration,
) -> Result<(UpstreamIo, Vec<u8>, ResponseHead), Attempt> {
    let (res, request) = io.write_all(request).await;
    if res.is_err() {
        return Err(Attempt::Stale(request));
    }
    let deadline = Instant::now() + first_byte;
    let mut buf = Vec::with_capacity(READ_CHUNK);
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let n = match read_into(&mut io, &mut buf, remaining, READ_CHUNK).await {
            Ok(n) => n,
            Err(ReadFail::Timeout) => {
                return Err(Attempt::Failed(Error::new(
                    Kind::UpstreamTimeout,
                    "provider sent no response in time",
                )))
            }
            Err(ReadFail::Io(_)) | Err(ReadFail::Eof) if buf.is_empty() => {
                return Err(Attempt::Stale(request))
            }
            Err(ReadFail::Io(e)) => {
                return Err(Attempt::Failed(
                    Error::new(Kind::UpstreamClosed, "reading the provider's response head")
                        .with_detail(e.to_string()),
                ))
            }
            Err(ReadFail::Eof) => {
                return Err(Attempt::Failed(Error::new(
                    Kind::UpstreamClosed,
                    "provider closed the connection mid-head",
                )))
            }
        };
        debug_assert!(n > 0);
        match parse_response(&buf, HEAD_LIMITS, false) {
            Ok(Some(head)) if (100..200).contains(&head.status) => {
                // Interim response (e.g. 100 Continue): skip it and read on.
                buf.drain(..head.len);
            }
            Ok(Some(head)) => {
                drop(request);
                return Ok((io, buf, head));
            }
            Ok(None) => {}
            Err(e) => return Err(Attempt::Failed(upstream_head_error(e))),
        }
    }
}

fn upstream_head_error(e: HeadError) -> Error {
    let why = match e {
        HeadError::TooLarge | HeadError::TooManyHeaders => "provider response head too large",
        HeadError::Malformed(w) | HeadError::Framing(w) => w,
        HeadError::Version => "provider answered with an unsupported HTTP version",
    };
    Error::new(Kind::UpstreamProtocol, "invalid provider response").with_detail(why)
}

async fn connect(up: &Upstream, origin: &Origin) -> Result<UpstreamIo> {
    let deadline = Instant::now() + up.connect_timeout;
    let addrs = monoio::time::timeout(
        up.connect_timeout,
        up.resolver.resolve(&origin.host, origin.port),
    )
    .await
    .map_err(|_| {
        Error::new(
            Kind::UpstreamTimeout,
            "resolving the provider's host timed out",
        )
    })?
    .or_err(Kind::UpstreamConnect, "resolving the provider's host")?;
    // Try each address in the resolver's order until one accepts (::1, then 127.0.0.1, say).
    let mut last = Error::new(Kind::UpstreamConnect, "connecting to the provider");
    let mut connected = None;
    for addr in addrs.iter() {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match monoio::time::timeout(remaining, TcpStream::connect_addr(*addr)).await {
            Ok(Ok(tcp)) => {
                connected = Some(tcp);
                break;
            }
            Ok(Err(e)) => {
                last = Error::new(Kind::UpstreamConnect, "connecting to the provider")
                    .with_detail(e.to_string());
            }
            Err(_) => {
                last = Error::new(
                    Kind::UpstreamTimeout,
                    "connecting to the provider timed out",
                );
                break;
            }
        }
    }
    let tcp = connected.ok_or(last)?;
    let _ = tcp.set_nodelay(true);
    up.metrics.pool_connects.inc();
    if !origin.tls {
        return Ok(UpstreamIo::Plain(tcp));
    }
    let name = ServerName::try_from(origin.host.to_string()).map_err(|_| {
        Error::new(
            Kind::UpstreamConnect,
            "provider host is not a valid TLS server name",
        )
    })?;
    let remaining = deadline.saturating_duration_since(Instant::now());
    let tls = monoio::time::timeout(remaining, up.tls.connect(name, tcp))
        .await
        .map_err(|_| {
            Error::new(
                Kind::UpstreamTimeout,
                "TLS handshake with the provider timed out",
            )
        })?
        .map_err(|e| {
            Error::new(Kind::UpstreamConnect, "TLS handshake with the provider")
                .with_detail(e.to_string())
        })?;
    Ok(UpstreamIo::Tls(Box::new(tls)))
}

/// The shard's TLS client configuration: webpki roots plus an optional extra CA file; ALPN
/// http/1.1 only.
pub fn tls_connector(ca_file: Option<&std::path::Path>) -> Result<TlsConnector, String> {
    Ok(TlsConnector::from(tls_client_config(ca_file)?))
}

/// Webpki roots plus an optional extra CA file; ALPN http/1.1 only (the upstream connector, and
/// the blocking client of an `https://` control plane).
pub fn tls_client_config(
    ca_file: Option<&std::path::Path>,
) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca_file {
        for cert in
            CertificateDer::pem_file_iter(path).map_err(|e| format!("{}: {e}", path.display()))?
        {
            let cert = cert.map_err(|e| format!("{}: {e}", path.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

enum ReadFail {
    Timeout,
    Eof,
    Io(std::io::Error),
}

/// Append one read's worth of bytes to `buf`.
/// Read into `buf`'s spare capacity, first making room for at least half of `size` (and
/// `size` when it has to grow).
async fn read_into(
    io: &mut UpstreamIo,
    buf: &mut Vec<u8>,
    timeout: Duration,
    size: usize,
) -> Result<usize, ReadFail> {
    if buf.capacity() - buf.len() < size / 2 {
        buf.reserve(size);
    }
    let (len, cap) = (buf.len(), buf.capacity());
    let slice = std::mem::take(buf).slice_mut(len..cap);
    match monoio::time::timeout(timeout, io.read(slice)).await {
        Err(_) => Err(ReadFail::Timeout),
        Ok((res, slice)) => {
            *buf = slice.into_inner();
            match res {
                Ok(0) => Err(ReadFail::Eof),
                Ok(n) => Ok(n),
                Err(e) => Err(ReadFail::Io(e)),
            }
        }
    }
}

impl Exchange {
    fn start(
        io: UpstreamIo,
        mut buf: Vec<u8>,
        head: ResponseHead,
        origin: &Origin,
    ) -> Result<Exchange> {
        buf.drain(..head.len);
        let read_size = if head.event_stream {
            // The head read's buffer is sized for whole answers; a stream keeps a small one.
            buf.shrink_to(STREAM_READ.max(buf.len()));
            STREAM_READ
        } else {
            READ_CHUNK
        };
        let body = match head.framing {
            Framing::Empty | Framing::Length(0) => BodyState::Done,
            Framing::Length(n) => BodyState::Length(n),
            Framing::Chunked => BodyState::Chunked(ChunkedDecoder::new(u64::MAX)),
            Framing::UntilClose => BodyState::UntilClose,
        };
        Ok(Exchange {
            head,
            io: Some(io),
            buf,
            body,
            read_size,
            pool_key: origin.pool_key.clone(),
            first_byte_at: Instant::now(),
            replayed: false,
        })
    }

    /// A cached answer, read through the same calls as a provider's: a 200 with `body` (an
    /// event stream when `event_stream`), no connection behind it.
    pub fn replay(event_stream: bool, body: &[u8]) -> Exchange {
        let len = body.len() as u64;
        Exchange {
            head: ResponseHead {
                status: 200,
                len: 0,
                framing: Framing::Length(len),
                keep_alive: false,
                event_stream,
                retry_after_s: None,
            },
            io: None,
            buf: body.to_vec(),
            body: if len == 0 {
                BodyState::Done
            } else {
                BodyState::Length(len)
            },
            read_size: READ_CHUNK,
            pool_key: Box::default(),
            first_byte_at: Instant::now(),
            replayed: true,
        }
    }

    /// Append the next decoded body bytes to `sink`. Returns false once the body is complete.
    pub async fn next_data(&mut self, sink: &mut Vec<u8>, idle: Duration) -> Result<bool> {
        loop {
            if !self.buf.is_empty() {
                let before = sink.len();
                self.decode(sink)?;
                if sink.len() > before {
                    return Ok(!self.is_done());
                }
            }
            if self.is_done() {
                return Ok(false);
            }
            let io = self
                .io
                .as_mut()
                .or_err(Kind::Internal, "exchange used after release")?;
            let spare = self.buf.capacity() - self.buf.len();
            match read_into(io, &mut self.buf, idle, self.read_size).await {
                Ok(n) => {
                    // A read that filled what it was given: the events are bigger than the
                    // buffer, so the next read gets more.
                    if n >= spare.max(self.read_size) {
                        self.read_size = (self.read_size * 2).min(READ_CHUNK);
                    }
                }
                Err(ReadFail::Eof) if matches!(self.body, BodyState::UntilClose) => {
                    self.body = BodyState::Done;
                    self.io = None;
                    return Ok(false);
                }
                Err(ReadFail::Timeout) => {
                    return Err(Error::new(
                        Kind::UpstreamTimeout,
                        "provider stalled mid-response",
                    ))
                }
                Err(ReadFail::Eof) => {
                    return Err(Error::new(
                        Kind::UpstreamClosed,
                        "provider closed the connection mid-response",
                    ))
                }
                Err(ReadFail::Io(e)) => {
                    return Err(
                        Error::new(Kind::UpstreamClosed, "reading the provider's response")
                            .with_detail(e.to_string()),
                    )
                }
            }
        }
    }

    /// Read the whole body, up to `limit` bytes.
    pub async fn read_to_end(&mut self, limit: usize, idle: Duration) -> Result<Vec<u8>> {
        let mut body = Vec::with_capacity(match self.body {
            BodyState::Length(n) => (n as usize).min(limit),
            _ => 4096,
        });
        while self.next_data(&mut body, idle).await? {
            if body.len() > limit {
                return Err(Error::new(
                    Kind::UpstreamProtocol,
                    "provider response exceeds the size limit",
                ));
            }
        }
        if body.len() > limit {
            return Err(Error::new(
                Kind::UpstreamProtocol,
                "provider response exceeds the size limit",
            ));
        }
        Ok(body)
    }

    fn decode(&mut self, sink: &mut Vec<u8>) -> Result<()> {
        match &mut self.body {
            BodyState::Length(n) => {
                let take = (*n).min(self.buf.len() as u64) as usize;
                sink.extend_from_slice(&self.buf[..take]);
                self.buf.drain(..take);
                *n -= take as u64;
                if *n == 0 {
                    self.body = BodyState::Done;
                }
            }
            BodyState::Chunked(d) => {
                let used = d.decode(&self.buf, sink).map_err(|e| match e {
                    ChunkError::Malformed(w) => {
                        Error::new(Kind::UpstreamProtocol, "invalid chunked response")
                            .with_detail(w)
                    }
                    ChunkError::TooLarge => Error::new(
                        Kind::UpstreamProtocol,
                        "provider response exceeds the size limit",
                    ),
                })?;
                let done = d.is_done();
                self.buf.drain(..used);
                if done {
                    self.body = BodyState::Done;
                }
            }
            BodyState::UntilClose => {
                sink.extend_from_slice(&self.buf);
                self.buf.clear();
            }
            BodyState::Done => {}
        }
        Ok(())
    }

    pub fn is_done(&self) -> bool {
        matches!(self.body, BodyState::Done)
    }

    /// Return the connection to the pool if the response ended cleanly and the provider keeps it
    /// open; otherwise close it.
    pub fn release(mut self, up: &Upstream) {
        let clean = self.is_done() && self.buf.is_empty() && self.head.keep_alive;
        if let (true, Some(io)) = (clean, self.io.take()) {
            up.pool.put(&self.pool_key, io, &up.metrics);
        }
    }
}
