-- A request row is one request: the data plane, the project, the request id and the time it
-- arrived. The request id alone came from the client (`x-request-id`), so two requests with the
-- same id — one tenant's, or a tenant reusing another's — kept only the first row. Rebuilt with
-- the wider key; re-shipped rows (same data plane, project, id and time) still count once.
CREATE TABLE requests_keyed (
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
    PRIMARY KEY (dataplane, project, request_id, at_us)
);
INSERT INTO requests_keyed SELECT dataplane, request_id, at_us, tenant, project, status, provider,
    model, key_source, attempts, input_tokens, output_tokens, cached_tokens FROM requests;
DROP TABLE requests;
ALTER TABLE requests_keyed RENAME TO requests;
CREATE INDEX requests_by_project ON requests (project, at_us);
CREATE INDEX requests_by_time ON requests (at_us);
