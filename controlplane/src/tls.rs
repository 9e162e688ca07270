//! TLS on the control link. The control plane serves `listen` over TLS with `[tls] cert_file,
//! key_file` (the admin API, the dashboard, and the data planes' enrolment, registration and
//! usage), and pushes snapshots over TLS to data planes that registered an `https://` address,
//! trusting the webpki roots and `[dataplanes] ca_file`. Handshakes run in their own tasks, at
//! most [`MAX_HANDSHAKES`] at once and [`HANDSHAKE_TIMEOUT`] each, so a slow client cannot hold
//! up the accept loop.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

pub const MAX_HANDSHAKES: usize = 256;
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// `[tls]` (serve `listen` over TLS) and `[dataplanes]` (trust for pushes) sections.
#[derive(serde::Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    pub cert_file: std::path::PathBuf,
    pub key_file: std::path::PathBuf,
}

/// Accepted TLS connections, handshakes done.
pub struct TlsListener {
    accepted: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, files: &TlsSection) -> anyhow::Result<TlsListener> {
        let acceptor = TlsAcceptor::from(Arc::new(server_config(files)?));
        let local = tcp.local_addr()?;
        let (tx, accepted) = mpsc::channel(64);
        let permits = Arc::new(Semaphore::new(MAX_HANDSHAKES));
        tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = tcp.accept().await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                // Over the limit: close at once rather than queue unbounded handshakes.
                let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                    continue;
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let done =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await;
                    drop(permit);
                    match done {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { accepted, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(conn) => conn,
            // The accept task never ends while the listener lives.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub fn server_config(files: &TlsSection) -> anyhow::Result<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(&files.cert_file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("tls.cert_file {}", files.cert_file.display()))?;
    let key = PrivateKeyDer::from_pem_file(&files.key_file).map_err(|_| {
        anyhow::anyhow!(
            "tls.key_file {}: no readable private key",
            files.key_file.display()
        )
    })?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("tls: the certificate and key do not make a usable certificate")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Trust for pushes: the webpki roots and, when given, an operator CA file.
pub fn client_config(ca_file: Option<&Path>) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca_file {
        for cert in CertificateDer::pem_file_iter(path)
            .with_context(|| format!("dataplanes.ca_file {}", path.display()))?
        {
            roots.add(cert.with_context(|| format!("dataplanes.ca_file {}", path.display()))?)?;
        }
    }
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// For the control plane's own CLI (`rotate-master-key`) talking to the running process on this
/// host: trust exactly the certificate `[tls] cert_file` starts with, whatever name or CA it
/// has. The handshake signature is still checked against that certificate's key, so only the
/// holder of `[tls] key_file` can answer.
pub fn pinned_client_config(cert_file: &Path) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let leaf = CertificateDer::pem_file_iter(cert_file)
        .with_context(|| format!("tls.cert_file {}", cert_file.display()))?
        .next()
        .with_context(|| format!("tls.cert_file {}: no certificate", cert_file.display()))?
        .with_context(|| format!("tls.cert_file {}", cert_file.display()))?;
    let provider = provider();
    let verifier = Arc::new(PinnedCertificate {
        leaf,
        algorithms: provider.signature_verification_algorithms,
    });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[derive(Debug)]
struct PinnedCertificate {
    leaf: rustls::pki_types::CertificateDer<'static>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl rustls::client::danger::ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.leaf.as_ref() {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../tests/fixtures/tls/{name}"))
    }

    #[test]
    fn the_cli_trusts_only_the_configured_certificate() -> anyhow::Result<()> {
        let leaf = CertificateDer::from_pem_file(fixture("server.pem"))?;
        let verifier = PinnedCertificate {
            leaf: leaf.clone(),
            algorithms: provider().signature_verification_algorithms,
        };
        let name = ServerName::try_from("anything")?;
        let now = UnixTime::now();
        assert!(verifier
            .verify_server_cert(&leaf, &[], &name, &[], now)
            .is_ok());
        let other = CertificateDer::from_pem_file(fixture("ca.pem"))?;
        assert!(verifier
            .verify_server_cert(&other, &[leaf], &name, &[], now)
            .is_err());
        assert!(pinned_client_config(&fixture("server.pem")).is_ok());
        assert!(pinned_client_config(&fixture("missing.pem")).is_err());
        Ok(())
    }
}
