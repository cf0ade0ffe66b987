-- name: app_layer_scatter
-- description: A sample of each SAE's live features (dead ones, log10 density < -9, left out as in the notebook) with raw and cosine moments, for the skewness-versus-kurtosis scatter animated across layers: about per_sae pseudo-random features per SAE (the same ones every time) plus its most skewed and most kurtotic ones.
-- param: per_sae INTEGER = 2000  about this many pseudo-random features per SAE
-- param: extremes INTEGER = 100  most skewed and most kurtotic features per SAE, always kept (at least 1)
-- param: model MODEL = NULL  only SAEs of this model
-- param: limit INTEGER = 100000  most rows to return
WITH sae_rows AS (
    SELECT sae_key, sae_id, layer, hook_name, d_sae FROM saes WHERE :model IS NULL OR model_name = :model
), live AS NOT MATERIALIZED (
    -- Numbers only (SAE strings are joined to the kept rows at the end), and read once per use rather
    -- than buffered: a scan of features' numeric columns costs less than holding 2 M rows.
    SELECT f.sae_key, f.feature, f.skewness, f.kurtosis, f.std, f.cos_skewness, f.cos_kurtosis, f.cos_std,
           f.log10_density,
           -- A hash of (feature, SAE) is a sample that is the same on every run and differs between SAEs.
           hash(f.feature, s.sae_id) % 1000000 < 1000000.0 * :per_sae / s.d_sae AS sampled
    FROM features AS f
    JOIN sae_rows AS s ON s.sae_key = f.sae_key
    WHERE NOT coalesce(f.is_dead, false)
), extremes AS (
    -- max_by(.., n) keeps the n largest while scanning; a window per SAE would sort every feature.
    SELECT DISTINCT sae_key,
           unnest(list_concat(max_by(feature, skewness, :extremes), max_by(feature, kurtosis, :extremes))) AS feature
    FROM live
    GROUP BY sae_key
)
SELECT s.sae_id, s.layer, s.hook_name, l.feature, l.skewness, l.kurtosis, l.std,
       l.cos_skewness, l.cos_kurtosis, l.cos_std, l.log10_density
FROM live AS l
JOIN sae_rows AS s ON s.sae_key = l.sae_key
LEFT JOIN extremes AS x ON x.sae_key = l.sae_key AND x.feature = l.feature
WHERE l.sampled OR x.feature IS NOT NULL
ORDER BY s.layer, s.sae_id, l.feature
LIMIT :limit
