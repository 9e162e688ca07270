//! Talking to providers: our own HTTP/1.1 client on monoio (DESIGN.md says why), with a
//! per-shard keep-alive pool, TLS through rustls, and DNS resolved off the shard.
//!
//! Position in the request path: after auth, routing and guardrails; before the response pump.

pub mod breaker;
pub mod client;
pub mod dns;
pub mod io;
pub mod origin;
pub mod pool;

use std::sync::Arc;
use std::time::Duration;

use monoio_rustls::TlsConnector;

use crate::metrics::ShardMetrics;

/// One shard's way to its providers: the keep-alive pool, the DNS cache, the TLS client, the
/// deadlines, and the counters they feed. Owned by the shard; nothing in it is shared.
pub struct Upstream {
    pub pool: pool::Pool,
    pub resolver: dns::Resolver,
    pub tls: TlsConnector,
    /// Connect (DNS, TCP, TLS) and the wait for a response head.
    pub connect_timeout: Duration,
    pub first_byte_timeout: Duration,
    pub metrics: Arc<ShardMetrics>,
}
