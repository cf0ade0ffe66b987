-- name: layer_percentiles
-- description: Percentiles (1, 5, 10, 25, 50, 75, 90, 95, 99) of skewness and kurtosis (and their cosine variants) per SAE, in layer order: the notebook's by-layer plots.
-- param: statistic CHOICE(skewness|kurtosis|cos_skewness|cos_kurtosis) = NULL  only this statistic (default: all four)
-- param: model MODEL = NULL  only SAEs of this model
-- param: limit INTEGER = 10000  most rows to return
SELECT model_name, release, sae_id, hook_name, layer, statistic, n,
       p01, p05, p10, p25, p50, p75, p90, p95, p99
FROM layer_percentiles
WHERE (:statistic IS NULL OR statistic = :statistic)
  AND (:model IS NULL OR model_name = :model)
ORDER BY model_name, statistic, layer, sae_id
LIMIT :limit
