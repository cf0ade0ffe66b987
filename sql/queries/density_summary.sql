-- name: density_summary
-- description: Per SAE: how many features are dead (log10 density below dead_below) or dense (above dense_above), and whether the SAE has density data at all.
-- param: dead_below DOUBLE = -9.0  log10 firing density below which a feature is dead
-- param: dense_above DOUBLE = -1.0  log10 firing density above which a feature is dense
-- param: limit INTEGER = 1000  most rows to return
SELECT s.sae_id, s.layer, s.has_sparsity, count(f.feature) AS n_features,
       count(*) FILTER (WHERE f.log10_density < :dead_below) AS n_dead,
       count(*) FILTER (WHERE f.log10_density > :dense_above) AS n_dense,
       count(*) FILTER (WHERE f.log10_density IS NULL AND f.feature IS NOT NULL) AS n_without_density,
       median(f.log10_density) AS median_log10_density
FROM saes AS s
LEFT JOIN features AS f ON f.sae_id = s.sae_id
GROUP BY s.sae_id, s.layer, s.has_sparsity
ORDER BY s.layer, s.sae_id
LIMIT :limit
