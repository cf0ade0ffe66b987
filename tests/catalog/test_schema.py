import duckdb
import pytest

from catalog.connect import open_for_write, open_read_only, read_engine
from catalog.errors import CatalogError
from catalog.schema import SCHEMA_VERSION

CONTRACT = {
    "models": {"model_name", "d_model", "d_vocab"},
    "tokens": {"model_name", "token_id", "token", "raw"},
    "unembed": {"model_name", "token_id", "vec"},
    "saes": {"sae_id", "release", "hook_name", "layer", "model_name", "d_in", "d_sae", "neuronpedia_id"},
    "features": {
        "sae_id",
        "feature",
        "log10_density",
        "mean",
        "std",
        "skewness",
        "kurtosis",
        "cos_mean",
        "cos_std",
        "cos_skewness",
        "cos_kurtosis",
    },
    "decoder": {"sae_id", "feature", "vec"},
    "feature_tokens": {"sae_id", "feature", "direction", "rank", "token_id", "value"},
    "token_sets": {"set_id", "model_name", "name", "family", "size"},
    "token_set_members": {"set_id", "token_id"},
    "enrichment": {"sae_id", "feature", "set_id", "d", "direction", "p_value", "p_null", "q_value"},
}


def _columns(con, table):
    return {
        row[0]
        for row in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = $t", {"t": table}
        ).fetchall()
    }


def test_schema_has_the_contract_tables_and_columns(tmp_path):
    con = open_for_write(tmp_path / "c.duckdb")
    for table, columns in CONTRACT.items():
        assert columns <= _columns(con, table), table
    con.close()


def test_applying_twice_is_idempotent_and_recorded_once(tmp_path):
    path = tmp_path / "c.duckdb"
    open_for_write(path).close()
    con = open_for_write(path)
    assert con.execute("SELECT version FROM schema_migrations").fetchall() == [(SCHEMA_VERSION,)]
    con.close()


def test_a_file_that_is_not_duckdb_is_refused_untouched(tmp_path):
    path = tmp_path / "notes.duckdb"
    path.write_text("these are my notes, not a database\n" * 10)
    before = path.read_bytes()
    with pytest.raises(CatalogError, match=r"notes.duckdb is not a DuckDB database .*pass the path of a catalog"):
        open_for_write(path)
    with pytest.raises(CatalogError, match="is not a DuckDB database"):
        open_read_only(path)
    assert path.read_bytes() == before


def test_a_newer_schema_version_is_refused(tmp_path):
    path = tmp_path / "future.duckdb"
    open_for_write(path).close()
    con = duckdb.connect(str(path))
    con.execute(
        "INSERT INTO schema_migrations (version, description) VALUES ($v, 'from the future')", {"v": SCHEMA_VERSION + 1}
    )
    con.close()
    message = (
        rf"written by schema version {SCHEMA_VERSION + 1}, but this code knows only versions up to {SCHEMA_VERSION}; "
        "upgrade"
    )
    with pytest.raises(CatalogError, match=message):
        open_for_write(path)
    with pytest.raises(CatalogError, match=message):
        open_read_only(path)


def test_reading_a_missing_catalog_says_how_to_build_one(tmp_path):
    with pytest.raises(
        CatalogError, match=r"does not exist; build the demo catalog there with `llcat-ingest demo --db"
    ):
        read_engine(tmp_path / "missing.duckdb")


def test_catalog_in_a_missing_folder(tmp_path):
    with pytest.raises(CatalogError, match=r"folder .*no-such-dir does not exist"):
        open_for_write(tmp_path / "no-such-dir" / "c.duckdb")


def test_the_schema_and_views_are_applied_once_not_on_every_write_open(tmp_path):
    import hashlib

    from catalog.connect import writing

    db = tmp_path / "c.duckdb"
    with writing(db):
        pass
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == 1
    before = (hashlib.sha256(db.read_bytes()).hexdigest(), db.stat().st_mtime_ns)
    for _ in range(3):
        with writing(db):
            pass
    # Reopening a current catalog writes nothing: readers' cache keys (the file's mtime) stay valid.
    assert (hashlib.sha256(db.read_bytes()).hexdigest(), db.stat().st_mtime_ns) == before
    # Views older than the code's are brought up to date by the next writer.
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE OR REPLACE VIEW catalog_views_version AS SELECT 0 AS views_version")
    with writing(db) as con:
        from catalog.schema import current_views_version

        assert con.execute("SELECT views_version FROM catalog_views_version").fetchone()[0] == current_views_version()
