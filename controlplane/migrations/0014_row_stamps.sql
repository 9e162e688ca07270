-- Row stamps: every write to a table the snapshot reads stamps its rows with the next
-- meta.row_seq (taken under the write lock), and a removal leaves the row's id in removed_rows
-- under its stamp, so the leader reads only what changed since its last build
-- (store/rows.rs, snapshot/mirror.rs). Rows from before this migration keep stamp 0: a first
-- build reads everything.
ALTER TABLE tenants ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE projects ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE provider_keys ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
CREATE TABLE removed_rows (
    seq BIGINT NOT NULL,
    tbl TEXT NOT NULL,
    id TEXT NOT NULL
);
CREATE INDEX tenants_by_seq ON tenants (seq);
CREATE INDEX projects_by_seq ON projects (seq);
CREATE INDEX provider_keys_by_seq ON provider_keys (seq);
CREATE INDEX api_keys_by_seq ON api_keys (seq);
CREATE INDEX removed_rows_by_seq ON removed_rows (seq);
-- A project's keys are listed by project: a scan of every key at a million keys.
CREATE INDEX api_keys_by_project ON api_keys (project_id);
