-- name: feature_logits
-- description: One feature's full logit-weight vector W_dec[f] . W_U over the vocabulary, one row per token (most promoted first), with the token sets each token belongs to, for histograms by category.
-- param: sae SAE  the feature's SAE id
-- param: feature FEATURE  the feature's index in that SAE
-- param: token_set TOKEN_SET = NULL  also mark membership of this set in column in_set (NULL when not given)
-- param: limit INTEGER = 1000000  most rows to return (the default covers any vocabulary)
WITH probe AS (
    SELECT decoder_vec(d.vec, d.vec_i16, d.vec_scale) AS vec, s.model_name
    FROM decoder AS d
    JOIN saes AS s ON s.sae_id = d.sae_id
    WHERE d.sae_id = :sae AND d.feature = :feature
), logits AS (
    SELECT u.token_id, list_inner_product(u.vec, q.vec) AS logit_weight
    FROM unembed AS u
    JOIN probe AS q ON q.model_name = u.model_name
), memberships AS (
    SELECT m.token_id, list_sort(list(ts.name)) AS sets
    FROM token_set_members AS m
    JOIN token_sets AS ts ON ts.set_id = m.set_id
    WHERE ts.model_name = (SELECT model_name FROM probe)
    GROUP BY m.token_id
)
SELECT row_number() OVER (ORDER BY l.logit_weight DESC, l.token_id) - 1 AS rank,
       l.token_id, t.token, t.raw, l.logit_weight::DOUBLE AS logit_weight,
       coalesce(mb.sets, []::VARCHAR[]) AS sets,
       CASE WHEN :token_set IS NULL THEN NULL
            ELSE list_contains(coalesce(mb.sets, []::VARCHAR[]), :token_set) END AS in_set
FROM logits AS l
JOIN tokens AS t ON t.model_name = (SELECT model_name FROM probe) AND t.token_id = l.token_id
LEFT JOIN memberships AS mb ON mb.token_id = l.token_id
ORDER BY l.logit_weight DESC, l.token_id
LIMIT :limit
