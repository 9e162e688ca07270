//! `warden-controlplane --config FILE` (TOML). Unknown keys are errors.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use warden_shared::standalone::ProviderSection;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Admin API.
    pub listen: SocketAddr,
    /// The SQLite database (unless `database_url` names another) and the generated secrets:
    /// `admin-token`, `dataplane-token`, the master, signing and digest keys.
    pub data_dir: PathBuf,
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` (several control planes may share
    /// one, each with a copy of the same secrets in its `data_dir`), or `sqlite://PATH`.
    /// Absent: SQLite at `data_dir/warden.db`.
    pub database_url: Option<String>,
    /// 32 random bytes; created (mode 0600) when absent. Default: `data_dir/master.key`.
    pub master_key_file: Option<PathBuf>,
    /// `[providers.NAME] base_url` overrides shipped to the data planes.
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderSection>,
    /// Warden's overhead rates.
    #[serde(default)]
    pub billing: crate::billing::BillingSection,
    /// `"text"` (default) or `"json"`: one JSON object per log line (see `warden_shared::logs`).
    #[serde(default)]
    pub log_format: warden_shared::logs::LogFormat,
    /// How often, while usage keeps arriving, a new snapshot carries the projects' month-to-date
    /// spend to the data planes (for monthly spend caps).
    #[serde(default = "default_spend_refresh_s")]
    pub spend_refresh_s: u64,
    /// `[[route_groups]]`: complexity routing groups (`auto` is built in).
    #[serde(default)]
    pub route_groups: Vec<warden_shared::snapshot::RouteGroup>,
    /// Serve `listen` over TLS (`[tls] cert_file, key_file`).
    pub tls: Option<crate::tls::TlsSection>,
    /// How snapshots reach data planes that registered an `https://` address.
    #[serde(default)]
    pub dataplanes: DataplanesSection,
    /// OpenTelemetry traces over OTLP/HTTP, as on the data plane; off unless an endpoint is set.
    pub telemetry: Option<warden_shared::telemetry::Config>,
    /// `[dashboard]`: session lifetimes and the sign-in rate limit.
    #[serde(default)]
    pub dashboard: crate::dashboard::Settings,
}

/// `[dataplanes]`.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct DataplanesSection {
    /// Extra PEM roots trusted for data planes' admin listeners (besides the webpki roots).
    pub ca_file: Option<PathBuf>,
}

fn default_spend_refresh_s() -> u64 {
    30
}

impl Config {
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        let config: Config =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        if let Some(url) = &config.database_url {
            let known = ["sqlite:", "postgres://", "postgresql://"];
            anyhow::ensure!(
                known.iter().any(|k| url.starts_with(k)),
                "{}: database_url: want postgres://… or sqlite://…",
                path.display()
            );
        }
        config
            .dashboard
            .check()
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        if let Some(t) = &config.telemetry {
            t.check()
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        }
        Ok(config)
    }

    pub fn master_key_file(&self) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master.key"))
    }
}
