-- Schema version 5 -> 6: an integer key per SAE in the per-feature tables, and per-SAE summaries.
-- saes.sae_key numbers the SAEs (by model, layer, width, id, so that one layer's SAEs get neighbouring
-- keys and a join that picks features of one layer reads few row groups); features, feature_tokens and
-- enrichment get a copy of it on every row. sae_feature_summary holds, per SAE, the aggregates over its
-- features that the views sae_summary and layer_percentiles used to compute on every read (the same SQL
-- as sql/writes/sae_feature_summary.sql, for every SAE at once). Keeps every row.
ALTER TABLE saes ADD COLUMN IF NOT EXISTS sae_key INTEGER;
UPDATE saes SET sae_key = numbered.sae_key
FROM (
    SELECT sae_id,
           (SELECT coalesce(max(sae_key), 0) FROM saes)
           + row_number() OVER (ORDER BY model_name, layer, d_sae, sae_id) AS sae_key
    FROM saes
    WHERE sae_key IS NULL
) AS numbered
WHERE saes.sae_id = numbered.sae_id;
ALTER TABLE features ADD COLUMN IF NOT EXISTS sae_key INTEGER;
ALTER TABLE feature_tokens ADD COLUMN IF NOT EXISTS sae_key INTEGER;
ALTER TABLE enrichment ADD COLUMN IF NOT EXISTS sae_key INTEGER;
UPDATE features SET sae_key = s.sae_key FROM saes AS s WHERE s.sae_id = features.sae_id AND features.sae_key IS NULL;
UPDATE feature_tokens SET sae_key = s.sae_key FROM saes AS s
WHERE s.sae_id = feature_tokens.sae_id AND feature_tokens.sae_key IS NULL;
UPDATE enrichment SET sae_key = s.sae_key FROM saes AS s WHERE s.sae_id = enrichment.sae_id AND enrichment.sae_key IS NULL;
CREATE TABLE IF NOT EXISTS sae_feature_summary (
    sae_id               VARCHAR PRIMARY KEY,
    n_features           BIGINT NOT NULL,
    n_dead               BIGINT NOT NULL,
    median_log10_density DOUBLE,
    skewness_q           DOUBLE[] NOT NULL,
    kurtosis_q           DOUBLE[] NOT NULL,
    cos_skewness_q       DOUBLE[] NOT NULL,
    cos_kurtosis_q       DOUBLE[] NOT NULL
);
DELETE FROM sae_feature_summary;
INSERT INTO sae_feature_summary
SELECT sae_id,
       count(*) AS n_features,
       count(*) FILTER (WHERE is_dead) AS n_dead,
       median(log10_density) AS median_log10_density,
       quantile_cont(skewness, [0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99]) AS skewness_q,
       quantile_cont(kurtosis, [0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99]) AS kurtosis_q,
       quantile_cont(cos_skewness, [0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99]) AS cos_skewness_q,
       quantile_cont(cos_kurtosis, [0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99]) AS cos_kurtosis_q
FROM features
GROUP BY sae_id;
