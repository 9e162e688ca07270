-- Limits per project, as JSON ({"requests_per_minute":60,"tokens_per_minute":100000,
-- "monthly_spend_usd":"50.00","monthly_spend_warning_usd":"40.00"}); absent keys: no limit.
ALTER TABLE projects ADD COLUMN limits TEXT NOT NULL DEFAULT '{}';
