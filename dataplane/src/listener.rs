//! Listening: one SO_REUSEPORT socket per shard on the client port (the kernel spreads new
//! connections across them), an accept loop per shard with the per-shard connection limit, and
//! the drain on shutdown: stop accepting, let in-flight requests finish (bounded), return.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_channel::oneshot;
use monoio::net::TcpListener;
use socket2::{Domain, Socket, Type};

use crate::error::{Error, Kind};
use crate::shard::Shard;
use warden_shared::catalog::Dialect;

/// Bind `n` sockets to `addr` with SO_REUSEPORT. With port 0 the first socket picks the port and
/// the others join it, so every shard listens on the same port.
pub fn bind_all(addr: SocketAddr, n: usize) -> std::io::Result<Vec<std::net::TcpListener>> {
    let mut addr = addr;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(4096)?;
        let listener: std::net::TcpListener = socket.into();
        addr = listener.local_addr()?;
        out.push(listener);
    }
    Ok(out)
}

pub async fn accept_loop(shard: Rc<Shard>, listener: TcpListener, drain: oneshot::Receiver<()>) {
    let mut drain = drain;
    let max = shard.limits.max_connections_per_shard;
    loop {
        monoio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    shard.metrics.connections.inc();
                    let acceptor = shard.server_tls.as_ref().map(|t| t.acceptor());
                    if shard.open_connections() >= max {
                        shard.metrics.connections_rejected.inc();
                        // Over TLS a plain-text 503 would be noise to the client: just close.
                        if acceptor.is_none() {
                            monoio::spawn(refuse(Rc::clone(&shard), stream));
                        }
                        continue;
                    }
                    let guard = shard.open_connection();
                    let shard = Rc::clone(&shard);
                    monoio::spawn(async move {
                        // A panic ends this connection, not the shard (`isolate.rs`).
                        let served = crate::isolate::caught(async {
                            match acceptor {
                                None => crate::conn::serve(&shard, stream, peer).await,
                                Some(acceptor) => serve_tls(&shard, acceptor, stream, peer).await,
                            }
                        })
                        .await;
                        if served.is_err() {
                            shard.metrics.panics.inc();
                            tracing::error!(
                                shard = shard.id,
                                "a connection's task panicked: the connection was closed, the shard serves on"
                            );
                        }
                        drop(guard);
                    });
                }
                Err(e) => {
                    // Out of descriptors or a transient error: back off briefly instead of spinning.
                    tracing::warn!(shard = shard.id, "accept failed: {e}");
                    monoio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = &mut drain => break,
        }
    }
    drop(listener);
    shard.draining.set(true);
    let deadline = Instant::now() + shard.timeouts.drain;
    while shard.inflight() > 0 && Instant::now() < deadline {
        monoio::time::sleep(Duration::from_millis(10)).await;
    }
    if shard.inflight() > 0 {
        tracing::warn!(
            shard = shard.id,
            inflight = shard.inflight(),
            "drain timeout: closing with requests in flight"
        );
    }
}

/// The TLS handshake (bounded by the head deadline), then the connection as over plain TCP.
async fn serve_tls(
    shard: &Shard,
    acceptor: monoio_rustls::TlsAcceptor,
    stream: monoio::net::TcpStream,
    peer: SocketAddr,
) {
    match monoio::time::timeout(shard.timeouts.head, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => crate::conn::serve(shard, tls, peer).await,
        Ok(Err(e)) => {
            shard.metrics.tls_handshake_failures.inc();
            tracing::debug!(%peer, "client TLS handshake failed: {e}");
        }
        Err(_) => {
            shard.metrics.tls_handshake_failures.inc();
            tracing::debug!(%peer, "client TLS handshake timed out");
        }
    }
}

/// Over the connection limit: a 503 in the OpenAI dialect, then close.
async fn refuse(shard: Rc<Shard>, stream: monoio::net::TcpStream) {
    let mut rid = Vec::with_capacity(32);
    shard.next_request_id(&mut rid);
    let err = Error::new(
        Kind::Overloaded,
        "this shard is at its connection limit; retry shortly",
    );
    let _ = crate::client::Client::new(stream)
        .error(&err, Dialect::OpenAi, &rid, false)
        .await;
}
