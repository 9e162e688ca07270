//! Process logs for both planes: `tracing` events on stderr, filtered by `WARDEN_LOG` (the
//! `tracing-subscriber` EnvFilter syntax: `info`, `warn`, `warden_dataplane::proxy=debug,info`;
//! default `info`), as text or as JSON lines (`log_format = "json"` in either config), one object
//! per event with `timestamp`, `level`, `target` and the event's `fields`.

use serde::Deserialize;

/// How log lines are written.
#[derive(Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Install the process-wide subscriber (once, before anything logs).
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WARDEN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(false).init(),
    }
}
