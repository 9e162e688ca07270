-- API-key digests become keyed: HMAC-SHA256(K, SHA-256(key)), K being the 32 bytes of
-- `data_dir/api-key-digest.key` (0600, made at first start). Rows written before this keep their
-- plain SHA-256 (keyed = 0) until the control plane converts them at its next start; it can,
-- because the keyed digest is computed over the plain one.
ALTER TABLE api_keys ADD COLUMN keyed BIGINT NOT NULL DEFAULT 0;
