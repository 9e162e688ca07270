-- When each Warden key was last used, from the request rows the data planes ship: one row per key
-- that has been used (kept apart from api_keys, whose rows are the snapshot's and are stamped on
-- every change; a use is not a change of the key). The request log also keeps which key made
-- each request ('' in rows shipped before this).
CREATE TABLE api_key_use (
    id TEXT PRIMARY KEY,
    last_used_at BIGINT NOT NULL
);
ALTER TABLE requests ADD COLUMN api_key TEXT NOT NULL DEFAULT '';
