-- Schema version 4 -> 5: storage modes (decoder vectors, enrichment) and the reverse token index.
-- Existing SAEs were written with float32 decoders, every enrichment pair and no token index: the
-- defaults say so. New tables start empty; `llcat-ingest run --force` fills them for an SAE.
ALTER TABLE saes ADD COLUMN IF NOT EXISTS decoder_storage VARCHAR DEFAULT 'float32';
ALTER TABLE saes ADD COLUMN IF NOT EXISTS enrichment_storage VARCHAR DEFAULT 'all';
ALTER TABLE saes ADD COLUMN IF NOT EXISTS enrichment_top_sets INTEGER;
ALTER TABLE saes ADD COLUMN IF NOT EXISTS enrichment_top_features INTEGER;
ALTER TABLE saes ADD COLUMN IF NOT EXISTS enrichment_max_q DOUBLE;
ALTER TABLE saes ADD COLUMN IF NOT EXISTS token_index_k INTEGER DEFAULT 0;
ALTER TABLE decoder ALTER COLUMN vec DROP NOT NULL;
ALTER TABLE decoder ADD COLUMN IF NOT EXISTS vec_i16 SMALLINT[];
ALTER TABLE decoder ADD COLUMN IF NOT EXISTS vec_scale FLOAT;
CREATE TABLE IF NOT EXISTS token_features (
    sae_id    VARCHAR NOT NULL,
    token_id  INTEGER NOT NULL,
    direction VARCHAR NOT NULL,
    rank      INTEGER NOT NULL,
    feature   INTEGER NOT NULL,
    value     FLOAT NOT NULL
);
CREATE TABLE IF NOT EXISTS enrichment_dropped (
    sae_id        VARCHAR NOT NULL,
    set_id        INTEGER NOT NULL,
    n_dropped     INTEGER NOT NULL,
    d_dropped_max FLOAT
);
