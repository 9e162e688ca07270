//! warden-dataplane: Warden's shard-per-core proxy.
//!
//! The modules follow the request path (see docs/architecture.md):
//! [`shard`] → [`listener`] → [`conn`] → [`http`] (parse, body, respond) → [`auth`] → [`route`]
//! → [`proxy`] → [`upstream`] (pool, client) → [`sse`]; [`admin`] and [`metrics`] on the side.

pub mod access;
pub mod admin;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod complexity;
pub mod config;
pub mod conn;
pub mod control;
pub mod error;
pub mod extract;
pub mod guard;
pub mod http;
pub mod limits;
pub mod listener;
pub mod metrics;
pub mod proxy;
pub mod route;
pub mod shard;
pub mod sse;
pub mod state;
pub mod tls;
pub mod trace;
pub mod translate;
pub mod upstream;
pub mod usage;
