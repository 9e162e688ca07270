//! warden-benches: criterion micro-benchmarks of the data plane's hot path live in `benches/`.
//! Run them with `cargo bench -p warden-benches`; whole-system load is `warden-loadtest run`.
