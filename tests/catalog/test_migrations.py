"""Schema upgrades: a catalog of the previous version is migrated in place by ingest, keeping every row."""

from pathlib import Path

import duckdb
import pytest

from catalog import schema
from catalog.connect import open_for_write, open_read_only
from catalog.errors import CatalogError
from ingest.cli import main

V1_SCHEMA = Path(__file__).parent / "data" / "schema_v1.sql"


def build_v1_catalog(path: Path) -> None:
    """A catalog exactly as schema version 1 wrote it, with a row in several tables."""
    con = duckdb.connect(str(path))
    con.execute(V1_SCHEMA.read_text())
    con.execute("INSERT INTO schema_migrations (version, description) VALUES (1, 'schema.sql version 1')")
    con.execute("INSERT INTO runs VALUES ('r1', now()::TIMESTAMP, NULL, '0.1.0', 1, 'cpu', '{}', NULL, 'finished')")
    con.execute("INSERT INTO models VALUES ('m', 4, 3, 'src', 'proc', 'abc', 'r1')")
    con.execute("INSERT INTO tokens VALUES ('m', 0, ' a', 'Ġa'), ('m', 1, ' b', 'Ġb'), ('m', 2, 'c', 'c')")
    con.execute(
        "INSERT INTO features VALUES ('s/x', 0, -2.0, false, 1.0, 0, 1, 0.5, 3.5, 0, 1, 0.4, 3.2, -1, 1, [1,2,3])"
    )
    con.close()


def table_shapes(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    rows = con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = 'main' ORDER BY table_name, ordinal_position"
    ).fetchall()
    shapes: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        shapes.setdefault(table, []).append((column, data_type))
    return shapes


def test_every_version_after_the_first_has_a_migration():
    assert sorted(schema.migrations()) == list(range(2, schema.SCHEMA_VERSION + 1))


def test_reader_refuses_an_old_catalog_and_says_how_to_migrate(tmp_path):
    path = tmp_path / "old.duckdb"
    build_v1_catalog(path)
    with pytest.raises(
        CatalogError,
        match=rf"has schema version 1, older than this code's {schema.SCHEMA_VERSION}; "
        rf"upgrade it in place with `llcat-ingest migrate --db {path}`",
    ):
        open_read_only(path)


def test_migrate_upgrades_in_place_keeping_every_row(tmp_path, capsys):
    old, fresh = tmp_path / "old.duckdb", tmp_path / "fresh.duckdb"
    build_v1_catalog(old)
    assert main(["migrate", "--db", str(old)]) == 0
    assert f"schema version {schema.SCHEMA_VERSION}" in capsys.readouterr().out
    open_for_write(fresh).close()
    upgraded, new = open_read_only(old), open_read_only(fresh)
    assert table_shapes(upgraded) == table_shapes(new)  # old + migrations == the latest schema
    assert upgraded.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall() == [
        (v,) for v in range(1, schema.SCHEMA_VERSION + 1)
    ]
    assert upgraded.execute("SELECT count(*) FROM tokens").fetchall() == [(3,)]
    assert upgraded.execute("SELECT run_id, status, library_versions FROM runs").fetchall() == [
        ("r1", "finished", None)
    ]
    assert upgraded.execute("SELECT kurtosis, hist_counts FROM features").fetchall() == [(3.5, [1, 2, 3])]
    upgraded.close()
    new.close()


def test_a_failing_migration_leaves_the_catalog_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "old.duckdb"
    build_v1_catalog(path)
    broken = tmp_path / "002_broken.sql"
    broken.write_text("ALTER TABLE runs ADD COLUMN library_versions VARCHAR;\nSELECT * FROM no_such_table;\n")
    steps = {**schema.migrations(), 2: broken}
    monkeypatch.setattr(schema, "migrations", lambda: steps)
    with pytest.raises(duckdb.CatalogException, match="no_such_table"):
        open_for_write(path)
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT max(version) FROM schema_migrations").fetchall() == [(1,)]
    assert "library_versions" not in {row[0] for row in con.execute("DESCRIBE runs").fetchall()}
    assert con.execute("SELECT count(*) FROM tokens").fetchall() == [(3,)]
    con.close()


def test_migrate_a_missing_catalog(tmp_path, capsys):
    assert main(["migrate", "--db", str(tmp_path / "nope.duckdb")]) == 2
    assert (
        "does not exist, so there is nothing to migrate; pass --db with an existing catalog" in capsys.readouterr().err
    )
