-- Views over the catalog's tables: the joins people always write, written once.
--
-- Applied by catalog.schema.apply_schema when a catalog is created or migrated, or holds views older
-- than these (inside its transaction, so every statement here must also work on an empty catalog).
-- A read-only connection whose catalog was written by older code re-creates them as TEMP views and
-- macros (catalog.schema.install_views), so saved queries always see the current definitions.
-- Views hold no data. Every statement starts `CREATE OR REPLACE VIEW` or `CREATE OR REPLACE MACRO`.

-- Bump views_version whenever a view or macro here changes: a writer then replaces them, and a reader
-- whose catalog holds an older version (or none) re-creates every one as TEMP for its connection.
CREATE OR REPLACE VIEW catalog_views_version AS SELECT 6 AS views_version;

-- A feature's Neuronpedia page (docs/architecture.md, "Neuronpedia"): https://neuronpedia.org/{model}/{source}/{index},
-- where saes.neuronpedia_id is '{model}/{source}'; NULL when the SAE has no Neuronpedia id.
-- The one place a URL is built in SQL; catalog.neuronpedia builds the same in Python (a test checks).
CREATE OR REPLACE MACRO neuronpedia_url(neuronpedia_id, feature) AS
    'https://neuronpedia.org/' || neuronpedia_id || '/' || CAST(feature AS VARCHAR);

-- A stored decoder vector as FLOAT[] and its dot product with a FLOAT[] probe, whichever way it was
-- stored (saes.decoder_storage): float32 in vec, or int16 in vec_i16 with vec_scale (schema v5). The dot
-- product multiplies by the scale once per vector rather than once per element.
CREATE OR REPLACE MACRO decoder_vec(vec, vec_i16, vec_scale) AS
    coalesce(vec, list_transform(vec_i16, lambda x: (x * vec_scale)::FLOAT));
CREATE OR REPLACE MACRO decoder_dot(vec, vec_i16, vec_scale, probe) AS
    CASE WHEN vec IS NOT NULL THEN list_inner_product(vec, probe)
         ELSE list_inner_product(vec_i16::FLOAT[], probe) * vec_scale END;

-- One row per SAE: where it sits (hook_position orders a model's SAEs: embed, then each block's resid_pre,
-- attention, resid_mid, MLP, resid_post), its Neuronpedia id, and how many of its features are dead.
-- The counts come from sae_feature_summary (schema v6: written with the SAE's features), not a scan of
-- features; an SAE without features has 0 features, 0 dead and a NULL median.
CREATE OR REPLACE VIEW sae_summary AS
SELECT s.sae_id, s.release, s.sae_name, s.model_name, s.hook_name, s.layer, s.d_in, s.d_sae,
       s.neuronpedia_id, s.has_sparsity, s.hook_kind, s.logit_mapping, s.hook_position,
       s.decoder_storage, s.enrichment_storage, s.token_index_k,
       coalesce(fs.n_features, 0) AS n_features,
       coalesce(fs.n_dead, 0) AS n_dead,
       fs.median_log10_density
FROM saes AS s
LEFT JOIN sae_feature_summary AS fs ON fs.sae_id = s.sae_id;

-- One row per feature: its SAE, layer, Neuronpedia link, density and logit-weight moments.
-- Cheap to filter: no token text (see feature_overview for that).
CREATE OR REPLACE VIEW feature_stats AS
SELECT s.sae_id, s.release, s.model_name, s.hook_name, s.layer, f.feature,
       s.neuronpedia_id,
       neuronpedia_url(s.neuronpedia_id, f.feature) AS neuronpedia_url,
       f.log10_density, f.is_dead, f.decoder_norm,
       f.mean, f.std, f.skewness, f.kurtosis,
       f.cos_mean, f.cos_std, f.cos_skewness, f.cos_kurtosis
FROM features AS f
JOIN saes AS s ON s.sae_id = f.sae_id;

-- A feature's stored top tokens (most promoted first) and bottom tokens (most suppressed first),
-- as decoded text with their logit weights.
CREATE OR REPLACE VIEW feature_token_lists AS
SELECT ft.sae_id, ft.feature,
       list(t.token ORDER BY ft.rank) FILTER (WHERE ft.direction = 'top') AS top_tokens,
       list(ft.value ORDER BY ft.rank) FILTER (WHERE ft.direction = 'top') AS top_values,
       list(t.token ORDER BY ft.rank) FILTER (WHERE ft.direction = 'bottom') AS bottom_tokens,
       list(ft.value ORDER BY ft.rank) FILTER (WHERE ft.direction = 'bottom') AS bottom_values
FROM feature_tokens AS ft
JOIN saes AS s ON s.sae_id = ft.sae_id
JOIN tokens AS t ON t.model_name = s.model_name AND t.token_id = ft.token_id
GROUP BY ft.sae_id, ft.feature;

-- feature_stats plus the top and bottom tokens as text. Filter on feature_stats' columns first
-- when you can: the token lists are built for the rows that survive.
CREATE OR REPLACE VIEW feature_overview AS
SELECT fs.*, tl.top_tokens, tl.top_values, tl.bottom_tokens, tl.bottom_values
FROM feature_stats AS fs
LEFT JOIN feature_token_lists AS tl ON tl.sae_id = fs.sae_id AND tl.feature = fs.feature;

-- One row per (feature, token set) with the set's name and the notebook's score -ln(1 - d)
-- (d is the KS statistic; the score is +inf when d = 1). Rank by p_calibrated (then d) to test;
-- p_calibrated is NULL in a catalog migrated from schema v2 until `llcat-ingest rescore`.
CREATE OR REPLACE VIEW enrichment_scores AS
SELECT e.sae_id, s.layer, e.feature, e.set_id, ts.name AS set_name, ts.family AS set_family,
       ts.size AS set_size, e.d, -ln(1 - e.d::DOUBLE) AS score, e.direction,
       e.p_value, e.p_null, e.q_value, e.p_calibrated
FROM enrichment AS e
JOIN token_sets AS ts ON ts.set_id = e.set_id
JOIN saes AS s ON s.sae_id = e.sae_id;

-- One row per held-out random direction and set: its calibrated p-value (enrichment_null.holdout_p,
-- directions the tail fit never saw). Uniform on [0, 1] when p_calibrated is calibrated: the data of a
-- QQ plot per family (saved queries null_calibration and null_qq summarise it).
CREATE OR REPLACE VIEW null_holdout_p AS
SELECT n.model_name, n.set_id, ts.name AS set_name, ts.family AS set_family, ts.size AS set_size,
       n.fit_method, unnest(n.holdout_p) AS p
FROM enrichment_null AS n
JOIN token_sets AS ts ON ts.set_id = n.set_id
WHERE n.holdout_p IS NOT NULL;

-- Percentiles (1, 5, 10, 25, 50, 75, 90, 95, 99) of each moment per SAE, i.e. per layer of a
-- release: the notebook's by-layer plots. Linear interpolation, as pandas' describe(). Read from
-- sae_feature_summary (schema v6), where quantile_cont computed them over the SAE's features when they
-- were written; the UNION ALL only reshapes 4 x (number of SAEs) rows.
CREATE OR REPLACE VIEW layer_percentiles AS
WITH long_form AS (
    SELECT sae_id, n_features AS n, 'skewness' AS statistic, skewness_q AS q FROM sae_feature_summary
    UNION ALL SELECT sae_id, n_features, 'kurtosis', kurtosis_q FROM sae_feature_summary
    UNION ALL SELECT sae_id, n_features, 'cos_skewness', cos_skewness_q FROM sae_feature_summary
    UNION ALL SELECT sae_id, n_features, 'cos_kurtosis', cos_kurtosis_q FROM sae_feature_summary
)
SELECT s.model_name, s.release, s.sae_id, s.hook_name, s.layer, lf.statistic, lf.n,
       lf.q[1] AS p01, lf.q[2] AS p05, lf.q[3] AS p10, lf.q[4] AS p25, lf.q[5] AS p50,
       lf.q[6] AS p75, lf.q[7] AS p90, lf.q[8] AS p95, lf.q[9] AS p99
FROM long_form AS lf
JOIN saes AS s ON s.sae_id = lf.sae_id;
