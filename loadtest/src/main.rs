//! `warden-loadtest`: the mock providers and the load generator.
//!
//! ```text
//! warden-loadtest mock --listen ADDR [--threads N] [--capture FILE] [--key-status KEY=STATUS]...
//!                      [--max-requests-per-conn N] [--tls-cert PEM --tls-key PEM]
//! warden-loadtest run --url URL [--key KEY] [--connections N] [--threads N] [--duration-s S]
//!                     [--model M] [--prompt-bytes N] [--stream]
//! ```

// A command-line tool: its results go to stdout.
#![allow(clippy::print_stdout)]

mod knobs;
mod load;
mod mock;

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("mock") => mock_command(&args[1..]),
        Some("run") => run_command(&args[1..]),
        _ => {
            eprintln!("usage: warden-loadtest mock --listen ADDR [--threads N] [--capture FILE] [--key-status KEY=STATUS]...");
            eprintln!("       warden-loadtest run --url URL [--key KEY] [--connections N] [--threads N] [--duration-s S] [--model M] [--prompt-bytes N] [--stream]");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("warden-loadtest: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `--flag value` pairs and bare `--switch`es.
fn flags(args: &[String], switches: &[&str]) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if !flag.starts_with("--") {
            bail!("unexpected argument {flag:?}");
        }
        if switches.contains(&flag.as_str()) {
            out.push((flag.clone(), String::new()));
            continue;
        }
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        out.push((flag.clone(), value.clone()));
    }
    Ok(out)
}

fn mock_command(args: &[String]) -> anyhow::Result<()> {
    let mut config = mock::MockConfig {
        listen: "127.0.0.1:9000".parse()?,
        threads: 1,
        capture: None,
        key_status: HashMap::new(),
        max_requests_per_conn: None,
        tls: None,
    };
    let (mut tls_cert, mut tls_key) = (None, None);
    for (flag, value) in flags(args, &[])? {
        match flag.as_str() {
            "--listen" => {
                config.listen = value.parse().with_context(|| format!("--listen {value}"))?
            }
            "--threads" => config.threads = value.parse()?,
            "--capture" => config.capture = Some(value.into()),
            "--max-requests-per-conn" => config.max_requests_per_conn = Some(value.parse()?),
            "--tls-cert" => tls_cert = Some(value.into()),
            "--tls-key" => tls_key = Some(value.into()),
            "--key-status" => {
                let (key, status) = value
                    .rsplit_once('=')
                    .context("--key-status wants KEY=STATUS")?;
                config.key_status.insert(
                    key.to_owned(),
                    status.parse().context("--key-status status")?,
                );
            }
            _ => bail!("unknown flag {flag}"),
        }
    }
    config.tls = match (tls_cert, tls_key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        _ => bail!("--tls-cert and --tls-key go together"),
    };
    mock::run(config)
}

fn run_command(args: &[String]) -> anyhow::Result<()> {
    let mut url = None;
    let mut key = "wdn_demo_key".to_owned();
    let (mut connections, mut threads, mut duration_s) = (16usize, 1usize, 10f64);
    let (mut model, mut prompt_bytes, mut stream) = ("gpt-4o-mini".to_owned(), 1024usize, false);
    for (flag, value) in flags(args, &["--stream"])? {
        match flag.as_str() {
            "--url" => url = Some(value),
            "--key" => key = value,
            "--connections" => connections = value.parse()?,
            "--threads" => threads = value.parse()?,
            "--duration-s" => duration_s = value.parse()?,
            "--model" => model = value,
            "--prompt-bytes" => prompt_bytes = value.parse()?,
            "--stream" => stream = true,
            _ => bail!("unknown flag {flag}"),
        }
    }
    let url = url.context("--url is required")?;
    let prompt: String = "lorem ipsum "
        .repeat(prompt_bytes / 12 + 1)
        .chars()
        .take(prompt_bytes)
        .collect();
    let body = serde_json::json!({
        "model": model, "stream": stream,
        "messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": prompt}]
    });
    let report = load::run(load::LoadConfig {
        url,
        connections,
        threads,
        duration: Duration::from_secs_f64(duration_s),
        key,
        body: body.to_string().into_bytes(),
    })?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
