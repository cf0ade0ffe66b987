-- name: app_sae_provenance
-- description: Where each SAE came from (source, weights fingerprint, analysis version) and the ingest run that wrote it (when, how long, on what device): the columns the app's Overview adds to the public saes query.
-- param: model MODEL = NULL  only SAEs of this model
-- param: limit INTEGER = 10000  most rows to return
SELECT s.sae_id, s.source, s.weights_fingerprint, s.analysis_version, s.seconds AS ingest_seconds,
       s.run_id, r.finished_at AS run_finished_at, r.project_version, r.device
FROM saes AS s
LEFT JOIN runs AS r ON r.run_id = s.run_id
WHERE :model IS NULL OR s.model_name = :model
ORDER BY s.sae_id
LIMIT :limit
