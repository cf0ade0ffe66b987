-- One SAE's row of sae_feature_summary (schema v6), from its rows of features: the aggregates the views
-- sae_summary and layer_percentiles computed over every feature before v6, so that they now read one
-- row per SAE. catalog.store.write_sae runs it inside the SAE's transaction, after writing its features
-- (an SAE without features gets no row, as those views had none). $sae_id: the SAE.
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
WHERE sae_id = $sae_id
GROUP BY sae_id
