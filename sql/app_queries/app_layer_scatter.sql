-- name: app_layer_scatter
-- description: A sample of each SAE's live features (dead ones, log10 density < -9, left out as in the notebook) with raw and cosine moments, for the skewness-versus-kurtosis scatter animated across layers: about per_sae pseudo-random features per SAE (the same ones every time) plus its most skewed and most kurtotic ones.
-- param: per_sae INTEGER = 2000  about this many pseudo-random features per SAE
-- param: extremes INTEGER = 100  most skewed and most kurtotic features per SAE, always kept (at least 1)
-- param: model MODEL = NULL  only SAEs of this model
-- param: limit INTEGER = 100000  most rows to return
WITH live AS (
    SELECT f.sae_id, s.layer, s.hook_name, s.d_sae, f.feature, f.skewness, f.kurtosis, f.std,
           f.cos_skewness, f.cos_kurtosis, f.cos_std, f.log10_density
    FROM features AS f
    JOIN saes AS s ON s.sae_id = f.sae_id
    WHERE NOT coalesce(f.is_dead, false)
      AND (:model IS NULL OR s.model_name = :model)
), extremes AS (
    -- max_by(.., n) keeps the n largest while scanning; a window per SAE would sort every feature.
    SELECT sae_id, unnest(list_concat(max_by(feature, skewness, :extremes), max_by(feature, kurtosis, :extremes))) AS feature
    FROM live
    GROUP BY sae_id
), kept AS (
    -- A hash of (feature, SAE) is a sample that is the same on every run and differs between SAEs.
    SELECT sae_id, feature FROM live WHERE hash(feature, sae_id) % 1000000 < 1000000.0 * :per_sae / d_sae
    UNION
    SELECT sae_id, feature FROM extremes
)
SELECT l.sae_id, l.layer, l.hook_name, l.feature, l.skewness, l.kurtosis, l.std,
       l.cos_skewness, l.cos_kurtosis, l.cos_std, l.log10_density
FROM live AS l
JOIN kept AS k ON k.sae_id = l.sae_id AND k.feature = l.feature
ORDER BY l.layer, l.sae_id, l.feature
LIMIT :limit
