-- name: dead_and_dense_features
-- description: Features that never fire (log10 density below dead_below; the notebook calls < -9 dead) or fire very often (above dense_above); SAEs without a sparsity file have no density and are left out.
-- param: which CHOICE(dead|dense|both) = 'both'  which kind to list
-- param: dead_below DOUBLE = -9.0  log10 firing density below which a feature is dead
-- param: dense_above DOUBLE = -1.0  log10 firing density above which a feature is dense (-1: fires on more than 10% of tokens)
-- param: sae SAE = NULL  only this SAE
-- param: layer LAYER = NULL  only SAEs at this layer
-- param: limit INTEGER = 100  most rows to return
WITH classified AS (
    SELECT fs.*,
           CASE WHEN fs.log10_density < :dead_below THEN 'dead'
                WHEN fs.log10_density > :dense_above THEN 'dense' END AS status
    FROM feature_stats AS fs
    WHERE (:sae IS NULL OR fs.sae_id = :sae)
      AND (:layer IS NULL OR fs.layer = :layer)
)
SELECT sae_id, layer, feature, status, log10_density, skewness, kurtosis, neuronpedia_url
FROM classified
WHERE status IS NOT NULL AND (:which = 'both' OR status = :which)
-- dead first (in feature order), then dense, densest first
ORDER BY status, log10_density DESC, sae_id, feature
LIMIT :limit
