//! warden-dataplane: Warden's shard-per-core proxy.
//!
//! The modules follow the request path (docs/architecture.md maps each step to its place):
//! [`runtime`] → [`listener`] → [`conn`] (with [`client`] for the connection's I/O, [`auth`])
//! → [`proxy::handle`], every step of a proxied request in order, over a [`context::Request`];
//! [`shard`] holds what a core owns. [`admin`], [`metrics`], [`audit`]'s drain on the side.

pub mod access;
pub mod admin;
pub mod audit;
pub mod auth;
pub mod cache;
pub mod cli;
pub mod client;
pub mod complexity;
pub mod config;
pub mod conn;
pub mod context;
pub mod control;
pub mod error;
pub mod extract;
pub mod guard;
pub mod http;
pub mod isolate;
pub mod limits;
pub mod listener;
pub mod metrics;
pub mod models;
pub mod proxy;
pub mod route;
pub mod runtime;
pub mod shard;
pub mod sse;
pub mod state;
pub mod tls;
pub mod trace;
pub mod translate;
pub mod upstream;
pub mod usage;
