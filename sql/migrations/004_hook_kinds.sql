-- Schema version 3 -> 4: how each SAE reaches the logits (hook kind, the mapping applied) and its
-- position within its model (ingest/sources/hooks.py). Existing rows get NULL; re-ingesting an SAE
-- (--force) fills them. Until then hook_name tells where the SAE sits.
ALTER TABLE saes ADD COLUMN IF NOT EXISTS hook_kind VARCHAR;
ALTER TABLE saes ADD COLUMN IF NOT EXISTS logit_mapping VARCHAR;
ALTER TABLE saes ADD COLUMN IF NOT EXISTS hook_position BIGINT;
