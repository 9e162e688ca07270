-- Model kinds: 'chat' (every alias so far) or 'embedding', served by POST /v1/embeddings.
-- An existing catalog gains the built-in embedding aliases and their list prices (a fresh one
-- is seeded at first start, after this runs, from the built-in catalog). Nothing an operator
-- configured is replaced.
ALTER TABLE models ADD COLUMN kind TEXT NOT NULL DEFAULT 'chat';
INSERT INTO models (alias, provider, upstream_model, fallbacks, kind)
SELECT 'text-embedding-3-small', 'openai', 'text-embedding-3-small', '[]', 'embedding'
WHERE EXISTS (SELECT 1 FROM models)
  AND NOT EXISTS (SELECT 1 FROM models WHERE alias = 'text-embedding-3-small');
INSERT INTO models (alias, provider, upstream_model, fallbacks, kind)
SELECT 'text-embedding-3-large', 'openai', 'text-embedding-3-large', '[]', 'embedding'
WHERE EXISTS (SELECT 1 FROM models)
  AND NOT EXISTS (SELECT 1 FROM models WHERE alias = 'text-embedding-3-large');
INSERT INTO models (alias, provider, upstream_model, fallbacks, kind)
SELECT 'gemini-embedding-001', 'google', 'gemini-embedding-001', '[]', 'embedding'
WHERE EXISTS (SELECT 1 FROM models)
  AND NOT EXISTS (SELECT 1 FROM models WHERE alias = 'gemini-embedding-001');
INSERT INTO prices (provider, model, input_per_mtok, output_per_mtok)
SELECT 'openai', 'text-embedding-3-small', '0.02', '0.00'
WHERE EXISTS (SELECT 1 FROM prices)
  AND NOT EXISTS (SELECT 1 FROM prices WHERE provider = 'openai' AND model = 'text-embedding-3-small');
INSERT INTO prices (provider, model, input_per_mtok, output_per_mtok)
SELECT 'openai', 'text-embedding-3-large', '0.13', '0.00'
WHERE EXISTS (SELECT 1 FROM prices)
  AND NOT EXISTS (SELECT 1 FROM prices WHERE provider = 'openai' AND model = 'text-embedding-3-large');
INSERT INTO prices (provider, model, input_per_mtok, output_per_mtok)
SELECT 'google', 'gemini-embedding-001', '0.15', '0.00'
WHERE EXISTS (SELECT 1 FROM prices)
  AND NOT EXISTS (SELECT 1 FROM prices WHERE provider = 'google' AND model = 'gemini-embedding-001');
