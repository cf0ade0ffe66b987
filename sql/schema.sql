-- Logit-lens feature catalog schema.
-- schema_version: 6
--
-- Applied idempotently by catalog.schema.apply_schema (every statement is IF NOT EXISTS) and recorded
-- in schema_migrations. This file is always the latest full schema, for new catalogs; a catalog of an
-- older version is upgraded in place by sql/migrations/NNN_*.sql (NNN = the version it brings it to).
-- Table and column names are the public contract (docs/architecture.md, "Tables"): add columns
-- freely, rename nothing without a migration.
--
-- Vectors (`unembed.vec`, `decoder.vec`) are FLOAT[] lists rather than fixed-size FLOAT[d_model]
-- arrays because one catalog can hold models of different widths; `list_inner_product(a.vec, b.vec)`
-- works directly and `vec::FLOAT[768]` gives an array where an array function is wanted.

CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,
    description VARCHAR NOT NULL,
    applied_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
);

-- One row per ingest run: what produced the rows (every output records the version and config).
CREATE TABLE IF NOT EXISTS runs (
    run_id           VARCHAR PRIMARY KEY,
    started_at       TIMESTAMP NOT NULL,
    finished_at      TIMESTAMP,
    project_version  VARCHAR NOT NULL,
    analysis_version INTEGER NOT NULL,
    device           VARCHAR NOT NULL,
    config_json      VARCHAR NOT NULL,   -- the IngestConfig as JSON
    timings_json     VARCHAR,            -- seconds per SAE and phase
    status           VARCHAR NOT NULL,   -- 'running' | 'finished' | 'failed'
    library_versions VARCHAR             -- JSON: python, torch, transformer_lens, duckdb, ... (schema v2)
);

CREATE TABLE IF NOT EXISTS models (
    model_name  VARCHAR PRIMARY KEY,
    d_model     INTEGER NOT NULL,
    d_vocab     INTEGER NOT NULL,
    source      VARCHAR NOT NULL,        -- hub id or local folder it was loaded from
    processing  VARCHAR NOT NULL,        -- e.g. 'TransformerBridge compatibility mode: fold_ln, center_writing_weights, center_unembed'
    fingerprint VARCHAR NOT NULL,        -- sha256 of the processed W_U
    run_id      VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS tokens (
    model_name VARCHAR NOT NULL,
    token_id   INTEGER NOT NULL,
    token      VARCHAR NOT NULL,         -- decoded text, e.g. ' Paris'
    raw        VARCHAR NOT NULL,         -- BPE string, e.g. 'ĠParis'
    PRIMARY KEY (model_name, token_id)
);

-- The processed W_U column used for every logit weight: W_U[:, token_id].
CREATE TABLE IF NOT EXISTS unembed (
    model_name VARCHAR NOT NULL,
    token_id   INTEGER NOT NULL,
    vec        FLOAT[] NOT NULL,
    PRIMARY KEY (model_name, token_id)
);

CREATE TABLE IF NOT EXISTS saes (
    sae_id              VARCHAR PRIMARY KEY, -- '<release>/<id within release>', e.g. 'gpt2-small-res-jb/blocks.8.hook_resid_pre'
    release             VARCHAR NOT NULL,
    sae_name            VARCHAR NOT NULL,    -- id within the release (SAELens's SAE id, or the folder name)
    hook_name           VARCHAR NOT NULL,
    layer               INTEGER NOT NULL,
    model_name          VARCHAR NOT NULL,
    d_in                INTEGER NOT NULL,
    d_sae               INTEGER NOT NULL,
    neuronpedia_id      VARCHAR,             -- e.g. 'gpt2-small/8-res-jb'; NULL when unknown
    source              VARCHAR NOT NULL,    -- hub repo/folder or local path
    weights_fingerprint VARCHAR NOT NULL,    -- sha256 of W_dec and the sparsity file
    analysis_version    INTEGER NOT NULL,
    has_sparsity        BOOLEAN NOT NULL,
    cfg_json            VARCHAR NOT NULL,    -- the SAE's cfg.json as read
    run_id              VARCHAR NOT NULL,
    seconds             DOUBLE,
    -- Where the decoder writes and how its rows reach the logits (ingest/sources/hooks.py). NULL for
    -- SAEs stored before schema 4 (then hook_name tells).
    hook_kind           VARCHAR,             -- embed, resid_pre, attn_out, attn_z, resid_mid, mlp_out, transcoder, resid_post
    logit_mapping       VARCHAR,             -- the map applied, e.g. 'W_dec @ W_U', 'W_dec reshaped [d_sae, 8, 256] · W_O[all heads] @ W_U'
    hook_position       BIGINT,              -- sort key within the model: embed 0, then 1 + 5 × layer + (pre 0, attention 1, mid 2, MLP 3, post 4)
    decoder_storage     VARCHAR DEFAULT 'float32', -- schema v5: 'float32' | 'int16' | 'none' (decoder.vec / vec_i16 / no rows)
    enrichment_storage  VARCHAR DEFAULT 'all',     -- schema v5: 'all' (every feature x set) | 'compact' (the kept pairs below)
    enrichment_top_sets INTEGER,             -- schema v5, compact: sets kept per feature, direction and size class (size < 5 or not)
    enrichment_top_features INTEGER,         -- schema v5, compact: features kept per set and direction
    enrichment_max_q    DOUBLE,              -- schema v5, compact: every pair with q_value <= this is kept too
    token_index_k       INTEGER DEFAULT 0, -- schema v5: features per token and direction in token_features (0: none)
    -- schema v6: a small integer naming the SAE, unique in the catalog, copied into its rows of features,
    -- feature_tokens and enrichment. Joins on it skip row groups: DuckDB's zone maps on a VARCHAR keep an
    -- 8-byte prefix, and every sae_id of a release starts alike, so a filter on sae_id skips nothing.
    sae_key             INTEGER
);

-- Moments over the vocabulary of W_dec[f] @ W_U (population form; kurtosis is not excess: Gaussian = 3),
-- and of the cosine variant W_dec[f] @ (W_U / ||W_U[:, t]||).
CREATE TABLE IF NOT EXISTS features (
    sae_id         VARCHAR NOT NULL,
    feature        INTEGER NOT NULL,
    log10_density  DOUBLE,               -- NULL when the SAE has no sparsity file
    is_dead        BOOLEAN,              -- log10_density < -9 (the notebook's rule); NULL without sparsity
    decoder_norm   DOUBLE NOT NULL,
    mean           DOUBLE NOT NULL,
    std            DOUBLE NOT NULL,
    skewness       DOUBLE NOT NULL,
    kurtosis       DOUBLE NOT NULL,
    cos_mean       DOUBLE NOT NULL,
    cos_std        DOUBLE NOT NULL,
    cos_skewness   DOUBLE NOT NULL,
    cos_kurtosis   DOUBLE NOT NULL,
    logit_min      DOUBLE NOT NULL,      -- histogram range: 50 equal bins from logit_min to logit_max
    logit_max      DOUBLE NOT NULL,
    hist_counts    INTEGER[] NOT NULL,
    sae_key        INTEGER,              -- schema v6: saes.sae_key (joins on it skip other SAEs' row groups)
    PRIMARY KEY (sae_id, feature)
);

-- saes.decoder_storage says which column holds an SAE's vectors: 'float32' fills vec; 'int16' fills
-- vec_i16 and vec_scale (W_dec[feature] ~= vec_i16 * vec_scale, half the bytes; the decoder_dot and
-- decoder_vec macros of views.sql read either); 'none' writes no rows.
CREATE TABLE IF NOT EXISTS decoder (
    sae_id    VARCHAR NOT NULL,
    feature   INTEGER NOT NULL,
    vec       FLOAT[],                   -- W_dec[feature], as stored in the SAE (not normalised); NULL when int16 (schema v5)
    vec_i16   SMALLINT[],                -- schema v5: round(W_dec[feature] / vec_scale), |values| <= 32767
    vec_scale FLOAT,                     -- schema v5: max |W_dec[feature]| / 32767
    PRIMARY KEY (sae_id, feature)
);

CREATE TABLE IF NOT EXISTS feature_tokens (
    sae_id    VARCHAR NOT NULL,
    feature   INTEGER NOT NULL,
    direction VARCHAR NOT NULL,          -- 'top' (most promoted) or 'bottom' (most suppressed)
    rank      INTEGER NOT NULL,          -- 0 = most extreme
    token_id  INTEGER NOT NULL,
    value     DOUBLE NOT NULL,           -- the logit weight
    sae_key   INTEGER                    -- schema v6: saes.sae_key; join on (sae_key, feature) to read few row groups
    -- unique on (sae_id, feature, direction, rank); no index, so that bulk writes stay fast
);

CREATE SEQUENCE IF NOT EXISTS token_set_ids START 1;

CREATE TABLE IF NOT EXISTS token_sets (
    set_id        INTEGER PRIMARY KEY,
    model_name    VARCHAR NOT NULL,
    name          VARCHAR NOT NULL,
    family        VARCHAR NOT NULL,
    definition    VARCHAR NOT NULL,
    size          INTEGER NOT NULL,
    dropped_words VARCHAR[] NOT NULL,    -- words of a word list that were not a single token
    UNIQUE (model_name, name)
);

CREATE TABLE IF NOT EXISTS token_set_members (
    set_id   INTEGER NOT NULL,
    token_id INTEGER NOT NULL,
    PRIMARY KEY (set_id, token_id)
);

-- Calibration null per model and set: the KS d of random unit directions of the residual stream
-- pushed through the same W_U (sorted ascending). p_null compares a feature's d against these.
-- The tail fit (schema v3; docs/definitions.md) reproduces p_calibrated from enrichment.d: with
-- y = -ln(1 - d + tail_resolution) and t = y - tail_threshold, p_calibrated = p_null when t <= 0 or
-- tail_exceedances = 0, else max(tail_mass * exp(-(tail_rate * t + tail_curvature * t^2)), 2.2e-308).
-- holdout_p: p_calibrated of further random directions (seed holdout_seed), uniform when the fit is right.
CREATE TABLE IF NOT EXISTS enrichment_null (
    model_name       VARCHAR NOT NULL,
    set_id           INTEGER NOT NULL,
    seed             BIGINT NOT NULL,
    n_directions     INTEGER NOT NULL,
    d_values         DOUBLE[] NOT NULL,
    fit_method       VARCHAR,            -- schema v3: NULL until `llcat-ingest rescore`
    tail_resolution  DOUBLE,             -- r = 1 / (2 max(k, V - k))
    tail_threshold   DOUBLE,             -- on the y scale; NULL when no tail was fitted (too few directions)
    tail_mass        DOUBLE,             -- (1 + exceedances) / (1 + n_directions)
    tail_rate        DOUBLE,
    tail_curvature   DOUBLE,
    tail_exceedances INTEGER,            -- null values above the threshold; 0: no tail model
    holdout_seed     BIGINT,
    holdout_p        DOUBLE[],
    PRIMARY KEY (model_name, set_id)
);

-- One row per (feature, set). d is the KS statistic (the notebook's running-sum score);
-- direction +1 when the set's tokens sit among the feature's promoted tokens, -1 among the suppressed.
CREATE TABLE IF NOT EXISTS enrichment (
    sae_id    VARCHAR NOT NULL,
    feature   INTEGER NOT NULL,
    set_id    INTEGER NOT NULL,
    d         FLOAT NOT NULL,
    direction TINYINT NOT NULL,
    p_value   DOUBLE NOT NULL,           -- KS asymptotic, n_eff = k(V-k)/V: assumes exchangeable tokens
    p_null    DOUBLE NOT NULL,           -- against random directions through W_U: (1 + #null >= d) / (1 + N)
    q_value   DOUBLE NOT NULL,           -- Benjamini-Hochberg over p_calibrated within the SAE (over p_null before v3)
    p_calibrated DOUBLE,                 -- schema v3: p_null extended by the null's tail fit; NULL until rescored
    sae_key   INTEGER                    -- schema v6: saes.sae_key
    -- unique on (sae_id, feature, set_id); no index (tens of millions of rows); each SAE's rows are
    -- written sorted by (set_id, feature), so that a filter on set_id skips other sets' blocks
);

-- Reverse token index (schema v5): per SAE and token, the token_index_k features with the largest
-- ('top', most promoting) and smallest ('bottom', most suppressing) logit weight W_dec[f] . W_U[:, t],
-- rank 0 most extreme. Written at ingest from the [features x V] logits already in memory, sorted by
-- token_id within the SAE so that a lookup of one token reads one block per SAE.
CREATE TABLE IF NOT EXISTS token_features (
    sae_id    VARCHAR NOT NULL,
    token_id  INTEGER NOT NULL,
    direction VARCHAR NOT NULL,          -- 'top' (promoting) or 'bottom' (suppressing)
    rank      INTEGER NOT NULL,
    feature   INTEGER NOT NULL,
    value     FLOAT NOT NULL             -- the logit weight
);

-- Compact enrichment (schema v5): for each SAE stored with enrichment_storage = 'compact' and each set,
-- the largest d among the (feature, set) pairs that were not kept: a pair absent from enrichment has
-- d <= d_dropped_max. enriched_a_not_b uses it as the bound for an absent set-B pair.
CREATE TABLE IF NOT EXISTS enrichment_dropped (
    sae_id        VARCHAR NOT NULL,
    set_id        INTEGER NOT NULL,
    n_dropped     INTEGER NOT NULL,      -- pairs of this set not kept
    d_dropped_max FLOAT                  -- NULL when none was dropped
);

-- Per-SAE summaries of its features (schema v6), written with the features (catalog.store.write_sae) so
-- that the views sae_summary and layer_percentiles read one row per SAE instead of every feature. Each
-- column is the aggregate those views computed over the SAE's rows of features, by the same SQL
-- (catalog/sae_summaries.py); an SAE without features has no row.
CREATE TABLE IF NOT EXISTS sae_feature_summary (
    sae_id               VARCHAR PRIMARY KEY,
    n_features           BIGINT NOT NULL,  -- count(*)
    n_dead               BIGINT NOT NULL,  -- count(*) FILTER (WHERE is_dead)
    median_log10_density DOUBLE,           -- median(log10_density); NULL without sparsity
    -- quantile_cont(statistic, [0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99]): linear interpolation
    skewness_q           DOUBLE[] NOT NULL,
    kurtosis_q           DOUBLE[] NOT NULL,
    cos_skewness_q       DOUBLE[] NOT NULL,
    cos_kurtosis_q       DOUBLE[] NOT NULL
);
