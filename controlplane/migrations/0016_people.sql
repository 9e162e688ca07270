-- The people who sign in to the dashboard (controlplane/src/dashboard.rs): operators (no tenant,
-- role 'operator') and each tenant's users (role 'owner' or 'member'). `password` is an Argon2id
-- hash with its parameters and salt (dashboard/passwords.rs), never the password.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    tenant_id TEXT,
    role TEXT NOT NULL,
    password TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
-- Signed-in sessions, by the SHA-256 of their cookie (the cookie itself is never stored), with
-- the CSRF token every change made from the page must carry.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    seen_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);
-- Failed sign-ins in the last window, by the name tried and by the client's address: the rate
-- limit holds across every control plane of a cluster.
CREATE TABLE login_failures (
    name TEXT NOT NULL,
    addr TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX login_failures_by_name ON login_failures (name, at);
CREATE INDEX login_failures_by_addr ON login_failures (addr, at);
