-- name: app_saes
-- description: The SAEs in the catalog with their provenance (source, weights fingerprint, analysis version, the ingest run that wrote them, when and on what device) and feature counts: the app's overview.
-- param: model MODEL = NULL  only SAEs of this model
-- param: limit INTEGER = 10000  most rows to return
SELECT ss.sae_id, ss.release, ss.model_name, ss.hook_name, ss.layer, ss.d_in, ss.d_sae, ss.neuronpedia_id,
       ss.has_sparsity, ss.n_features, ss.n_dead, ss.median_log10_density,
       s.source, s.weights_fingerprint, s.analysis_version, s.seconds AS ingest_seconds,
       s.run_id, r.finished_at AS run_finished_at, r.project_version, r.device
FROM sae_summary AS ss
JOIN saes AS s ON s.sae_id = ss.sae_id
LEFT JOIN runs AS r ON r.run_id = s.run_id
WHERE :model IS NULL OR ss.model_name = :model
ORDER BY ss.model_name, ss.layer, ss.sae_id
LIMIT :limit
