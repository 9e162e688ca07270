-- Several control planes on one database must hold the same secrets (master key, signing key,
-- digest and credential keys, tokens): each one's fingerprint, as the first control plane to
-- start recorded it. A control plane whose file differs refuses to start (see store/cluster.rs).
CREATE TABLE cluster_secrets (
    name TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL
);
