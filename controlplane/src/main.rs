//! `warden-controlplane --config FILE`: open the store, make the tokens and master key on first
//! start (mode 0600), seed the model catalog, publish the first snapshot, serve the admin API,
//! and push snapshots to the data planes.
//! `warden-controlplane rotate-master-key --config FILE` asks the running control plane to
//! re-wrap every provider key under a new master key; `check --config FILE` checks a config
//! without starting (see `cli`).

// A command-line program: it reports on stdout.
#![allow(clippy::print_stdout)]

mod api;
mod app;
mod billing;
mod cli;
mod cluster;
mod config;
mod credentials;
mod dashboard;
mod error;
mod key_digests;
mod secrets;
mod snapshot;
mod store;
mod tls;
mod trace;

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use warden_shared::catalog::{default_models, Provider};
use warden_shared::snapshot::ProviderEndpoint;
use warden_shared::vault::MasterKey;
use zeroize::Zeroizing;

use crate::app::App;
use crate::config::Config;
use crate::secrets::{ensure_file, new_token, random_bytes};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let command = match cli::parse(std::env::args_os().skip(1)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("warden-controlplane: {e}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    let result = match command {
        cli::Command::Serve(path) => serve(&path),
        cli::Command::Check(path) => {
            let _logs = warden_shared::logs::init(Default::default());
            check(&path)
        }
        cli::Command::Rotate(path) => {
            let _logs = warden_shared::logs::init(Default::default());
            rotate(&path)
        }
        cli::Command::UserAdd {
            config,
            name,
            tenant,
            role,
        } => {
            let _logs = warden_shared::logs::init(Default::default());
            user_add(&config, &name, tenant.as_deref(), &role)
        }
        cli::Command::Help => {
            println!("{}", cli::USAGE);
            Ok(())
        }
        cli::Command::Version => {
            println!("warden-controlplane {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("warden-controlplane: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `user add`: a dashboard user in the control plane's store (running or not); its password is
/// printed once.
fn user_add(path: &Path, name: &str, tenant: Option<&str>, role: &str) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let store = match &config.database_url {
                Some(url) => store::Store::connect(url).await?,
                None => store::Store::open(&config.data_dir.join("warden.db")).await?,
            };
            if let Some(t) = tenant {
                anyhow::ensure!(store.tenant_exists(t).await?, "no tenant {t:?}");
            }
            let (user, password) = dashboard::make_user(&store, name, tenant, role)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "user {} ({}{}) created; password (shown once): {}",
                user.name,
                user.role,
                tenant.map(|t| format!(" of {t}")).unwrap_or_default(),
                password.as_str()
            );
            Ok(())
        })
}

/// `check --config FILE`: parse every key and check what a start would read, without creating
/// anything: provider names, billing overhead, and the key files that already exist.
fn check(path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path).with_context(|| path.display().to_string())?;
    providers(&config)?;
    config.billing.overhead()?;
    let key_file = config.master_key_file();
    for (file, what) in [
        (key_file.clone(), "master key file"),
        (
            config.data_dir.join("snapshot-signing.key"),
            "snapshot-signing.key",
        ),
        (
            config.data_dir.join("api-key-digest.key"),
            "api-key-digest.key",
        ),
    ] {
        if let Ok(bytes) = std::fs::read(&file) {
            let bytes = Zeroizing::new(bytes);
            anyhow::ensure!(
                bytes.len() == 32,
                "{}: the {what} must hold exactly 32 bytes",
                file.display()
            );
        }
    }
    println!("{}: ok", path.display());
    Ok(())
}

fn serve(path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    let _logs = warden_shared::logs::init(config.log_format);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(run(config))
}

async fn run(config: Config) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    let admin_token = token(&config.data_dir.join("admin-token"), "wat")?;
    let dataplane_token = token(&config.data_dir.join("dataplane-token"), "wdp")?;
    let key_file = config.master_key_file();
    let key = ensure_file(&key_file, || {
        Ok(Zeroizing::new(random_bytes::<32>()?.to_vec()))
    })?;
    let mut keys = vec![MasterKey::from_key_file_bytes(&key)
        .context("master key file must hold exactly 32 bytes")?];
    let mut previous = key_file.as_os_str().to_owned();
    previous.push(".previous");
    if let Ok(old) = std::fs::read(&previous) {
        keys.push(
            MasterKey::from_key_file_bytes(&Zeroizing::new(old))
                .context("the previous master key file")?,
        );
    }
    let store = match &config.database_url {
        Some(url) => store::Store::connect(url)
            .await
            .context("database_url: could not open the database")?,
        None => store::Store::open(&config.data_dir.join("warden.db")).await?,
    };
    tracing::info!(backend = ?store.backend(), "store open");
    if store.models().await?.is_empty() {
        for m in default_models() {
            store
                .put_model(
                    &m.alias,
                    m.provider.name(),
                    &m.upstream_model,
                    "[]",
                    m.kind.name(),
                )
                .await?;
        }
    }
    if store.prices().await?.is_empty() {
        for (provider, model, input, output) in billing::DEFAULT_PRICES {
            store
                .put_price(&store::usage::Price {
                    provider: (*provider).into(),
                    model: (*model).into(),
                    input_per_mtok: (*input).into(),
                    output_per_mtok: (*output).into(),
                })
                .await?;
        }
    }
    // The snapshot signing key: created on first start (0600), its public key written beside it
    // for the data planes to pin (`snapshot_public_key_file`).
    let seed = ensure_file(&config.data_dir.join("snapshot-signing.key"), || {
        Ok(Zeroizing::new(random_bytes::<32>()?.to_vec()))
    })?;
    let signer = warden_shared::signing::Signer32::from_seed(&seed)
        .context("snapshot-signing.key must hold exactly 32 bytes")?;
    let public = config.data_dir.join("snapshot-signing.pub");
    std::fs::write(&public, signer.public_key_file())
        .with_context(|| format!("writing {}", public.display()))?;
    let providers = providers(&config)?;
    let mut app = App::new(
        store,
        admin_token,
        dataplane_token,
        warden_shared::vault::Keyring::new(keys),
        key_file,
        providers,
    );
    app.overhead = config.billing.overhead()?;
    app.dashboard = crate::dashboard::Settings {
        secure: config.tls.is_some(),
        ..config.dashboard.clone()
    };
    app.route_groups = config.route_groups.clone();
    app.signer = Some(signer);
    app.push_tls = Some(tls::client_config(config.dataplanes.ca_file.as_deref())?);
    if let Some(files) = &config.tls {
        tls::server_config(files)?;
    }
    app.credentials = Some(credentials::Credentials::load_or_create(
        &config.data_dir.join("dataplane-credential.key"),
    )?);
    let digests =
        key_digests::KeyDigests::load_or_create(&config.data_dir.join("api-key-digest.key"))?;
    // Before anything is keyed or sealed with them: these secrets must be the cluster's.
    cluster::check_secrets(&app.store, |name| match name {
        "master.key" => std::fs::read(&app.key_file),
        _ => std::fs::read(config.data_dir.join(name)),
    })
    .await?;
    let converted = app
        .store
        .key_api_key_digests(|plain| digests.of_plain(plain))
        .await?;
    if converted > 0 {
        tracing::info!(converted, "API-key digests in the store are now keyed");
    }
    app.key_digests = Some(digests);
    dashboard::first_operator(&app.store, &config.data_dir).await?;
    app.telemetry = match &config.telemetry {
        Some(section) => warden_shared::telemetry::Telemetry::new(section),
        None => None,
    };
    if let Some(t) = &app.telemetry {
        warden_shared::telemetry::export::spawn(Arc::clone(t), "warden-controlplane")
            .map_err(anyhow::Error::msg)?;
    }
    let app = Arc::new(app);
    let (version, term) = cluster::start(&app).await?;
    tokio::spawn(cluster::run(Arc::clone(&app), term));
    tokio::spawn(snapshot::pusher(Arc::clone(&app)));
    tokio::spawn(snapshot::spend_refresher(
        Arc::clone(&app),
        std::time::Duration::from_secs(config.spend_refresh_s),
    ));
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let local = listener.local_addr()?;
    // Where `rotate-master-key` finds this process (the configured port may be 0).
    std::fs::write(config.data_dir.join("admin-addr"), local.to_string())?;
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    // The handlers are in place before the address is announced: a SIGTERM right after it
    // stops the server gracefully instead of killing it with the default action.
    let signals = StopSignals::register();
    println!("warden-controlplane listening on {scheme}://{local}, snapshot v{version}");
    let _ = std::io::stdout().flush();
    match &config.tls {
        Some(files) => {
            axum::serve(
                tls::TlsListener::new(listener, files)?,
                api::router(app).into_make_service_with_connect_info::<dashboard::Peer>(),
            )
            .with_graceful_shutdown(signals.stopped())
            .await?
        }
        None => {
            axum::serve(
                listener,
                api::router(app).into_make_service_with_connect_info::<dashboard::Peer>(),
            )
            .with_graceful_shutdown(signals.stopped())
            .await?
        }
    }
    Ok(())
}

/// SIGTERM (orchestrators, systemd) and SIGINT (Ctrl-C), registered when made: either stops
/// taking connections and finishes the requests in flight.
struct StopSignals {
    term: Option<tokio::signal::unix::Signal>,
    int: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    fn register() -> StopSignals {
        use tokio::signal::unix::{signal, SignalKind};
        StopSignals {
            term: signal(SignalKind::terminate()).ok(),
            int: signal(SignalKind::interrupt()).ok(),
        }
    }

    async fn stopped(self) {
        let StopSignals { term, int } = self;
        let wait = |s: Option<tokio::signal::unix::Signal>| async move {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = wait(term) => {}
            _ = wait(int) => {}
        }
        tracing::info!("stopping: finishing requests in flight");
    }
}

fn token(path: &Path, prefix: &str) -> anyhow::Result<Zeroizing<String>> {
    let bytes = ensure_file(path, || new_token(prefix))?;
    Ok(Zeroizing::new(
        String::from_utf8_lossy(&bytes).trim().to_owned(),
    ))
}

fn providers(config: &Config) -> anyhow::Result<Vec<ProviderEndpoint>> {
    for name in config.providers.keys() {
        Provider::from_name(name)
            .with_context(|| format!("[providers.{name}]: unknown provider"))?;
    }
    Ok(Provider::ALL
        .into_iter()
        .map(|p| ProviderEndpoint {
            provider: p,
            base_url: config
                .providers
                .get(p.name())
                .and_then(|s| s.base_url.clone())
                .unwrap_or_else(|| p.default_base_url().to_owned())
                .trim_end_matches('/')
                .to_owned(),
        })
        .collect())
}

/// Ask the running control plane (on `listen`, with the admin token from `data_dir`) to rotate.
/// Over TLS when it serves `[tls]`, trusting exactly its `cert_file` certificate.
fn rotate(path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    let token = Zeroizing::new(
        std::fs::read_to_string(config.data_dir.join("admin-token"))
            .context("reading admin-token")?,
    );
    // The running process's address (the configured port may be 0).
    let addr: std::net::SocketAddr = std::fs::read_to_string(config.data_dir.join("admin-addr"))
        .ok()
        .and_then(|a| a.trim().parse().ok())
        .unwrap_or(config.listen);
    let tcp =
        std::net::TcpStream::connect(addr).context("connecting to the running control plane")?;
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(60)))?;
    let request = Zeroizing::new(format!(
        "POST /admin/v1/master-key/rotate HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        token.trim()
    ));
    let response = match &config.tls {
        None => exchange(tcp, request.as_bytes())?,
        Some(files) => {
            let name = rustls::pki_types::ServerName::try_from("warden-controlplane")?;
            let tls =
                rustls::ClientConnection::new(tls::pinned_client_config(&files.cert_file)?, name)?;
            exchange(rustls::StreamOwned::new(tls, tcp), request.as_bytes())?
        }
    };
    let ok = response.starts_with("HTTP/1.1 200");
    println!("{}", response.split("\r\n\r\n").nth(1).unwrap_or(&response));
    anyhow::ensure!(ok, "rotation failed");
    Ok(())
}

/// Send `request` and read the reply until the peer closes (a TLS peer that closes without
/// close_notify still gives what it sent).
fn exchange(mut s: impl Read + Write, request: &[u8]) -> anyhow::Result<String> {
    s.write_all(request)?;
    s.flush()?;
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) if response.len() + n <= 1 << 20 => response.extend_from_slice(&buf[..n]),
            Ok(_) => anyhow::bail!("the control plane's reply is over 1 MiB"),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !response.is_empty() => {
                break
            }
            Err(e) => return Err(e).context("reading the control plane's reply"),
        }
    }
    Ok(String::from_utf8_lossy(&response).into_owned())
}
