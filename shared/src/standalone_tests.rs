//! Tests of compiling a standalone config into a snapshot (keys, limits, bad input).
use super::*;

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    providers: BTreeMap<String, ProviderSection>,
    #[serde(default)]
    models: Vec<ModelSection>,
    #[serde(default)]
    tenants: Vec<TenantSection>,
    #[serde(default)]
    pooled_keys: Vec<ProviderKeySection>,
}

fn compile_str(text: &str) -> Result<Snapshot, ConfigError> {
    let f: File = toml::from_str(text).map_err(|e| ConfigError(e.to_string()))?;
    let master = MasterKey::generate(1).map_err(|e| ConfigError(e.to_string()))?;
    compile(
        Sections {
            providers: &f.providers,
            models: &f.models,
            tenants: &f.tenants,
            pooled_keys: &f.pooled_keys,
            route_groups: &[],
        },
        &master,
        1,
    )
}

const SAMPLE: &str = r#"
[providers.openai]
base_url = "http://127.0.0.1:9000/v1/"
[[tenants]]
id = "acme"
plan = "team"
[[tenants.projects]]
id = "acme-prod"
api_keys = ["wdn_demo_key_0123456789abcdef"]
provider_keys = [{ provider = "openai", key = "sk-test-openai" }]
[tenants.projects.guardrails]
pii = "restore"
"#;

#[test]
fn custom_patterns_are_checked_when_the_config_loads() -> Result<(), ConfigError> {
    let with = |pattern: &str| {
        format!(
            "{SAMPLE}[[tenants.projects.guardrails.custom]]\nid = \"employee_id\"\npattern = '{pattern}'\naction = \"redact\"\n"
        )
    };
    let s = compile_str(&with(r"\bEMP-\d{6}\b"))?;
    assert_eq!(s.projects[0].custom_patterns[0].id, "employee_id");
    assert_eq!(
        s.projects[0].custom_patterns[0].response_action,
        GuardAction::Off
    );
    let e = compile_str(&with("")).unwrap_err();
    assert!(
        e.0.contains("project acme-prod: custom pattern employee_id"),
        "{e}"
    );
    Ok(())
}

#[test]
fn sample_compiles_with_sealed_keys_only() -> Result<(), ConfigError> {
    let s = compile_str(SAMPLE)?;
    assert_eq!(s.providers[0].base_url, "http://127.0.0.1:9000/v1");
    // Keyed under the master key the snapshot names, never the plain SHA-256.
    assert_eq!(
        s.api_key_digest_secret.as_ref().map(|k| k.master_key_id),
        Some(1)
    );
    assert_ne!(
        s.api_keys[0].hash,
        api_key_hash(b"wdn_demo_key_0123456789abcdef")
    );
    let p = &s.projects[0];
    assert_eq!(p.guardrails.pii, GuardAction::Restore);
    assert_eq!(p.provider_keys[0].provider, Provider::OpenAi);
    let bytes = crate::snapshot::encode(&s).map_err(|e| ConfigError(e.to_string()))?;
    assert!(
        !bytes.windows(14).any(|w| w == b"sk-test-openai"),
        "plaintext key in snapshot"
    );
    assert!(
        !bytes
            .windows(29)
            .any(|w| w == b"wdn_demo_key_0123456789abcdef"),
        "plaintext api key in snapshot"
    );
    Ok(())
}

#[test]
fn bad_configs_name_the_field_but_not_the_key() {
    let unknown = compile_str(&SAMPLE.replace("provider = \"openai\"", "provider = \"azure\""));
    assert!(matches!(unknown, Err(ConfigError(m)) if m.contains("azure")));
    let spaced = compile_str(&SAMPLE.replace("sk-test-openai", "sk test"));
    assert!(
        matches!(spaced, Err(ConfigError(m)) if m.contains("whitespace") && !m.contains("sk test"))
    );
    let missing_env =
        compile_str(&SAMPLE.replace("key = \"sk-test-openai\"", "key_env = \"WARDEN_NOPE_X\""));
    assert!(matches!(missing_env, Err(ConfigError(m)) if m.contains("WARDEN_NOPE_X")));
    let dup = compile_str(&SAMPLE.replace(
        "[\"wdn_demo_key_0123456789abcdef\"]",
        "[\"wdn_demo_key_0123456789abcdef\", \"wdn_demo_key_0123456789abcdef\"]",
    ));
    assert!(dup.is_err());
    let short =
        compile_str(&SAMPLE.replace("[\"wdn_demo_key_0123456789abcdef\"]", "[\"wdn_short_key\"]"));
    assert!(
        matches!(&short, Err(ConfigError(m)) if m.contains("at least 20 characters") && !m.contains("wdn_short_key")),
        "{:?}",
        short.err()
    );
}
