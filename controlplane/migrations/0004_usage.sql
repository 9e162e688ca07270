-- Token usage summed per day and bucket, shipped by the data planes from their audit logs.
CREATE TABLE usage (
    day TEXT NOT NULL,
    tenant TEXT NOT NULL,
    project TEXT NOT NULL,
    environment TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    key_source TEXT NOT NULL,
    requests BIGINT NOT NULL,
    input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    cached_tokens BIGINT NOT NULL,
    PRIMARY KEY (day, tenant, project, environment, provider, model, key_source)
);
-- How far each data plane's usage has been applied (segment, byte offset in its audit log).
CREATE TABLE usage_cursors (
    dataplane TEXT PRIMARY KEY,
    segment BIGINT NOT NULL,
    byte_offset BIGINT NOT NULL
);
-- Provider prices for pooled traffic, in dollars per million tokens (decimal strings).
CREATE TABLE prices (
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    input_per_mtok TEXT NOT NULL,
    output_per_mtok TEXT NOT NULL,
    PRIMARY KEY (provider, model)
);
