-- name: high_skew_features
-- description: Features of one layer whose logit-weight skewness is above a threshold, most skewed first, with Neuronpedia links and top tokens (the notebook's first query).
-- param: layer LAYER  layer of the SAE (0-based; GPT-2 small res-jb's blocks.11.hook_resid_post is layer 12)
-- param: min_skewness DOUBLE = 3.0  keep features whose skewness is above this
-- param: sae SAE = NULL  only this SAE (default: every SAE at that layer)
-- param: limit INTEGER = 100  most rows to return
WITH picked AS (
    -- Rank on the narrow features table first; token text is looked up for the kept rows only. Joins
    -- on the integer sae_key (schema v6) let DuckDB skip the row groups of other layers' SAEs.
    SELECT f.sae_id, f.sae_key, s.layer, f.feature, f.skewness, f.kurtosis, f.std, f.log10_density,
           neuronpedia_url(s.neuronpedia_id, f.feature) AS neuronpedia_url, s.model_name
    FROM features AS f
    JOIN saes AS s ON s.sae_key = f.sae_key
    WHERE s.layer = :layer
      AND f.skewness > :min_skewness
      AND (:sae IS NULL OR f.sae_id = :sae)
    ORDER BY f.skewness DESC, f.sae_id, f.feature
    LIMIT :limit
), token_lists AS (
    SELECT p.sae_id, p.feature,
           list(t.token ORDER BY ft.rank) FILTER (WHERE ft.direction = 'top') AS top_tokens,
           list(t.token ORDER BY ft.rank) FILTER (WHERE ft.direction = 'bottom') AS bottom_tokens
    FROM picked AS p
    JOIN feature_tokens AS ft ON ft.sae_key = p.sae_key AND ft.feature = p.feature
    JOIN tokens AS t ON t.model_name = p.model_name AND t.token_id = ft.token_id
    -- the picked SAEs as a list: DuckDB checks each key against a row group's min/max (up to 50 keys),
    -- where the join alone would only pass the range between the smallest and the largest key
    WHERE ft.sae_key IN (SELECT DISTINCT sae_key FROM picked)
    GROUP BY p.sae_id, p.feature
)
SELECT p.sae_id, p.layer, p.feature, p.skewness, p.kurtosis, p.std, p.log10_density,
       p.neuronpedia_url, tl.top_tokens, tl.bottom_tokens
FROM picked AS p
LEFT JOIN token_lists AS tl ON tl.sae_id = p.sae_id AND tl.feature = p.feature
ORDER BY p.skewness DESC, p.sae_id, p.feature
