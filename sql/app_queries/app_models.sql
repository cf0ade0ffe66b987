-- name: app_models
-- description: The models in the catalog with their provenance (source, weight processing, W_U fingerprint, the run that wrote them) and how many tokens, SAEs, features and token sets each has.
-- param: limit INTEGER = 1000  most rows to return
WITH sae_counts AS (
    -- feature counts from the per-SAE summaries (schema v6), not a scan of every feature
    SELECT s.model_name, count(DISTINCT s.sae_id) AS n_saes, coalesce(sum(fs.n_features), 0)::BIGINT AS n_features
    FROM saes AS s
    LEFT JOIN sae_feature_summary AS fs ON fs.sae_id = s.sae_id
    GROUP BY s.model_name
), set_counts AS (
    SELECT model_name, count(*) AS n_token_sets FROM token_sets GROUP BY model_name
)
SELECT m.model_name, m.d_model, m.d_vocab,
       coalesce(sc.n_saes, 0) AS n_saes, coalesce(sc.n_features, 0) AS n_features,
       coalesce(ts.n_token_sets, 0) AS n_token_sets,
       m.source, m.processing, m.fingerprint, m.run_id, r.finished_at AS run_finished_at, r.project_version
FROM models AS m
LEFT JOIN sae_counts AS sc ON sc.model_name = m.model_name
LEFT JOIN set_counts AS ts ON ts.model_name = m.model_name
LEFT JOIN runs AS r ON r.run_id = m.run_id
ORDER BY m.model_name
LIMIT :limit
