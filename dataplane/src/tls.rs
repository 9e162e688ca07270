//! TLS for clients on `listen` (`[tls] cert_file, key_file`): the server side of the first hop.
//!
//! One [`ServerTls`] is shared by every shard. It holds the current rustls configuration behind a
//! generation counter: a shard keeps its own acceptor and compares one atomic per accepted
//! connection, taking the lock only after a reload (SIGHUP) changed the generation — no lock is
//! shared between shards on the request path. A reload that fails (unreadable file, key that
//! does not match the certificate) keeps the previous certificate and is counted.
//!
//! ALPN offers `http/1.1` only; TLS 1.2 and 1.3 with rustls' safe defaults (ring provider, the
//! same one the upstream client uses).

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use monoio_rustls::TlsAcceptor;
use serde::Deserialize;

/// `[tls]` in the data plane's config.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM: the server certificate first, then any intermediates.
    pub cert_file: PathBuf,
    /// PEM: the certificate's private key (PKCS#8, PKCS#1 or SEC1). Keep it 0600.
    pub key_file: PathBuf,
}

/// The certificate every shard serves, and the counters the admin listener reports.
pub struct ServerTls {
    files: TlsConfig,
    current: RwLock<Arc<rustls::ServerConfig>>,
    /// Bumped by each successful reload; shards compare it to the one they hold.
    generation: AtomicU64,
    pub reloads_ok: AtomicU64,
    pub reloads_failed: AtomicU64,
}

/// A shard's copy of the acceptor and the generation it was built from.
pub struct ShardTls {
    shared: Arc<ServerTls>,
    held: RefCell<(u64, TlsAcceptor)>,
}

impl ServerTls {
    /// Read and check the certificate and key; the error names the file and the reason.
    pub fn load(files: &TlsConfig) -> Result<ServerTls, String> {
        let config = server_config(&files.cert_file, &files.key_file)?;
        Ok(ServerTls {
            files: files.clone(),
            current: RwLock::new(Arc::new(config)),
            generation: AtomicU64::new(0),
            reloads_ok: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
        })
    }

    /// Read the files again (SIGHUP). New connections get the new certificate; connections
    /// already open keep theirs. On failure the previous certificate stays.
    pub fn reload(&self) -> Result<(), String> {
        match server_config(&self.files.cert_file, &self.files.key_file) {
            Ok(config) => {
                match self.current.write() {
                    Ok(mut current) => *current = Arc::new(config),
                    Err(poisoned) => *poisoned.into_inner() = Arc::new(config),
                }
                self.generation.fetch_add(1, Ordering::Release);
                self.reloads_ok.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                self.reloads_failed.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// An acceptor for the current certificate (off the shards: the admin listener).
    pub fn current_acceptor(&self) -> TlsAcceptor {
        self.acceptor().1
    }

    fn acceptor(&self) -> (u64, TlsAcceptor) {
        let generation = self.generation.load(Ordering::Acquire);
        let config = match self.current.read() {
            Ok(c) => Arc::clone(&c),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        };
        (generation, TlsAcceptor::from(config))
    }
}

impl ShardTls {
    pub fn new(shared: Arc<ServerTls>) -> ShardTls {
        let held = RefCell::new(shared.acceptor());
        ShardTls { shared, held }
    }

    /// The acceptor for the next connection: the shard's own unless a reload happened since.
    pub fn acceptor(&self) -> TlsAcceptor {
        let now = self.shared.generation.load(Ordering::Acquire);
        let mut held = self.held.borrow_mut();
        if held.0 != now {
            *held = self.shared.acceptor();
        }
        held.1.clone()
    }
}

fn server_config(cert_file: &Path, key_file: &Path) -> Result<rustls::ServerConfig, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(cert_file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("tls.cert_file {}: {e}", cert_file.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "tls.cert_file {}: no certificate in it",
            cert_file.display()
        ));
    }
    // The key's own parse error could quote key material: name the file and the kind only.
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| {
        format!(
            "tls.key_file {}: no readable private key ({})",
            key_file.display(),
            pem_error_kind(&e)
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            format!(
                "tls: {} and {} do not make a usable certificate: {e}",
                cert_file.display(),
                key_file.display()
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn pem_error_kind(e: &rustls::pki_types::pem::Error) -> &'static str {
    use rustls::pki_types::pem::Error as E;
    match e {
        E::Io(_) => "cannot read the file",
        E::NoItemsFound => "no PEM private key found",
        _ => "malformed PEM",
    }
}
