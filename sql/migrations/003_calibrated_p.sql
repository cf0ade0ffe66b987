-- Schema version 2 -> 3: a calibrated p-value beyond the null's floor 1/(N+1), the null's tail fit that
-- reproduces it, and held-out null p-values that check it. Existing rows get NULL in the new columns
-- until `llcat-ingest rescore --db PATH` fills them from the stored vectors (no weights needed); until
-- then their q_value is still BH over p_null.
ALTER TABLE enrichment ADD COLUMN IF NOT EXISTS p_calibrated DOUBLE;
ALTER TABLE enrichment_null ADD COLUMN IF NOT EXISTS fit_method VARCHAR;
ALTER TABLE enrichment_null ADD COLUMN IF NOT EXISTS tail_resolution DOUBLE;
ALTER TABLE enrichment_null ADD COLUMN IF NOT EXISTS tail_threshold DOUBLE;
ALTER TABLE enrichment_null ADD COLUMN IF NOT EXISTS tail_mass DOUBLE;
ALTER TABLE enrichment_null ADD COLUMN IF NOT EXISTS tail_rate DOUBLE;
ALTER TABLE enrichment_null ADD COLUMN IF NOT EXISTS tail_curvature DOUBLE;
ALTER TABLE enrichment_null ADD COLUMN IF NOT EXISTS tail_exceedances INTEGER;
ALTER TABLE enrichment_null ADD COLUMN IF NOT EXISTS holdout_seed BIGINT;
ALTER TABLE enrichment_null ADD COLUMN IF NOT EXISTS holdout_p DOUBLE[];
