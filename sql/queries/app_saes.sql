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
-- Within a layer, hooks in the order the residual stream meets them (app/ordering.py: same rule).
ORDER BY ss.model_name, ss.layer,
         CASE WHEN ss.hook_name LIKE '%hook_resid_pre%' THEN 0 WHEN ss.hook_name LIKE '%ln1%' THEN 1
              WHEN ss.hook_name LIKE '%attn%' THEN 2 WHEN ss.hook_name LIKE '%hook_resid_mid%' THEN 3
              WHEN ss.hook_name LIKE '%ln2%' THEN 4 WHEN ss.hook_name LIKE '%mlp%' THEN 5
              WHEN ss.hook_name LIKE '%hook_resid_post%' THEN 6 ELSE 7 END,
         ss.sae_id
LIMIT :limit
