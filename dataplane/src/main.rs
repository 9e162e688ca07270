//! `warden-dataplane --config FILE`: load the config, compile the standalone snapshot, bind one
//! SO_REUSEPORT socket per shard, start the shards and the admin listener, and drain on SIGTERM.

// The binary's entry point reports its address and version on stdout.
#![allow(clippy::print_stdout)]

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use warden_dataplane::admin::{self, AdminView};
use warden_dataplane::audit::drain::{self, Drain};
use warden_dataplane::audit::producer::{Health, Producer};
use warden_dataplane::audit::recover::recover_and_open;
use warden_dataplane::audit::ring::{Ring, BYTES_PER_RECORD};
use warden_dataplane::audit::writer::Writer;
use warden_dataplane::cli::{self, Command};

mod boot;
use boot::{cache_tiers, check, guard_engine, initial_snapshot, read_token};
use warden_dataplane::config::Config;
use warden_dataplane::control::{load_public_key, spawn_registration, Control};
use warden_dataplane::listener::bind_all;
use warden_dataplane::metrics::ShardMetrics;
use warden_dataplane::runtime;
use warden_dataplane::shard::ShardSpec;
use warden_dataplane::upstream::dns::spawn_resolvers;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let command = match cli::parse(std::env::args_os().skip(1)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("warden-dataplane: {e}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    // The config says how to log; the tools log as text.
    let config = match &command {
        Command::Run { config } | Command::Check { config } => match Config::load(config) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("{}: {e}", config.display());
                return ExitCode::FAILURE;
            }
        },
        _ => None,
    };
    let _logs =
        warden_shared::logs::init(config.as_ref().map_or(Default::default(), |c| c.log_format));
    let result = match (command, config) {
        (Command::Run { .. }, Some(config)) => run(config),
        (Command::Check { config: path }, Some(config)) => {
            if let Err(e) = check(config) {
                eprintln!("{}: {e:#}", path.display());
                return ExitCode::FAILURE;
            }
            println!("{}: ok", path.display());
            Ok(())
        }
        (Command::Run { .. } | Command::Check { .. }, None) => return ExitCode::FAILURE,
        (Command::Audit(args), _) => {
            return tool(|out, err| warden_dataplane::audit::cli::run(&args, out, err))
        }
        (Command::Guard(args), _) => {
            return tool(|out, err| warden_dataplane::guard::cli::run(&args, out, err))
        }
        (Command::Cache(args), _) => {
            return tool(|out, err| warden_dataplane::cache::semantic::cli::run(&args, out, err))
        }
        (Command::Route(args), _) => {
            return tool(|out, err| warden_dataplane::complexity::cli::run(&args, out, err))
        }
        (Command::Help(text), _) => {
            println!("{text}");
            Ok(())
        }
        (Command::Version, _) => {
            println!("warden-dataplane {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: Config) -> anyhow::Result<()> {
    // A file-size limit hit by the audit writer must fail that write (EFBIG, handled as a disk
    // error: fail closed, recover), not kill the process with SIGXFSZ.
    signal_hook::flag::register(
        signal_hook::consts::SIGXFSZ,
        Arc::new(AtomicBool::new(false)),
    )?;
    let config = Arc::new(config);
    std::fs::create_dir_all(&config.state_dir)
        .with_context(|| format!("creating state_dir {}", config.state_dir.display()))?;
    let (keyring, snapshot, delta) = initial_snapshot(&config, true)?;
    let keyring = Arc::new(keyring);
    let built = boot::serving_state(snapshot, delta, &keyring)?;
    let first_version = built.shared.version;

    let load_tls = |files: &Option<warden_dataplane::tls::TlsConfig>| match files {
        Some(files) => warden_dataplane::tls::ServerTls::load(files)
            .map(|t| Some(Arc::new(t)))
            .map_err(anyhow::Error::msg),
        None => Ok(None),
    };
    let server_tls = load_tls(&config.tls)?;
    let admin_tls = load_tls(&config.admin_tls)?;
    if config.control_plane.is_some() {
        warden_dataplane::control::init_tls(config.control_plane_ca_file.as_deref())
            .map_err(anyhow::Error::msg)?;
    }
    let shards = config.shard_count();
    let listeners =
        bind_all(config.listen, shards).with_context(|| format!("binding {}", config.listen))?;
    let local = listeners[0].local_addr()?;
    let dns = spawn_resolvers(2)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let metrics: Vec<Arc<ShardMetrics>> = (0..shards)
        .map(|_| Arc::new(ShardMetrics::default()))
        .collect();
    // The oldest audit segment the usage shipper still needs (kept from retention).
    let usage_needed = Arc::new(AtomicU64::new(0));
    let ships_usage = config.control_plane.is_some() && config.audit.enabled;
    let audit = start_audit(
        &config,
        shards,
        ships_usage.then(|| Arc::clone(&usage_needed)),
    )?;
    let guard = Arc::new(guard_engine(&config)?);
    let scorer = Arc::new(warden_dataplane::complexity::Scorer::new().map_err(anyhow::Error::msg)?);
    let version = Arc::new(AtomicU64::new(first_version));
    let (senders, mut receivers): (Vec<_>, Vec<_>) = (0..shards)
        .map(|_| futures_channel::mpsc::unbounded())
        .unzip();
    let control = match (
        &config.control_plane,
        &config.control_plane_token_file,
        &config.master_key_file,
        &config.snapshot_public_key_file,
    ) {
        (Some(_), Some(token_file), Some(key_file), Some(public)) => Some(Arc::new(Control::new(
            read_token(token_file)?,
            senders,
            Arc::clone(&keyring),
            key_file.clone(),
            config.state_dir.clone(),
            Arc::clone(&version),
            warden_dataplane::control::Trust {
                public_key: load_public_key(public).map_err(anyhow::Error::msg)?,
                pins: config.pinned_origins().map_err(anyhow::Error::msg)?,
            },
            &built,
        ))),
        _ => None,
    };
    let telemetry = start_telemetry(&config)?;
    let view = Arc::new(AdminView {
        shards: metrics.clone(),
        snapshot_version: Arc::clone(&version),
        draining: AtomicBool::new(false),
        listen_sockets: listeners.len(),
        audit: audit.as_ref().map(|a| Arc::clone(&a.health)),
        control: control.clone(),
        tls: server_tls.clone(),
        admin_tls: admin_tls.clone(),
        telemetry: telemetry.clone(),
    });
    let mut producers = audit
        .as_ref()
        .map(|a| a.producers(&config.audit))
        .unwrap_or_default()
        .into_iter();
    let mut handles = Vec::with_capacity(shards);
    let mut drains = Vec::with_capacity(shards);
    let cache = cache_tiers(&config, &keyring)?;
    if let Some(shared) = &config.shared_limits {
        warden_dataplane::limits::share(shared).map_err(anyhow::Error::msg)?;
    }
    let (ready_tx, ready_rx) = mpsc::channel();
    for (id, listener) in listeners.into_iter().enumerate() {
        let (drain_tx, drain_rx) = futures_channel::oneshot::channel();
        drains.push(drain_tx);
        handles.push(runtime::spawn(ShardSpec {
            id,
            core: Some(id % cores),
            listener,
            config: Arc::clone(&config),
            state: Some(built.for_shard()),
            metrics: Arc::clone(&metrics[id]),
            dns: dns.clone(),
            drain: drain_rx,
            ready: ready_tx.clone(),
            audit: producers.next(),
            guard: Arc::clone(&guard),
            scorer: Arc::clone(&scorer),
            server_tls: server_tls.clone(),
            updates: receivers.remove(0),
            telemetry: telemetry.clone(),
            cache: cache.clone(),
        })?);
    }
    drop(ready_tx);
    for _ in 0..shards {
        match ready_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => bail!(e),
            Err(_) => bail!("a shard did not start within 30 s"),
        }
    }
    let admin_addr = admin::spawn(config.admin_listen, Arc::clone(&view))
        .with_context(|| format!("binding admin_listen {}", config.admin_listen))?;
    tracing::info!(%local, admin = %admin_addr, shards, version = first_version, "serving");
    if let (Some(cp), Some(control)) = (&config.control_plane, &control) {
        let id = config
            .dataplane_id
            .clone()
            .unwrap_or_else(|| admin_addr.to_string());
        let push_url = config.advertise_admin_url.clone().unwrap_or_else(|| {
            let scheme = if admin_tls.is_some() { "https" } else { "http" };
            format!("{scheme}://{admin_addr}")
        });
        spawn_registration(
            cp.urls(),
            Arc::clone(control),
            id.clone(),
            push_url,
            Arc::clone(&version),
        )?;
        if ships_usage {
            warden_dataplane::usage::spawn_shipper(
                config.audit_dir(),
                config.state_dir.clone(),
                cp.urls(),
                Arc::clone(control),
                id,
                Duration::from_millis(config.usage_ship_ms),
                Arc::clone(&usage_needed),
            )?;
        }
    }
    let scheme = if server_tls.is_some() {
        "https"
    } else {
        "http"
    };
    // The handlers are in place before the address is announced: a SIGTERM right after it (a
    // supervisor, a test) drains the gateway instead of killing it with the default action.
    let (sig_tx, sig_rx) = mpsc::channel();
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ])?;
    std::thread::Builder::new()
        .name("warden-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if sig == signal_hook::consts::SIGHUP {
                    reload_tls(server_tls.as_deref());
                    if let Some(t) = admin_tls.as_deref() {
                        reload_tls(Some(t));
                    }
                    continue;
                }
                if sig_tx.send(sig).is_err() {
                    break;
                }
            }
        })?;
    println!(
        "warden-dataplane listening on {scheme}://{local} (admin http://{admin_addr}), {shards} shards"
    );
    // Wait for a signal, watching that every shard is still alive.
    let died = loop {
        match sig_rx.recv_timeout(Duration::from_millis(250)) {
            Ok(_) | Err(mpsc::RecvTimeoutError::Disconnected) => break None,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Some(i) = handles.iter().position(|h| h.is_finished()) {
                    break Some(i);
                }
            }
        }
    };
    view.draining.store(true, Relaxed);
    if died.is_none() && config.timeouts.shutdown_delay_ms > 0 {
        // Unready but still serving, so load balancers stop sending before the listeners close.
        tracing::info!(
            delay_ms = config.timeouts.shutdown_delay_ms,
            "unready; serving until the shutdown delay ends"
        );
        let _ = sig_rx.recv_timeout(Duration::from_millis(config.timeouts.shutdown_delay_ms));
    }
    tracing::info!("draining");
    for d in drains {
        let _ = d.send(());
    }
    let deadline =
        Instant::now() + Duration::from_millis(config.timeouts.drain_ms) + Duration::from_secs(2);
    let mut failure = None;
    for (i, h) in handles.into_iter().enumerate() {
        while !h.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if h.is_finished() {
            match h.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failure = Some(format!("shard {i}: {e}")),
                Err(_) => failure = Some(format!("shard {i} panicked")),
            }
        }
    }
    if let Some(audit) = audit {
        audit.stop();
    }
    match (died, failure) {
        (_, Some(e)) => bail!(e),
        (Some(i), None) => bail!("shard {i} stopped unexpectedly"),
        (None, None) => Ok(()),
    }
}

/// SIGHUP: read the client TLS certificate and key again (nothing else reloads on SIGHUP).
fn reload_tls(tls: Option<&warden_dataplane::tls::ServerTls>) {
    match tls.map(|t| t.reload()) {
        None => tracing::info!("SIGHUP: no [tls] configured, nothing to reload"),
        Some(Ok(())) => tracing::info!("SIGHUP: client TLS certificate reloaded"),
        Some(Err(e)) => tracing::error!("SIGHUP: keeping the previous TLS certificate: {e}"),
    }
}

/// The running audit drain and the rings it empties.
struct Audit {
    /// Set when the rings live outside the audit directory (tmpfs): removed once drained.
    ring_dir: Option<std::path::PathBuf>,
    rings: Vec<Arc<Ring>>,
    health: Arc<Health>,
    stop: Arc<AtomicBool>,
    drain: std::thread::JoinHandle<()>,
}

impl Audit {
    /// One producer per shard, in shard order.
    fn producers(&self, config: &warden_dataplane::audit::AuditConfig) -> Vec<Producer> {
        let wait = Duration::from_micros(config.full_wait_us);
        self.rings
            .iter()
            .map(|r| {
                Producer::new(
                    Arc::clone(r),
                    self.drain.thread().clone(),
                    Arc::clone(&self.health),
                    wait,
                    config.durability,
                )
            })
            .collect()
    }

    /// After the shards have drained: write what is left, sync, stop; then remove in-memory
    /// rings that are empty (they would hold memory until the host restarts).
    fn stop(self) {
        self.stop.store(true, Relaxed);
        self.drain.thread().unpark();
        let _ = self.drain.join();
        let drained = self.rings.iter().all(|r| r.pending() == 0);
        drop(self.rings);
        if let (Some(dir), true) = (self.ring_dir, drained) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

fn start_audit(
    config: &Config,
    shards: usize,
    keep_from: Option<Arc<AtomicU64>>,
) -> anyhow::Result<Option<Audit>> {
    if !config.audit.enabled {
        return Ok(None);
    }
    let dir = config.audit_dir();
    let key = boot::audit_key(config, true)?;
    let mut writer = Writer::open(&dir, &config.audit, key)
        .with_context(|| format!("opening the audit log in {}", dir.display()))?;
    writer.keep_from = keep_from;
    if config.audit.compress {
        let (tx, _compactor) = warden_dataplane::audit::compact::spawn(config.audit.compress_level)
            .context("starting the audit compactor")?;
        writer
            .set_compactor(tx)
            .with_context(|| format!("listing {}", dir.display()))?;
    }
    let capacity = (config.audit.ring_capacity.max(1) as u64).saturating_mul(BYTES_PER_RECORD);
    let ring_dir = config.audit_ring_dir();
    create_private_dir(&ring_dir)
        .with_context(|| format!("creating the audit ring directory {}", ring_dir.display()))?;
    let (rings, _) = recover_and_open(&mut writer, &ring_dir, shards as u32, capacity)
        .with_context(|| format!("recovering the audit rings in {}", ring_dir.display()))?;
    let health = Arc::new(Health::new(rings.clone(), config.audit.warn_free_percent));
    let stop = Arc::new(AtomicBool::new(false));
    let drain = drain::spawn(
        writer,
        config.audit.clone(),
        Drain {
            rings: rings.clone(),
            health: Arc::clone(&health),
            stop: Arc::clone(&stop),
        },
    )?;
    Ok(Some(Audit {
        ring_dir: (ring_dir != dir).then_some(ring_dir),
        rings,
        health,
        stop,
        drain,
    }))
}

/// The span queue and its exporter thread, when `[telemetry] otlp_endpoint` is set.
fn start_telemetry(
    config: &Config,
) -> anyhow::Result<Option<Arc<warden_shared::telemetry::Telemetry>>> {
    let Some(section) = &config.telemetry else {
        return Ok(None);
    };
    let Some(telemetry) = warden_shared::telemetry::Telemetry::new(section) else {
        return Ok(None);
    };
    #[cfg(feature = "otlp")]
    warden_shared::telemetry::export::spawn(Arc::clone(&telemetry), "warden-dataplane")
        .map_err(anyhow::Error::msg)?;
    #[cfg(not(feature = "otlp"))]
    {
        drop(telemetry);
        anyhow::bail!("telemetry.otlp_endpoint: this build has no OTLP exporter (feature otlp)");
    }
    #[cfg(feature = "otlp")]
    Ok(Some(telemetry))
}

/// A tool subcommand on this process's stdout and stderr; its code is the exit code.
fn tool(run: impl FnOnce(&mut std::io::Stdout, &mut std::io::Stderr) -> u8) -> ExitCode {
    ExitCode::from(run(&mut std::io::stdout(), &mut std::io::stderr()))
}
