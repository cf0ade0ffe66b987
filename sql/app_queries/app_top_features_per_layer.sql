-- name: app_top_features_per_layer
-- description: For each of one or more token sets, the features most enriched for it in every SAE, by -ln(1 - d), with their p_calibrated, q_value and top tokens: how a set's best features move across layers.
-- param: token_sets TOKEN_SETS = NULL  the sets, e.g. ['boys_names', 'girls_names'] (each must be in the catalog)
-- param: per_sae INTEGER = 3  features kept per set and SAE
-- param: direction INTEGER = NULL  1: members among the promoted tokens; -1: among the suppressed; NULL: either
-- param: limit INTEGER = 10000  most rows to return
WITH picked AS (
    SELECT set_id, name, model_name FROM token_sets
    WHERE list_contains(:token_sets, name)
), best AS (
    -- max_by(..., n) keeps the n largest per group while scanning: several times faster than a
    -- window over every feature x set row of the chosen sets (24,576 x 13 per set for GPT-2 small).
    SELECT e.sae_id, e.set_id,
           max_by({'feature': e.feature, 'd': e.d, 'direction': e.direction,
                   'p_calibrated': e.p_calibrated, 'q_value': e.q_value}, e.d, :per_sae) AS top
    FROM enrichment AS e
    WHERE e.set_id IN (SELECT set_id FROM picked)
      AND (:direction IS NULL OR e.direction = :direction)
    GROUP BY e.sae_id, e.set_id
), ranked AS (
    SELECT sae_id, set_id, unnest(top) AS entry, unnest(range(1, len(top) + 1)) AS set_rank
    FROM best
), token_lists AS (
    SELECT r.sae_id, r.entry.feature AS feature, list(t.token ORDER BY ft.rank) AS top_tokens
    FROM (SELECT DISTINCT sae_id, entry FROM ranked) AS r
    JOIN saes AS s ON s.sae_id = r.sae_id
    -- on the integer sae_key (schema v6): zone maps skip the SAEs none of the picked features belong to
    JOIN feature_tokens AS ft ON ft.sae_key = s.sae_key AND ft.feature = r.entry.feature AND ft.direction = 'top'
    JOIN tokens AS t ON t.model_name = s.model_name AND t.token_id = ft.token_id
    GROUP BY r.sae_id, r.entry.feature
)
SELECT p.name AS set_name, r.sae_id, s.layer, s.hook_name, r.set_rank, r.entry.feature AS feature,
       r.entry.d::DOUBLE AS d, -ln(1 - r.entry.d::DOUBLE) AS score, r.entry.direction AS direction,
       r.entry.p_calibrated AS p_calibrated, r.entry.q_value AS q_value, tl.top_tokens,
       neuronpedia_url(s.neuronpedia_id, r.entry.feature) AS neuronpedia_url
FROM ranked AS r
JOIN picked AS p ON p.set_id = r.set_id
JOIN saes AS s ON s.sae_id = r.sae_id
LEFT JOIN token_lists AS tl ON tl.sae_id = r.sae_id AND tl.feature = r.entry.feature
ORDER BY p.name, s.layer, r.sae_id, r.set_rank
LIMIT :limit
