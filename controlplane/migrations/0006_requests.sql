-- Each answered request, as the data planes ship it from their audit logs: who, which key
-- source, every upstream attempt (JSON), and the usage. Kept 30 days.
CREATE TABLE requests (
    dataplane TEXT NOT NULL,
    request_id TEXT NOT NULL,
    at_us BIGINT NOT NULL,
    tenant TEXT NOT NULL,
    project TEXT NOT NULL,
    status BIGINT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    key_source TEXT NOT NULL,
    attempts TEXT NOT NULL,
    input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    cached_tokens BIGINT NOT NULL,
    PRIMARY KEY (dataplane, request_id)
);
CREATE INDEX requests_by_project ON requests (project, at_us);
CREATE INDEX requests_by_time ON requests (at_us);
