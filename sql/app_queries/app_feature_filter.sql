-- name: app_feature_filter
-- description: Features matching ranges of their logit-weight moments and firing density, their dead flag, and optionally an enrichment score -ln(1 - d) for one token set at or above a threshold; the first rows (in the chosen order) carry their top tokens. The app's Explore page.
-- param: sae SAE = NULL  only this SAE
-- param: layer LAYER = NULL  only SAEs at this layer
-- param: min_skewness DOUBLE = NULL  keep skewness >= this
-- param: max_skewness DOUBLE = NULL  keep skewness <= this
-- param: min_kurtosis DOUBLE = NULL  keep kurtosis >= this (not excess: a Gaussian gives 3)
-- param: max_kurtosis DOUBLE = NULL  keep kurtosis <= this
-- param: min_std DOUBLE = NULL  keep std >= this
-- param: max_std DOUBLE = NULL  keep std <= this
-- param: min_log10_density DOUBLE = NULL  keep log10 density >= this (features without density are dropped when set)
-- param: max_log10_density DOUBLE = NULL  keep log10 density <= this (features without density are dropped when set)
-- param: dead CHOICE(any|exclude|only) = 'any'  dead features (log10 density < -9): keep, drop, or list only them
-- param: token_set TOKEN_SET = NULL  report each feature's enrichment for this set (columns set_d, set_score, ...)
-- param: min_score DOUBLE = NULL  keep features whose -ln(1 - d) for token_set is at least this (2.3: d 0.9)
-- param: set_direction INTEGER = NULL  keep features whose enrichment for token_set has this direction (1 promoted, -1 suppressed)
-- param: order_by CHOICE(skewness|kurtosis|std|log10_density|set_score|feature) = 'skewness'  rank by this, largest first ('feature': SAE and index)
-- param: with_tokens INTEGER = 200  how many of the first rows get their top tokens
-- param: limit INTEGER = 25000  most rows to return
WITH chosen AS (
    -- The narrow features table first; everything else is looked up for the survivors.
    SELECT f.sae_id, s.layer, f.feature, f.log10_density, f.is_dead, f.std, f.skewness, f.kurtosis,
           s.model_name, s.neuronpedia_id
    FROM features AS f
    JOIN saes AS s ON s.sae_id = f.sae_id
    WHERE (:sae IS NULL OR f.sae_id = :sae)
      AND (:layer IS NULL OR s.layer = :layer)
      AND (:min_skewness IS NULL OR f.skewness >= :min_skewness)
      AND (:max_skewness IS NULL OR f.skewness <= :max_skewness)
      AND (:min_kurtosis IS NULL OR f.kurtosis >= :min_kurtosis)
      AND (:max_kurtosis IS NULL OR f.kurtosis <= :max_kurtosis)
      AND (:min_std IS NULL OR f.std >= :min_std)
      AND (:max_std IS NULL OR f.std <= :max_std)
      AND (:min_log10_density IS NULL OR f.log10_density >= :min_log10_density)
      AND (:max_log10_density IS NULL OR f.log10_density <= :max_log10_density)
      AND (:dead = 'any' OR (:dead = 'only' AND f.is_dead) OR (:dead = 'exclude' AND NOT coalesce(f.is_dead, false)))
), set_scores AS (
    -- No rows without a token set; one set per model, so at most one row per feature.
    SELECT e.sae_id, e.feature, e.d, e.direction, e.p_calibrated, e.q_value
    FROM enrichment AS e
    WHERE e.set_id IN (SELECT set_id FROM token_sets WHERE name = :token_set)
      AND e.sae_id IN (SELECT DISTINCT sae_id FROM chosen)
), scored AS (
    SELECT c.*, sc.d::DOUBLE AS set_d, -ln(1 - sc.d::DOUBLE) AS set_score, sc.direction AS set_direction,
           sc.p_calibrated AS set_p_calibrated, sc.q_value AS set_q_value
    FROM chosen AS c
    LEFT JOIN set_scores AS sc ON sc.sae_id = c.sae_id AND sc.feature = c.feature
    WHERE (:min_score IS NULL OR -ln(1 - sc.d::DOUBLE) >= :min_score)
      AND (:set_direction IS NULL OR sc.direction = :set_direction)
), ranked AS (
    SELECT *, row_number() OVER (
               ORDER BY CASE :order_by WHEN 'skewness' THEN skewness WHEN 'kurtosis' THEN kurtosis
                                       WHEN 'std' THEN std WHEN 'log10_density' THEN log10_density
                                       WHEN 'set_score' THEN set_score END DESC NULLS LAST,
                        sae_id, feature) AS row_rank
    FROM scored
), token_lists AS (
    SELECT r.sae_id, r.feature, list(t.token ORDER BY ft.rank) AS top_tokens
    FROM ranked AS r
    JOIN feature_tokens AS ft ON ft.sae_id = r.sae_id AND ft.feature = r.feature AND ft.direction = 'top'
    JOIN tokens AS t ON t.model_name = r.model_name AND t.token_id = ft.token_id
    WHERE r.row_rank <= :with_tokens
    GROUP BY r.sae_id, r.feature
)
SELECT r.sae_id, r.layer, r.feature, r.skewness, r.kurtosis, r.std, r.log10_density, r.is_dead,
       r.set_d, r.set_score, r.set_direction, r.set_p_calibrated, r.set_q_value, tl.top_tokens,
       neuronpedia_url(r.neuronpedia_id, r.feature) AS neuronpedia_url
FROM ranked AS r
LEFT JOIN token_lists AS tl ON tl.sae_id = r.sae_id AND tl.feature = r.feature
ORDER BY r.row_rank
LIMIT :limit
