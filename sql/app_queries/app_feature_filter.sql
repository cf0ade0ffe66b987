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
WITH sae_rows AS (
    -- The SAEs the SAE and layer filters keep, numbered in sae_id order (ties in the ranking are broken by
    -- sae_id: the number sorts the same and keeps strings out of the sort below).
    SELECT sae_key, sae_id, layer, model_name, neuronpedia_id, row_number() OVER (ORDER BY sae_id) AS sae_order
    FROM saes
    WHERE (:sae IS NULL OR sae_id = :sae)
      AND (:layer IS NULL OR layer = :layer)
), chosen AS (
    -- The narrow features table first; everything else is looked up for the survivors. Joins on the
    -- integer sae_key (schema v6) let DuckDB skip the row groups of SAEs the filters exclude.
    SELECT f.sae_key, s.sae_order, f.feature, f.log10_density, f.is_dead, f.std, f.skewness, f.kurtosis
    FROM features AS f
    JOIN sae_rows AS s ON s.sae_key = f.sae_key
    WHERE (:min_skewness IS NULL OR f.skewness >= :min_skewness)
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
    SELECT e.sae_key, e.feature, e.d, e.direction, e.p_calibrated, e.q_value
    FROM enrichment AS e
    WHERE e.set_id IN (SELECT set_id FROM token_sets WHERE name = :token_set)
      AND e.sae_key IN (SELECT sae_key FROM sae_rows)
), scored AS NOT MATERIALIZED (
    SELECT c.*, sc.d::DOUBLE AS set_d, -ln(1 - sc.d::DOUBLE) AS set_score, sc.direction AS set_direction,
           sc.p_calibrated AS set_p_calibrated, sc.q_value AS set_q_value,
           CASE :order_by WHEN 'skewness' THEN c.skewness WHEN 'kurtosis' THEN c.kurtosis
                          WHEN 'std' THEN c.std WHEN 'log10_density' THEN c.log10_density
                          WHEN 'set_score' THEN -ln(1 - sc.d::DOUBLE) END AS sort_value
    FROM chosen AS c
    LEFT JOIN set_scores AS sc ON sc.sae_key = c.sae_key AND sc.feature = c.feature
    WHERE (:min_score IS NULL OR -ln(1 - sc.d::DOUBLE) >= :min_score)
      AND (:set_direction IS NULL OR sc.direction = :set_direction)
), cutoff AS (
    -- The limit-th largest sort value (NULL when fewer rows have one: then every row is kept). Every row
    -- among the first ones has a value at least this, so sorting only those gives the same first rows;
    -- max(x, n) keeps the n largest while scanning, much cheaper than sorting 2.1 M rows.
    SELECT CASE WHEN count(sort_value) >= :limit THEN list_min(max(sort_value, :limit)) END AS least_kept
    FROM scored
), ranked AS (
    -- The first rows (as many as the limit) in order, then numbered: far cheaper than a window over every
    -- matching feature (2.1 M in a Gemma Scope catalog).
    SELECT *, row_number() OVER (ORDER BY sort_value DESC NULLS LAST, sae_order, feature) AS row_rank
    FROM (
        SELECT * FROM scored
        WHERE sort_value >= (SELECT least_kept FROM cutoff) OR (SELECT least_kept FROM cutoff) IS NULL
        ORDER BY sort_value DESC NULLS LAST, sae_order, feature
        LIMIT :limit
    )
), token_lists AS (
    SELECT r.sae_key, r.feature, list(t.token ORDER BY ft.rank) AS top_tokens
    FROM ranked AS r
    JOIN sae_rows AS s ON s.sae_key = r.sae_key
    JOIN feature_tokens AS ft ON ft.sae_key = r.sae_key AND ft.feature = r.feature AND ft.direction = 'top'
    JOIN tokens AS t ON t.model_name = s.model_name AND t.token_id = ft.token_id
    WHERE r.row_rank <= :with_tokens
      -- the SAEs as a list: DuckDB checks each key (up to 50) against a row group's min/max
      AND ft.sae_key IN (SELECT sae_key FROM ranked WHERE row_rank <= :with_tokens)
    GROUP BY r.sae_key, r.feature
)
SELECT s.sae_id, s.layer, r.feature, r.skewness, r.kurtosis, r.std, r.log10_density, r.is_dead,
       r.set_d, r.set_score, r.set_direction, r.set_p_calibrated, r.set_q_value, tl.top_tokens,
       neuronpedia_url(s.neuronpedia_id, r.feature) AS neuronpedia_url
FROM ranked AS r
JOIN sae_rows AS s ON s.sae_key = r.sae_key
LEFT JOIN token_lists AS tl ON tl.sae_key = r.sae_key AND tl.feature = r.feature
ORDER BY r.row_rank
LIMIT :limit
