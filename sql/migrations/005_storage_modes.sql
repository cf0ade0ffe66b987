-- Schema version 4 -> 5: storage modes (decoder vectors, enrichment) and the reverse token index.
-- (Filled in by the storage work of issue 12.)
SELECT 1;
