-- name: app_set_scores
-- description: Every feature's enrichment for one or more token sets in one SAE or layer, with the notebook's score -ln(1 - d), p_calibrated and q_value: the app's Manhattan and set-versus-set plots. No rows without sets.
-- param: token_sets TOKEN_SETS = NULL  the sets, e.g. ['all_digits', 'is_punctuation'] (each must be in the catalog)
-- param: sae SAE = NULL  only this SAE
-- param: layer LAYER = NULL  only SAEs at this layer
-- param: limit INTEGER = 1000000  most rows to return
WITH picked AS (
    SELECT set_id, name FROM token_sets
    WHERE list_contains(:token_sets, name)
)
SELECT e.sae_id, s.layer, e.feature, p.name AS set_name, e.d::DOUBLE AS d, -ln(1 - e.d::DOUBLE) AS score,
       e.direction, e.p_null, e.p_calibrated, e.q_value
FROM enrichment AS e
JOIN picked AS p ON p.set_id = e.set_id
JOIN saes AS s ON s.sae_id = e.sae_id
WHERE (:sae IS NULL OR e.sae_id = :sae)
  AND (:layer IS NULL OR s.layer = :layer)
ORDER BY p.name, e.sae_id, e.feature
LIMIT :limit
