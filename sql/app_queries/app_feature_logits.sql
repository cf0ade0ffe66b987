-- name: app_feature_logits
-- description: One feature's logit weight W_dec[f] . W_U for every token (token ids only, for histograms), and whether each token is in one token set: the lean form of feature_logits (no token texts, no per-token set lists: about five times faster) that the app's histograms need. No rows without sae and feature.
-- param: sae SAE = NULL  the feature's SAE id
-- param: feature FEATURE = NULL  the feature's index in that SAE
-- param: token_set TOKEN_SET = NULL  mark membership of this set in column in_set (NULL when not given)
-- param: limit INTEGER = 1000000  most rows to return (the default covers any vocabulary)
WITH probe AS (
    SELECT decoder_vec(d.vec, d.vec_i16, d.vec_scale) AS vec, s.model_name
    FROM decoder AS d
    JOIN saes AS s ON s.sae_id = d.sae_id
    WHERE d.sae_id = :sae AND d.feature = :feature
), members AS (
    SELECT m.token_id
    FROM token_set_members AS m
    JOIN token_sets AS ts ON ts.set_id = m.set_id
    WHERE ts.name = :token_set AND ts.model_name = (SELECT model_name FROM probe)
)
SELECT u.token_id, list_inner_product(u.vec, q.vec)::DOUBLE AS logit_weight,
       CASE WHEN :token_set IS NULL THEN NULL ELSE u.token_id IN (SELECT token_id FROM members) END AS in_set
FROM unembed AS u
JOIN probe AS q ON q.model_name = u.model_name
ORDER BY u.token_id
LIMIT :limit
