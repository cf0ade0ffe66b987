-- name: decoder_neighbours
-- description: Features whose decoder directions are most similar (cosine) to one feature's, within its SAE, its layer, or every SAE of its model (across layers); SAEs ingested with --decoder-storage none are not searched (the saes query lists each SAE's decoder_storage).
-- param: sae SAE  the feature's SAE id, e.g. 'gpt2-small-res-jb/blocks.8.hook_resid_pre'
-- param: feature FEATURE  the feature's index in that SAE
-- param: scope CHOICE(sae|layer|model) = 'model'  where to look: 'sae' (same SAE), 'layer' (SAEs at its layer), 'model' (all layers)
-- param: limit INTEGER = 50  most rows to return
WITH probe AS (
    SELECT d.sae_id, d.feature, decoder_vec(d.vec, d.vec_i16, d.vec_scale) AS vec, s.model_name, s.layer
    FROM decoder AS d
    JOIN saes AS s ON s.sae_id = d.sae_id
    WHERE d.sae_id = :sae AND d.feature = :feature
      -- an SAE ingested with --decoder-storage none has no vectors: say so instead of an empty answer
      AND (SELECT CASE WHEN decoder_storage = 'none'
                       THEN error('SAE ' || sae_id || ' was ingested with --decoder-storage none and has no decoder '
                                  || 'vectors to compare; re-ingest it with --decoder-storage float32 or int16')
                       ELSE true END
           FROM saes WHERE sae_id = :sae)
), candidates AS (
    SELECT sae_id FROM saes
    WHERE model_name = (SELECT model_name FROM probe)
      AND (:scope = 'model'
           OR (:scope = 'layer' AND layer = (SELECT layer FROM probe))
           OR (:scope = 'sae' AND sae_id = :sae))
), dots AS MATERIALIZED (
    -- The one pass over the stored decoder vectors: a . b for every candidate b.
    SELECT d.sae_id, d.feature, decoder_dot(d.vec, d.vec_i16, d.vec_scale, p.vec) AS dot
    FROM decoder AS d
    CROSS JOIN probe AS p
    WHERE d.sae_id IN (SELECT sae_id FROM candidates)
), nearest AS (
    -- cosine = a . b / (|a| |b|); |b| is features.decoder_norm, the norm of the same stored vector
    -- (computed at ingest), which spares a second pass over every vector.
    SELECT dots.sae_id, dots.feature,
           dots.dot / nullif(f.decoder_norm * (SELECT sqrt(list_inner_product(vec, vec)) FROM probe), 0) AS cosine
    FROM dots
    JOIN features AS f ON f.sae_id = dots.sae_id AND f.feature = dots.feature
    WHERE NOT (dots.sae_id = :sae AND dots.feature = :feature)
    ORDER BY cosine DESC NULLS LAST, dots.sae_id, dots.feature
    LIMIT :limit
)
SELECT nb.sae_id, fs.layer, nb.feature, nb.cosine::DOUBLE AS cosine, fs.skewness, fs.kurtosis, fs.neuronpedia_url
FROM nearest AS nb
JOIN feature_stats AS fs ON fs.sae_id = nb.sae_id AND fs.feature = nb.feature
ORDER BY nb.cosine DESC NULLS LAST, nb.sae_id, nb.feature
