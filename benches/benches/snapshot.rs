//! Snapshot costs at scale (100k Warden keys, 10k projects each with a sealed provider key):
//! encoding (what the control plane ships), checking the signature and validating and decoding
//! (what a data plane does with pushed bytes), building the serving state (once per snapshot,
//! shared by every shard), a shard taking it, authenticating a key against it, and opening a
//! provider key per request; and a change after the full snapshot: a delta of it checked,
//! decoded and applied (one new key; a thousand keys over a hundred changed projects), and a key
//! authenticated against the state it makes.
//! `WARDEN_BENCH_MILLION=1` adds the same steps at issue #18's scale: 1 000 000 Warden keys and
//! 100 000 projects with a provider key each (a few minutes; off by default).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use std::hint::black_box;
use warden_dataplane::state::SharedState;
use warden_shared::catalog::{default_models, Provider};
use warden_shared::snapshot::{
    self, ApiKeyEntry, Delta, Environment, GuardrailPolicy, Plan, Project, ProviderKey, Snapshot,
    Tenant,
};
use warden_shared::vault::{KeyScope, Keyring, MasterKey};
use warden_shared::{api_key_hash, fingerprint};

const PROJECTS: usize = 10_000;
const KEYS: usize = 100_000;

fn big_snapshot(master: &MasterKey) -> Snapshot {
    snapshot_of(master, PROJECTS, KEYS)
}

/// `projects` projects (ten per tenant) with one sealed provider key each, and `keys` Warden keys
/// spread evenly over them.
fn snapshot_of(master: &MasterKey, projects: usize, keys: usize) -> Snapshot {
    let tenants = (0..projects / 10)
        .map(|t| Tenant {
            id: format!("ten_{t:06}"),
            plan: Plan::Team,
        })
        .collect();
    let all_projects = (0..projects)
        .map(|p| {
            let (tenant, id, key_id) = (
                format!("ten_{:06}", p / 10),
                format!("prj_{p:06}"),
                format!("pk_{p:06}"),
            );
            let scope = KeyScope {
                tenant: &tenant,
                project: &id,
                provider: Provider::OpenAi,
                key_id: &key_id,
            };
            let sealed = master
                .seal(scope, format!("sk-proj-{p:06}-secret").as_bytes())
                .unwrap();
            Project {
                provider_keys: vec![ProviderKey {
                    id: key_id,
                    provider: Provider::OpenAi,
                    fingerprint: fingerprint(format!("sk-proj-{p:06}-secret").as_bytes()),
                    priority: 0,
                    sealed,
                }],
                tenant,
                id,
                environment: Environment::Production,
                guardrails: GuardrailPolicy::default(),
                custom_patterns: Vec::new(),
                phone_regions: Vec::new(),
                phone_standalone: None,
                routing: Default::default(),
                limits: Default::default(),
                cache: Default::default(),
            }
        })
        .collect();
    let api_keys = (0..keys)
        .map(|k| ApiKeyEntry {
            id: format!("key_{k:08}"),
            hash: api_key_hash(format!("wdn_{k:064}").as_bytes()),
            // Grouped by project, as the control plane sends them (`snapshot/mirror.rs`).
            project: format!("prj_{:06}", k * projects / keys),
        })
        .collect();
    Snapshot {
        version: 1,
        providers: Vec::new(),
        models: default_models(),
        tenants,
        projects: all_projects,
        api_keys,
        api_key_digest_secret: None,
        pooled_keys: Vec::new(),
        billing: Default::default(),
        route_groups: Vec::new(),
    }
}

/// Encode `snap`, sign it, check and decode its bytes (as a data plane does), build the shared state from it, give a
/// shard its view, and look a key up in it.
fn snapshot_steps(c: &mut Criterion, group: &str, snap: &Snapshot, keyring: &Arc<Keyring>) {
    let bytes = snapshot::encode(snap).unwrap();
    let signer = warden_shared::signing::Signer32::from_seed(&[9; 32]).unwrap();
    let signed = signer.sign(&bytes);
    let public =
        warden_shared::signing::PublicKey::from_file_text(&signer.public_key_file()).unwrap();
    let custom = warden_dataplane::guard::custom::compile_all(snap).unwrap();
    let built = SharedState::build(snap.clone(), Arc::clone(keyring), &custom).unwrap();
    println!(
        "snapshot of {} keys and {} projects: {} bytes; key table {} bytes",
        snap.api_keys.len(),
        snap.projects.len(),
        bytes.len(),
        built.shared.api_key_bytes(),
    );
    let mut g = c.benchmark_group(group);
    g.sample_size(10);
    g.bench_function("encode", |b| {
        b.iter(|| snapshot::encode(black_box(snap)).unwrap())
    });
    g.bench_function("check_signature", |b| {
        b.iter(|| public.open(black_box(&signed)).unwrap().len())
    });
    // What a data plane does with pushed bytes (after the signature): validate them, decode all
    // but the keys, make the key table from the archived keys; then build the serving state.
    g.bench_function("validate_and_decode", |b| {
        b.iter(|| warden_dataplane::state::decode(black_box(&bytes)).unwrap())
    });
    // The state takes the decoded snapshot apart, so each run gets its own (not timed).
    g.bench_function("build_shared_state", |b| {
        b.iter_batched(
            || warden_dataplane::state::decode(&bytes).unwrap(),
            |(s, keys)| {
                SharedState::build_with_keys(s, keys, Arc::clone(keyring), &custom).unwrap()
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("shard_takes_state", |b| b.iter(|| built.for_shard()));
    let state = built.for_shard();
    let presented = format!("wdn_{:064}", snap.api_keys.len() / 2);
    g.bench_function("authenticate_key", |b| {
        b.iter(|| {
            state
                .api_key(black_box(presented.as_bytes()))
                .unwrap()
                .project
        })
    });
    // A change after the full snapshot, as a data plane takes it: check the delta's signature,
    // validate and decode it, apply it to the base. (The old base key removed too.)
    let mut after = None;
    for (name, keys, projects) in [
        ("apply_delta_1_key", 1, 0),
        ("apply_delta_1000_keys_100_projects", 1000, 100),
    ] {
        let delta = Delta {
            base: snap.version,
            version: snap.version + 1,
            tenants: snap.tenants.clone(),
            projects: snap.projects[..projects].to_vec(),
            removed_projects: Vec::new(),
            api_keys: (0..keys)
                .map(|k| ApiKeyEntry {
                    id: format!("new_{k:08}"),
                    hash: api_key_hash(format!("new_{k:064}").as_bytes()),
                    project: snap.projects[k % snap.projects.len()].id.clone(),
                })
                .collect(),
            removed_keys: vec![snap.api_keys[0].hash],
        };
        let signed = signer.sign_delta(&snapshot::encode_delta(&delta).unwrap());
        let apply = || {
            let payload = public.open_delta(black_box(&signed)).unwrap();
            let delta = snapshot::decode_delta(payload).unwrap();
            SharedState::apply_delta(&built, delta, Arc::clone(keyring)).unwrap()
        };
        g.bench_function(name, |b| b.iter(apply));
        after = Some(apply());
    }
    let state = after.unwrap().for_shard();
    g.bench_function("authenticate_key_after_delta", |b| {
        b.iter(|| {
            state
                .api_key(black_box(presented.as_bytes()))
                .unwrap()
                .project
        })
    });
    g.finish();
}

fn snapshots(c: &mut Criterion) {
    let master = MasterKey::generate(7).unwrap();
    let snap = big_snapshot(&master);
    let keyring = Arc::new(Keyring::new(vec![
        MasterKey::from_bytes(7, &[0; 32]).unwrap()
    ]));
    snapshot_steps(c, "snapshot_100k_keys_10k_projects", &snap, &keyring);
    if std::env::var_os("WARDEN_BENCH_MILLION").is_some() {
        let big = snapshot_of(&master, 100_000, 1_000_000);
        snapshot_steps(c, "snapshot_1m_keys_100k_projects", &big, &keyring);
    }

    let scope = KeyScope {
        tenant: "ten_000000",
        project: "prj_000000",
        provider: Provider::OpenAi,
        key_id: "pk_000000",
    };
    let sealed = &snap.projects[0].provider_keys[0].sealed;
    let ring = Keyring::new(vec![master]);
    let mut g = c.benchmark_group("provider_key");
    g.bench_function("open_per_request", |b| {
        b.iter(|| ring.open(scope, black_box(sealed)).unwrap())
    });
    g.finish();

    // What authentication costs per request: the presented key's digest, plain SHA-256 (before
    // snapshots carried keyed digests) and keyed (SHA-256, then HMAC-SHA256 under the secret).
    let presented = b"wdn_0123456789abcdef0123456789abcdef0123456789ab";
    let secret = ring.derive(7, warden_shared::API_KEY_DIGEST_LABEL).unwrap();
    let mut g = c.benchmark_group("api_key_digest");
    g.bench_function("sha256", |b| {
        b.iter(|| warden_shared::api_key_hash(black_box(presented)))
    });
    let digester = warden_shared::ApiKeyDigester::new(&secret);
    g.bench_function("sha256_then_hmac", |b| {
        b.iter(|| {
            let hash = warden_shared::api_key_hash(black_box(presented));
            digester.digest(&hash)
        })
    });
    g.finish();
}

criterion_group!(benches, snapshots);
criterion_main!(benches);
