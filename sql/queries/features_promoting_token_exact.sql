-- name: features_promoting_token_exact
-- description: Features whose decoder direction most promotes one token, in any layer: the exact logit weight W_dec[f] . W_U[:, token] computed from every stored decoder vector (a pass over all of them; SAEs ingested with --decoder-storage none are left out, int16 ones are exact to their rounding); features_promoting_token reads the reverse token index instead.
-- param: token TOKEN  the token's decoded text, leading space included, e.g. ' Paris'
-- param: model MODEL = NULL  the model whose vocabulary holds the token (needed only when several do)
-- param: layer LAYER = NULL  only SAEs at this layer (default: every SAE of the model)
-- param: limit INTEGER = 50  most rows to return
WITH target AS (
    -- One row per token id with that text (normally one).
    SELECT u.model_name, u.token_id, t.token, u.vec
    FROM unembed AS u
    JOIN tokens AS t ON t.model_name = u.model_name AND t.token_id = u.token_id
    WHERE t.token = :token AND (:model IS NULL OR u.model_name = :model)
), weights AS (
    -- The filter keeps only SAEs of the token's model (vectors of one width), before any product.
    SELECT d.sae_id, d.feature, tg.token_id, tg.token, decoder_dot(d.vec, d.vec_i16, d.vec_scale, tg.vec) AS logit_weight
    FROM decoder AS d
    CROSS JOIN target AS tg
    WHERE d.sae_id IN (SELECT sae_id FROM saes
                       WHERE model_name IN (SELECT model_name FROM target)
                         AND (:layer IS NULL OR layer = :layer))
    ORDER BY logit_weight DESC, d.sae_id, d.feature, tg.token_id
    LIMIT :limit
)
SELECT w.sae_id, fs.layer, w.feature, w.token_id, w.token, w.logit_weight::DOUBLE AS logit_weight,
       (w.logit_weight - fs.mean) / fs.std AS z_score,
       fs.skewness, fs.kurtosis, fs.neuronpedia_url
FROM weights AS w
JOIN feature_stats AS fs ON fs.sae_id = w.sae_id AND fs.feature = w.feature
ORDER BY w.logit_weight DESC, w.sae_id, w.feature, w.token_id
