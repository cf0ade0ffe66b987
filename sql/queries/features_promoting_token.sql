-- name: features_promoting_token
-- description: Features that most promote (direction 'top') or most suppress ('bottom') one token, across every SAE of its model, from the reverse token index written at ingest: each SAE keeps its token_index_k most extreme features per token, so the first token_index_k rows of each SAE are exact (index_rank counts them); SAEs written without an index (token_index_k = 0, e.g. before schema 5) are ranked from every stored decoder vector, as features_promoting_token_exact does for all.
-- param: token TOKEN  the token's decoded text, leading space included, e.g. ' Paris'
-- param: model MODEL = NULL  the model whose vocabulary holds the token (needed only when several do)
-- param: layer LAYER = NULL  only SAEs at this layer (default: every SAE of the model)
-- param: direction CHOICE(top|bottom) = 'top'  'top': the most promoting features; 'bottom': the most suppressing
-- param: limit INTEGER = 50  most rows to return
WITH target AS (
    -- One row per token id with that text (normally one).
    SELECT t.model_name, t.token_id, t.token
    FROM tokens AS t
    WHERE t.token = :token AND (:model IS NULL OR t.model_name = :model)
), indexed AS (
    -- token_features is sorted by token_id within each SAE: the filter reads one block per SAE.
    SELECT tf.sae_id, tf.feature, tf.token_id, tg.token, tf.value AS logit_weight, tf.rank AS index_rank
    FROM token_features AS tf
    JOIN target AS tg ON tg.token_id = tf.token_id
    JOIN saes AS s ON s.sae_id = tf.sae_id AND s.model_name = tg.model_name
    WHERE tf.token_id IN (SELECT token_id FROM target)
      AND tf.direction = :direction
      AND (:layer IS NULL OR s.layer = :layer)
), unindexed AS (
    -- SAEs without an index: the exact logit weight of every stored decoder vector (no SAEs, no scan).
    SELECT d.sae_id, d.feature, tg.token_id, tg.token,
           decoder_dot(d.vec, d.vec_i16, d.vec_scale, u.vec) AS logit_weight, NULL::INTEGER AS index_rank
    FROM decoder AS d
    JOIN saes AS s ON s.sae_id = d.sae_id
    JOIN target AS tg ON tg.model_name = s.model_name
    JOIN unembed AS u ON u.model_name = tg.model_name AND u.token_id = tg.token_id
    WHERE coalesce(s.token_index_k, 0) = 0
      AND (:layer IS NULL OR s.layer = :layer)
), hits AS (
    SELECT * FROM (SELECT * FROM indexed UNION ALL SELECT * FROM unindexed)
    ORDER BY CASE WHEN :direction = 'top' THEN -logit_weight ELSE logit_weight END, sae_id, feature, token_id
    LIMIT :limit
)
SELECT h.sae_id, fs.layer, h.feature, h.token_id, h.token, h.logit_weight::DOUBLE AS logit_weight,
       (h.logit_weight - fs.mean) / fs.std AS z_score, h.index_rank,
       fs.skewness, fs.kurtosis, fs.neuronpedia_url
FROM hits AS h
JOIN feature_stats AS fs ON fs.sae_id = h.sae_id AND fs.feature = h.feature
ORDER BY CASE WHEN :direction = 'top' THEN -h.logit_weight ELSE h.logit_weight END, h.sae_id, h.feature, h.token_id
