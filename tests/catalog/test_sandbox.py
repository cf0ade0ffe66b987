"""The SQL console: reads work, and nothing else does (docs/architecture.md, "Concurrency and safety")."""

from __future__ import annotations

import io
import time

import duckdb
import pytest

from catalog.errors import CatalogError
from catalog.sandbox import run_sql
from tests.synthetic_catalog import BenchShape, build_bench_catalog

SMALL = BenchShape(n_layers=2, d_sae=32, d_model=8, d_vocab=7000, n_sets=60)


@pytest.fixture(scope="module")
def small_db(tmp_path_factory):
    return build_bench_catalog(tmp_path_factory.mktemp("sandbox") / "small.duckdb", SMALL, log=io.StringIO())


def test_a_select_returns_rows_and_views_work(small_db):
    result = run_sql(small_db, "SELECT layer, count(*) AS n FROM feature_stats GROUP BY layer ORDER BY layer;")
    assert result.frame.to_dict("records") == [{"layer": 0, "n": 32}, {"layer": 1, "n": 32}]
    assert not result.truncated and result.source == "sql"


def test_the_row_cap_truncates_and_says_so_keeping_order(small_db):
    result = run_sql(small_db, "SELECT feature FROM features ORDER BY feature DESC", max_rows=5)
    assert result.truncated and list(result.frame["feature"]) == [31, 31, 30, 30, 29]
    assert "showing the first 5 rows; more rows matched" in result.notice()
    exact = run_sql(small_db, "SELECT * FROM range(5)", max_rows=5)
    assert not exact.truncated and len(exact.frame) == 5


@pytest.mark.parametrize(
    "statement, kind",
    [
        ("DROP TABLE saes", "DROP"),
        ("INSERT INTO saes SELECT * FROM saes", "INSERT"),
        ("UPDATE features SET skewness = 0", "UPDATE"),
        ("CREATE TABLE t AS SELECT 1", "CREATE"),
        ("COPY saes TO 'out.csv'", "COPY"),
        ("ATTACH 'other.duckdb'", "ATTACH"),
        ("INSTALL httpfs", "LOAD"),
        ("LOAD httpfs", "LOAD"),
        ("SET enable_external_access = true", "SET"),
        ("PRAGMA database_list", "PRAGMA"),
        ("EXPLAIN SELECT 1", "EXPLAIN"),
    ],
)
def test_anything_but_select_is_refused(small_db, statement, kind):
    with pytest.raises(CatalogError, match=rf"only SELECT queries run in the console .*got a statement of type {kind}"):
        run_sql(small_db, statement)


def test_several_statements_are_refused_before_any_runs(small_db):
    with pytest.raises(CatalogError, match=r"give exactly one statement, got 2"):
        run_sql(small_db, "SELECT 1; DROP TABLE saes")
    assert run_sql(small_db, "SELECT count(*) AS n FROM saes -- ; DROP TABLE saes").frame["n"][0] == 2


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM glob('/*')",
        "SELECT content FROM read_text('/etc/hostname')",
        "SELECT * FROM read_parquet('x.parquet')",
    ],
)
def test_files_cannot_be_read(small_db, statement):
    with pytest.raises(CatalogError, match=r"DuckDB refused the query: Permission Error: .*disabled by configuration"):
        run_sql(small_db, statement)


def test_a_file_name_as_a_table_is_not_even_looked_up(small_db):
    # The path is named in the message as <path>: messages never show paths of the machine.
    with pytest.raises(CatalogError, match=r"Table with name <path> does not exist"):
        run_sql(small_db, "SELECT * FROM '/etc/hostname'")


def test_settings_are_capped_and_cannot_change(small_db):
    """The worker's connection, opened here directly: SQL in the console cannot read settings."""
    from catalog.connect import sandbox
    from catalog.sandbox_worker import NEUTRAL_SETTINGS, sandbox_config

    with sandbox(small_db, sandbox_config(2, 256 * 2**20), NEUTRAL_SETTINGS) as con:
        threads, external, locked, home = con.execute(
            "SELECT current_setting('threads'), current_setting('enable_external_access'),"
            " current_setting('lock_configuration'), current_setting('home_directory')"
        ).fetchone()
        assert (threads, external, locked, home) == (2, False, True, "/")
        with pytest.raises(duckdb.Error, match="lock"):
            con.execute("SET threads = 8")
    for statement in (
        "SELECT current_setting('threads')",
        "SELECT * FROM duckdb_settings()",
        "SELECT path FROM duckdb_databases()",
        "SELECT * FROM query('SET threads = 8')",
        "SELECT * FROM \"QUERY\" ('SELECT 1')",
    ):
        with pytest.raises(CatalogError, match=r"cannot be used in the console \(it shows paths of the machine"):
            run_sql(small_db, statement)


def test_a_write_in_a_select_is_refused_by_the_read_only_file(small_db):
    with pytest.raises(CatalogError, match=r"DuckDB refused the query: .*read-only"):
        run_sql(small_db, "SELECT nextval('token_set_ids')")


def test_a_long_query_is_interrupted_at_the_timeout(small_db):
    started = time.perf_counter()
    with pytest.raises(CatalogError, match=r"the query ran longer than 0.5 s and was stopped; add filters or a LIMIT"):
        run_sql(small_db, "SELECT sum(a.range * b.range) FROM range(100000000) a, range(1000) b", timeout_s=0.5)
    assert time.perf_counter() - started < 10


def test_errors_name_the_problem(small_db, tmp_path):
    with pytest.raises(CatalogError, match=r"Table with name nosuch does not exist"):
        run_sql(small_db, "SELECT * FROM nosuch")
    with pytest.raises(CatalogError, match=r"sql: cannot parse the statement"):
        run_sql(small_db, "SELEC 1")
    with pytest.raises(CatalogError, match=r"max_rows must be between 1 and 1000000, got 0"):
        run_sql(small_db, "SELECT 1", max_rows=0)
    with pytest.raises(CatalogError, match=r"missing.duckdb does not exist; build the demo catalog there with"):
        run_sql(tmp_path / "missing.duckdb", "SELECT 1")
    other = tmp_path / "plain.duckdb"
    duckdb.connect(str(other)).close()
    with pytest.raises(CatalogError, match=r"plain.duckdb is a DuckDB database but not a catalog"):
        run_sql(other, "SELECT 1")


def test_the_catalog_is_unchanged_after_attempts(small_db):
    for statement in ("DROP TABLE saes", "SELECT 1; DELETE FROM saes"):
        with pytest.raises(CatalogError):
            run_sql(small_db, statement)
    assert run_sql(small_db, "SELECT count(*) AS n FROM saes").frame["n"][0] == 2
