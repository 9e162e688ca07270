-- Warden control plane schema, version 1. Portable SQL: runs on SQLite and PostgreSQL.
-- Secrets never appear here in plaintext: Warden keys as SHA-256 hex, provider keys as
-- AES-256-GCM ciphertext (see warden-shared's vault).
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    plan TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    environment TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (tenant_id, name)
);
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id),
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    hint TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
-- project_id is NULL for the operator's pooled keys.
CREATE TABLE provider_keys (
    id TEXT PRIMARY KEY,
    project_id TEXT REFERENCES projects(id),
    provider TEXT NOT NULL,
    label TEXT NOT NULL,
    priority BIGINT NOT NULL,
    fingerprint TEXT NOT NULL,
    master_key_id BIGINT NOT NULL,
    nonce TEXT NOT NULL,
    ciphertext TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE models (
    alias TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    upstream_model TEXT NOT NULL
);
CREATE TABLE dataplanes (
    id TEXT PRIMARY KEY,
    push_url TEXT NOT NULL,
    acked_version BIGINT NOT NULL,
    last_seen BIGINT NOT NULL
);
CREATE TABLE meta (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
