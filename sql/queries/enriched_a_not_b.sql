-- name: enriched_a_not_b
-- description: Features enriched for token set A but not set B (e.g. boys' names but not girls' names), ranked by score_a - score_b with score = -ln(1 - d). In an SAE stored with compact enrichment a pair may be absent: an absent B pair is scored at its bound (the largest d not kept, b_is_bound true; score_difference is then at least the value shown), and features whose A pair is absent are not listed.
-- param: set_a TOKEN_SET  the set the features should be enriched for, e.g. 'boys_names'
-- param: set_b TOKEN_SET  the set they should not be enriched for, e.g. 'girls_names'
-- param: direction_a INTEGER = NULL  require this direction for set A (1: promoted, -1: suppressed); NULL: either
-- param: layer LAYER = NULL  only SAEs at this layer (default: all layers)
-- param: limit INTEGER = 100  most rows to return
WITH pair AS (
    -- One pass over enrichment for both sets; a set name may exist for several models.
    SELECT set_id, name = :set_a AS is_a FROM token_sets WHERE name IN (:set_a, :set_b)
), both_sets AS (
    SELECT e.sae_id, e.feature,
           max(e.d) FILTER (WHERE pair.is_a) AS d_a,
           max(e.direction) FILTER (WHERE pair.is_a) AS direction_a,
           max(e.d) FILTER (WHERE NOT pair.is_a) AS d_b,
           max(e.direction) FILTER (WHERE NOT pair.is_a) AS direction_b
    FROM enrichment AS e
    JOIN pair ON pair.set_id = e.set_id
    WHERE (:layer IS NULL OR e.sae_id IN (SELECT sae_id FROM saes WHERE layer = :layer))
    GROUP BY e.sae_id, e.feature
), b_bounds AS (
    -- compact SAEs only: every absent (feature, B) pair has d at most d_dropped_max
    SELECT dr.sae_id, dr.d_dropped_max
    FROM enrichment_dropped AS dr
    JOIN saes AS s ON s.sae_id = dr.sae_id
    JOIN token_sets AS ts ON ts.set_id = dr.set_id AND ts.model_name = s.model_name
    WHERE ts.name = :set_b
), scored AS (
    SELECT bs.*, bs.d_b IS NULL AS b_is_bound,
           -ln(1 - bs.d_a::DOUBLE) AS score_a,
           -ln(1 - coalesce(bs.d_b, bb.d_dropped_max)::DOUBLE) AS score_b
    FROM both_sets AS bs
    LEFT JOIN b_bounds AS bb ON bb.sae_id = bs.sae_id
    WHERE bs.d_a IS NOT NULL AND coalesce(bs.d_b, bb.d_dropped_max) IS NOT NULL
      AND (:direction_a IS NULL OR bs.direction_a = :direction_a)
)
SELECT sc.sae_id, s.layer, sc.feature, sc.d_a, sc.direction_a, sc.score_a, sc.d_b, sc.direction_b, sc.score_b,
       sc.score_a - sc.score_b AS score_difference, sc.b_is_bound,
       neuronpedia_url(s.neuronpedia_id, sc.feature) AS neuronpedia_url
FROM scored AS sc
JOIN saes AS s ON s.sae_id = sc.sae_id
ORDER BY score_difference DESC, sc.sae_id, sc.feature
LIMIT :limit
