-- Schema version 1 -> 2: record the versions of the libraries that computed a run's numbers.
ALTER TABLE runs ADD COLUMN IF NOT EXISTS library_versions VARCHAR;
