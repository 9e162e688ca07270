//! warden-benches: criterion micro-benchmarks of the data plane's hot path live in `benches/`.
//! Run them with `cargo bench -p warden-benches`; whole-system load is `warden-loadtest run`.

/// A wire fixture (tests/fixtures/wire), for the benches that replay providers' bytes. A missing
/// fixture stops the bench with its path.
#[allow(clippy::panic)]
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../tests/fixtures/wire/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}
