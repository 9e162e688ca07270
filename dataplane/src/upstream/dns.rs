//! DNS that never blocks a shard: lookups run on resolver threads (the system resolver is
//! blocking), answers come back over a oneshot channel, and each shard caches them with a TTL.
//! When a refresh fails, the stale answer keeps serving.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_channel::oneshot;

pub struct Lookup {
    host: String,
    port: u16,
    reply: oneshot::Sender<io::Result<Vec<SocketAddr>>>,
}

/// Start `threads` resolver threads; shards send them lookups through the returned sender.
pub fn spawn_resolvers(threads: usize) -> io::Result<mpsc::Sender<Lookup>> {
    let (tx, rx) = mpsc::channel::<Lookup>();
    // The mutex is taken by resolver threads only, never by a shard.
    let rx = Arc::new(Mutex::new(rx));
    for i in 0..threads {
        let rx = Arc::clone(&rx);
        std::thread::Builder::new()
            .name(format!("warden-dns-{i}"))
            .spawn(move || loop {
                let job = match rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                let Ok(job) = job else { return };
                let answer = (job.host.as_str(), job.port)
                    .to_socket_addrs()
                    .map(|a| a.collect::<Vec<_>>());
                let _ = job.reply.send(answer);
            })?;
    }
    Ok(tx)
}

type HostPort = (Box<str>, u16);
/// Addresses in preference order, and when they were looked up.
type Answer = (Rc<[SocketAddr]>, Instant);

/// One per shard.
pub struct Resolver {
    tx: mpsc::Sender<Lookup>,
    cache: RefCell<HashMap<HostPort, Answer>>,
    ttl: Duration,
}

impl Resolver {
    pub fn new(tx: mpsc::Sender<Lookup>, ttl: Duration) -> Resolver {
        Resolver {
            tx,
            cache: RefCell::new(HashMap::new()),
            ttl,
        }
    }

    /// Every address of `host`, in the system resolver's order of preference.
    pub async fn resolve(&self, host: &str, port: u16) -> io::Result<Rc<[SocketAddr]>> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(Rc::from([SocketAddr::new(ip, port)]));
        }
        let key = (Box::<str>::from(host), port);
        let cached = self.cache.borrow().get(&key).cloned();
        if let Some((addrs, at)) = &cached {
            if at.elapsed() < self.ttl {
                return Ok(Rc::clone(addrs));
            }
        }
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Lookup {
                host: host.to_owned(),
                port,
                reply,
            })
            .map_err(|_| io::Error::other("resolver threads are gone"))?;
        let fresh = match answer.await {
            Ok(Ok(addrs)) if !addrs.is_empty() => Ok(Rc::<[SocketAddr]>::from(addrs)),
            Ok(Ok(_)) => Err(io::Error::other("no addresses")),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(io::Error::other("resolver dropped the lookup")),
        };
        match (fresh, cached) {
            (Ok(addrs), _) => {
                self.cache
                    .borrow_mut()
                    .insert(key, (Rc::clone(&addrs), Instant::now()));
                Ok(addrs)
            }
            (Err(_), Some((stale, _))) => Ok(stale),
            (Err(e), None) => Err(e),
        }
    }
}
