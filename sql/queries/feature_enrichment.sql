-- name: feature_enrichment
-- description: The token sets most enriched for one feature, by the notebook's score -ln(1 - d), with direction, p-values and q-value.
-- param: sae SAE  the feature's SAE id
-- param: feature FEATURE  the feature's index in that SAE
-- param: direction INTEGER = NULL  1: sets among the promoted tokens; -1: among the suppressed; NULL: either
-- param: limit INTEGER = 20  most rows to return
SELECT set_name, set_family, set_size, d, score, direction, p_value, p_null, q_value
FROM enrichment_scores
WHERE sae_id = :sae AND feature = :feature
  AND (:direction IS NULL OR direction = :direction)
ORDER BY d DESC, set_name
LIMIT :limit
