//! The byte stream to a provider, plain TCP or TLS, and the request buffer that holds a
//! plaintext provider key while it is being written.

#![allow(unsafe_code)]

use monoio::buf::{IoBuf, IoBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use monoio::BufResult;
use monoio_rustls::ClientTlsStream;
use zeroize::Zeroize;

pub enum UpstreamIo {
    Plain(TcpStream),
    Tls(Box<ClientTlsStream<TcpStream>>),
}

impl UpstreamIo {
    pub async fn read<B: IoBufMut + 'static>(&mut self, buf: B) -> BufResult<usize, B> {
        match self {
            UpstreamIo::Plain(s) => s.read(buf).await,
            UpstreamIo::Tls(s) => s.read(buf).await,
        }
    }

    pub async fn write_all<B: IoBuf + 'static>(&mut self, buf: B) -> BufResult<usize, B> {
        match self {
            UpstreamIo::Plain(s) => s.write_all(buf).await,
            UpstreamIo::Tls(s) => s.write_all(buf).await,
        }
    }
}

/// A request buffer that wipes itself when dropped: it carries the provider key in its
/// `Authorization` (or `x-api-key`) header. If a write is cancelled, the I/O driver may drop the
/// buffer later; it is wiped then too.
pub struct SecretBuf(Vec<u8>);

impl SecretBuf {
    pub fn with_capacity(n: usize) -> SecretBuf {
        SecretBuf(Vec::with_capacity(n))
    }

    /// Append; grows like a Vec, wiping the old allocation if it has to move.
    pub fn extend(&mut self, bytes: &[u8]) {
        if self.0.len() + bytes.len() > self.0.capacity() {
            let mut bigger =
                Vec::with_capacity((self.0.len() + bytes.len()).max(self.0.capacity() * 2));
            bigger.extend_from_slice(&self.0);
            self.0.zeroize();
            self.0 = bigger;
        }
        self.0.extend_from_slice(bytes);
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for SecretBuf {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

// SAFETY: the pointer and length describe the initialised bytes of the inner Vec, which this
// type never reallocates while it is owned by an I/O operation (it is moved into the operation
// and nothing else can reach it until it is handed back).
unsafe impl IoBuf for SecretBuf {
    fn read_ptr(&self) -> *const u8 {
        self.0.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.0.len()
    }
}
