-- name: saes
-- description: The SAEs in the catalog, in residual-stream order: layer, hook, hook kind and logit mapping, width, Neuronpedia id, feature count and dead features, and how its rows are stored: decoder_storage (float32, int16, or none: no decoder neighbours or exact vector queries), enrichment_storage (all pairs, or compact) and token_index_k (features per token in the reverse token index).
-- param: model MODEL = NULL  only SAEs of this model
-- param: limit INTEGER = 10000  most rows to return
SELECT sae_id, release, model_name, hook_name, layer, hook_kind, logit_mapping, d_in, d_sae, neuronpedia_id, has_sparsity,
       n_features, n_dead, median_log10_density, decoder_storage, enrichment_storage, token_index_k
FROM sae_summary
WHERE :model IS NULL OR model_name = :model
ORDER BY model_name, hook_position NULLS LAST, layer, sae_id
LIMIT :limit
