-- Guardrail policy per project, as JSON ({"pii":"redact",...}); absent keys are "off".
ALTER TABLE projects ADD COLUMN guardrails TEXT NOT NULL DEFAULT '{}';
