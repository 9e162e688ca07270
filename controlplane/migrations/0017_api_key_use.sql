-- When each Warden key was last used, from the request rows the data planes ship: one row per key
-- that has been used (kept apart from api_keys, whose rows are the snapshot's and are stamped on
-- every change; a use is not a change of the key). The request log also keeps which key made
-- each request, how long it took (in Warden and upstream; to its first byte), its error code and
-- the guardrails' verdicts (JSON) — empty or 0 in rows shipped before this.
CREATE TABLE api_key_use (
    id TEXT PRIMARY KEY,
    last_used_at BIGINT NOT NULL
);
ALTER TABLE requests ADD COLUMN api_key TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN latency_us BIGINT NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN first_byte_us BIGINT NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN error TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN verdicts TEXT NOT NULL DEFAULT '[]';
-- A tenant's or a key's page of the log is a range of its own index, as a project's is.
CREATE INDEX requests_by_tenant ON requests (tenant, at_us);
CREATE INDEX requests_by_api_key ON requests (api_key, at_us);
-- A project's page narrowed by model, by key source or to its failures is a range of an index
-- too: without them a filter that matches few rows reads the project's whole range (0.3 s at a
-- million rows, benches/request_log.py).
CREATE INDEX requests_by_model ON requests (project, model, at_us);
CREATE INDEX requests_by_source ON requests (project, key_source, at_us);
CREATE INDEX requests_failed ON requests (project, at_us) WHERE status >= 400;
