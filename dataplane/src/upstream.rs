//! Talking to providers: our own HTTP/1.1 client on monoio (DESIGN.md says why), with a
//! per-shard keep-alive pool, TLS through rustls, and DNS resolved off the shard.
//!
//! Position in the request path: after auth, routing and guardrails; before the response pump.

pub mod client;
pub mod dns;
pub mod io;
pub mod origin;
pub mod pool;
