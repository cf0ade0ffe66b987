-- name: top_features_for_set
-- description: Features most significantly enriched for one token set, across all layers, by calibrated p then d, with the notebook's score -ln(1 - d), direction and q-value.
-- param: token_set TOKEN_SET  token set name, e.g. 'boys_names' (the token_sets query lists them)
-- param: direction INTEGER = NULL  1: set members among the promoted tokens; -1: among the suppressed; NULL: either
-- param: layer LAYER = NULL  only SAEs at this layer (default: all layers)
-- param: max_q DOUBLE = NULL  keep rows whose q-value (BH over p_calibrated, per SAE) is at most this
-- param: limit INTEGER = 100  most rows to return
WITH picked AS (
    -- enrichment has a row per feature x set (~50M for GPT-2 small): only the columns needed to
    -- rank are read here. Within one model's set, p_calibrated falls as d grows (one null per model
    -- and set), so this order differs from d's only across models; p_value and p_null are in the
    -- enrichment_scores view and feature_enrichment.
    SELECT e.sae_id, e.feature, e.set_id, e.d, e.direction, e.p_calibrated, e.q_value
    FROM enrichment AS e
    WHERE e.set_id IN (SELECT set_id FROM token_sets WHERE name = :token_set)
      AND (:direction IS NULL OR e.direction = :direction)
      AND (:max_q IS NULL OR e.q_value <= :max_q)
      AND (:layer IS NULL OR e.sae_id IN (SELECT sae_id FROM saes WHERE layer = :layer))
    ORDER BY e.p_calibrated ASC NULLS LAST, e.d DESC, e.sae_id, e.feature
    LIMIT :limit
)
SELECT p.sae_id, s.layer, p.feature, ts.name AS set_name, p.d, -ln(1 - p.d::DOUBLE) AS score,
       p.direction, p.p_calibrated, p.q_value,
       neuronpedia_url(s.neuronpedia_id, p.feature) AS neuronpedia_url
FROM picked AS p
JOIN saes AS s ON s.sae_id = p.sae_id
JOIN token_sets AS ts ON ts.set_id = p.set_id
ORDER BY p.p_calibrated ASC NULLS LAST, p.d DESC, p.sae_id, p.feature
LIMIT :limit
