//! The three binaries' command lines, run for real: `--help` and `--version` exit 0 on stdout, a
//! wrong flag or command exits 2 naming it, `--flag=value` works, and `check --config FILE`
//! says whether a config would start — naming the key, pattern or file that would stop it —
//! without creating anything.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output, Stdio};

use warden_tests::{bin, config, TempDir};

fn run(binary: &str, args: &[&str]) -> Output {
    Command::new(bin(binary))
        .args(args)
        .env("WARDEN_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("spawn")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_and_version_exit_zero_and_mistakes_exit_two() {
    for binary in ["warden-dataplane", "warden-controlplane", "warden-loadtest"] {
        for flag in ["--help", "-h"] {
            let out = run(binary, &[flag]);
            assert_eq!(out.status.code(), Some(0), "{binary} {flag}");
            assert!(text(&out.stdout).starts_with("usage:"), "{binary} {flag}");
        }
        let out = run(binary, &["--version"]);
        assert_eq!(out.status.code(), Some(0), "{binary} --version");
        assert_eq!(
            text(&out.stdout).trim(),
            format!("{binary} {}", env!("CARGO_PKG_VERSION"))
        );
        let out = run(binary, &["--no-such-flag"]);
        assert_eq!(out.status.code(), Some(2), "{binary} --no-such-flag");
        assert!(text(&out.stderr).contains("usage:"), "{binary}");
    }
    // Subcommands have help of their own.
    for args in [
        &["check", "--help"][..],
        &["audit", "--help"],
        &["guard", "scan", "--help"],
    ] {
        let out = run("warden-dataplane", args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(text(&out.stdout).starts_with("usage:"), "{args:?}");
    }
    let out = run("warden-loadtest", &["run", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let out = run("warden-loadtest", &["run", "--url"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--url needs a value"));
}

/// A standalone data-plane config in `dir` (with `extra` at the end), and its path.
fn dataplane_config(dir: &TempDir, extra: &str) -> String {
    let state = dir.0.join("state");
    let body = config("127.0.0.1:9".parse().unwrap(), 1, extra)
        .replace("STATE_DIR", &state.display().to_string());
    let path = dir.0.join("dataplane.toml");
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

#[test]
fn dataplane_check_says_what_would_stop_a_start() {
    let dir = TempDir::new("cli-check");
    let good = dataplane_config(&dir, "");
    let out = run("warden-dataplane", &["check", &format!("--config={good}")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), format!("{good}: ok"));
    assert!(
        !dir.0.join("state").exists(),
        "check creates nothing (no state_dir, no last good snapshot)"
    );

    let typo = dataplane_config(&dir, "");
    std::fs::write(
        &typo,
        std::fs::read_to_string(&typo)
            .unwrap()
            .replacen("io_uring_entries", "io_uring_entrys", 1),
    )
    .unwrap();
    let out = run("warden-dataplane", &["check", "--config", &typo]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("unknown field `io_uring_entrys`"),
        "{}",
        text(&out.stderr)
    );

    let pattern = dataplane_config(
        &dir,
        "[tenants.projects.guardrails]\n[[tenants.projects.guardrails.custom]]\nid = \"lookbehind\"\npattern = '(?<=id:)\\d+'\naction = \"block\"\n",
    );
    let out = run("warden-dataplane", &["check", "-c", &pattern]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("custom pattern lookbehind"),
        "{}",
        text(&out.stderr)
    );

    let region = dataplane_config(&dir, "");
    std::fs::write(
        &region,
        std::fs::read_to_string(&region).unwrap().replacen(
            "io_uring_entries = 256\n",
            "io_uring_entries = 256\nphone_regions = [\"QQ\"]\n",
            1,
        ),
    )
    .unwrap();
    let out = run("warden-dataplane", &["check", "--config", &region]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("\"QQ\""),
        "{}",
        text(&out.stderr)
    );

    let traces = dataplane_config(&dir, "");
    let mut body = std::fs::read_to_string(&traces).unwrap();
    body.push_str(
        "\n[telemetry]\notlp_endpoint = \"http://127.0.0.1:4318/v1/traces\"\nsample_ratio = 2.0\n",
    );
    std::fs::write(&traces, body).unwrap();
    let out = run("warden-dataplane", &["check", "--config", &traces]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("telemetry.sample_ratio"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_short_warden_key_or_an_empty_token_stops_the_start() {
    let dir = TempDir::new("cli-short-key");
    let short = dataplane_config(&dir, "");
    std::fs::write(
        &short,
        std::fs::read_to_string(&short).unwrap().replace(
            "api_keys = [\"wdn_no_provider_keys\"]",
            "api_keys = [\"wdn_short_k\"]",
        ),
    )
    .unwrap();
    let out = run("warden-dataplane", &["--config", &short]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("at least 20 characters"), "{err}");
    assert!(
        !err.contains("wdn_short_k"),
        "the key itself is not shown: {err}"
    );

    let token = dir.0.join("token");
    std::fs::write(&token, "\n").unwrap();
    let managed = dir.0.join("managed.toml");
    std::fs::write(
        &managed,
        format!(
            "listen = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\nstate_dir = \"{0}/state\"\nmaster_key_file = \"{0}/mk\"\ncontrol_plane = \"http://127.0.0.1:9\"\ncontrol_plane_token_file = \"{1}\"\nsnapshot_public_key_file = \"{0}/pub\"\n",
            dir.0.display(),
            token.display()
        ),
    )
    .unwrap();
    std::fs::write(dir.0.join("mk"), [1u8; 32]).unwrap();
    // A valid Ed25519 public key (the base point), so the start gets as far as the token.
    std::fs::write(dir.0.join("pub"), format!("58{}\n", "66".repeat(31))).unwrap();
    let out = run(
        "warden-dataplane",
        &["--config", &managed.display().to_string()],
    );
    assert_ne!(out.status.code(), Some(0));
    let err = text(&out.stderr);
    assert!(
        err.contains("token is empty or shorter than 20 characters"),
        "{err}"
    );
}

#[test]
fn controlplane_check_reads_without_creating() {
    let dir = TempDir::new("cli-cp-check");
    let data = dir.0.join("data");
    let path = dir.0.join("controlplane.toml");
    let write = |extra: &str| {
        std::fs::write(
            &path,
            format!(
                "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n{extra}",
                data.display()
            ),
        )
        .unwrap();
    };
    let path_s = path.display().to_string();
    write("");
    let out = run("warden-controlplane", &["check", "--config", &path_s]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), format!("{path_s}: ok"));
    assert!(!data.exists(), "check creates nothing");

    write("[telemetry]\notlp_endpoint = \"grpc://collector:4317\"\n");
    let out = run("warden-controlplane", &["check", "--config", &path_s]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("telemetry.otlp_endpoint"),
        "{}",
        text(&out.stderr)
    );

    write("[providers.openia]\nbase_url = \"http://127.0.0.1:9\"\n");
    let out = run("warden-controlplane", &["check", "--config", &path_s]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("[providers.openia]"),
        "{}",
        text(&out.stderr)
    );

    write("");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("master.key"), [7u8; 31]).unwrap();
    let out = run(
        "warden-controlplane",
        &["check", &format!("--config={path_s}")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("master key file must hold exactly 32 bytes"),
        "{}",
        text(&out.stderr)
    );
}
