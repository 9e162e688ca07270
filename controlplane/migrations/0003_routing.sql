-- Key routing per project, as JSON ({"key_mode":"byok_then_pooled","providers":{"openai":"pooled_only"}});
-- absent keys take the defaults. Fallback aliases per model, as a JSON array.
ALTER TABLE projects ADD COLUMN routing TEXT NOT NULL DEFAULT '{}';
ALTER TABLE models ADD COLUMN fallbacks TEXT NOT NULL DEFAULT '[]';
