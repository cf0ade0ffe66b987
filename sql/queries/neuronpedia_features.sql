-- name: neuronpedia_features
-- description: One record per feature in Neuronpedia's field names (pos_str, pos_values, neg_str, neg_values, frac_nonzero, logits histogram), for `export --neuronpedia` as JSON Lines.
-- param: sae SAE = NULL  only this SAE (default: every SAE)
-- param: feature FEATURE = NULL  only this feature of the SAE
-- param: limit INTEGER = 1000000  most rows to return
WITH chosen AS (
    SELECT f.sae_id, f.sae_key, f.feature, s.model_name, s.neuronpedia_id, f.log10_density,
           f.logit_min, f.logit_max, f.hist_counts
    FROM features AS f
    JOIN saes AS s ON s.sae_id = f.sae_id
    WHERE (:sae IS NULL OR f.sae_id = :sae)
      AND (:feature IS NULL OR f.feature = :feature)
), token_lists AS (
    SELECT c.sae_id, c.feature,
           list(t.token ORDER BY ft.rank) FILTER (WHERE ft.direction = 'top') AS pos_str,
           list(ft.value ORDER BY ft.rank) FILTER (WHERE ft.direction = 'top') AS pos_values,
           list(t.token ORDER BY ft.rank) FILTER (WHERE ft.direction = 'bottom') AS neg_str,
           list(ft.value ORDER BY ft.rank) FILTER (WHERE ft.direction = 'bottom') AS neg_values
    FROM chosen AS c
    -- on the integer sae_key (schema v6): zone maps skip other SAEs' row groups (sae_id's string statistics cannot)
    JOIN feature_tokens AS ft ON ft.sae_key = c.sae_key AND ft.feature = c.feature
    JOIN tokens AS t ON t.model_name = c.model_name AND t.token_id = ft.token_id
    WHERE ft.sae_key IN (SELECT DISTINCT sae_key FROM chosen)  -- a list of keys skips more than their range
    GROUP BY c.sae_id, c.feature
)
SELECT split_part(c.neuronpedia_id, '/', 1) AS "modelId",
       substr(c.neuronpedia_id, strpos(c.neuronpedia_id, '/') + 1) AS "layer",
       CAST(c.feature AS VARCHAR) AS "index",
       c.sae_id, c.feature,
       coalesce(tl.pos_str, []::VARCHAR[]) AS pos_str, coalesce(tl.pos_values, []::DOUBLE[]) AS pos_values,
       coalesce(tl.neg_str, []::VARCHAR[]) AS neg_str, coalesce(tl.neg_values, []::DOUBLE[]) AS neg_values,
       pow(10, c.log10_density) AS frac_nonzero,
       c.hist_counts AS logits_hist_data_bar_heights,
       -- bar values are bin centres: logit_min + (i + 0.5) * width, for the equal bins of the histogram
       list_transform(range(len(c.hist_counts)),
                      lambda i: c.logit_min + (i + 0.5) * (c.logit_max - c.logit_min) / len(c.hist_counts))
           AS logits_hist_data_bar_values
FROM chosen AS c
LEFT JOIN token_lists AS tl ON tl.sae_id = c.sae_id AND tl.feature = c.feature
ORDER BY c.sae_id, c.feature
LIMIT :limit
