-- Answer caching: each project's cache policy (JSON, like its limits), and usage and requests by
-- how they were answered: '' by a provider, 'exact' or 'semantic' from Warden's cache. Usage
-- gains `cache` in its key, so the table is rebuilt; existing rows were all provider answers.
ALTER TABLE projects ADD COLUMN cache TEXT NOT NULL DEFAULT '{}';
ALTER TABLE requests ADD COLUMN cache TEXT NOT NULL DEFAULT '';
CREATE TABLE usage_cached (
    day TEXT NOT NULL,
    tenant TEXT NOT NULL,
    project TEXT NOT NULL,
    environment TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    key_source TEXT NOT NULL,
    cache TEXT NOT NULL,
    requests BIGINT NOT NULL,
    input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    cached_tokens BIGINT NOT NULL,
    PRIMARY KEY (day, tenant, project, environment, provider, model, key_source, cache)
);
INSERT INTO usage_cached SELECT day, tenant, project, environment, provider, model, key_source, '',
    requests, input_tokens, output_tokens, cached_tokens FROM usage;
DROP TABLE usage;
ALTER TABLE usage_cached RENAME TO usage;
