-- name: feature_enrichment
-- description: The token sets most significantly enriched for one feature (by calibrated p, then d), sets of at least min_size tokens, with the notebook's score -ln(1 - d), direction, p-values and q-value.
-- param: sae SAE  the feature's SAE id
-- param: feature FEATURE  the feature's index in that SAE
-- param: direction INTEGER = NULL  1: sets among the promoted tokens; -1: among the suppressed; NULL: either
-- param: min_size INTEGER = 5  hide sets of fewer tokens (for a 1-token set d is only that token's percentile); 1 shows all
-- param: limit INTEGER = 20  most rows to return
SELECT set_name, set_family, set_size, d, score, direction, p_calibrated, q_value, p_null, p_value
FROM enrichment_scores
WHERE sae_id = :sae AND feature = :feature
  AND (:direction IS NULL OR direction = :direction)
  AND set_size >= :min_size
ORDER BY p_calibrated ASC NULLS LAST, d DESC, set_name
LIMIT :limit
