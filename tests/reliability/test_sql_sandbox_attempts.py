"""The SQL sandbox, attacked (issue #6, item 4).

One table of attempts (writes, file access, ATTACH/DETACH, INSTALL/LOAD, SET/RESET, stateful PRAGMAs,
statements smuggled past comments and string literals, a query that runs forever, one that returns
a million rows) goes through every surface that takes user SQL: ``catalog.sandbox.run_sql`` (what
``python -m catalog sql`` calls), the CLI itself for a few, and the app's SQL console page. Each
attempt must be refused with a clear ``sql: ...`` message, or, for harmless reads, answered; no file
may be read (a canary's contents never show up) or created, and the catalog's contents are unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import catalog.api
from catalog.cli import main as catalog_cli
from catalog.sandbox import DEFAULT_MEMORY_MB, SandboxError, run_sql
from tests.app.conftest import _isolated, run_page  # noqa: F401  (fixtures for the console page)
from tests.ingest.catalog_snapshot import snapshot

CANARY = "CANARY-7f3a9c-not-for-your-eyes"
TIMEOUT_S = 1.0
GRACE_S = 8.0
MAX_ROWS = 100
PEAK_BOUND = (DEFAULT_MEMORY_MB + 512) * 2**20  # the budget above the child's start-up size, plus that size

ONE = "give exactly one statement"
ONLY_SELECT = "only SELECT queries run in the console"
NO_FILES = "file system operations are disabled"
STOPPED = "was stopped"  # at the deadline, or past the memory budget
NOT_HERE = "cannot be used in the console"
TOO_LONG = "more than the console accepts"
OK = "answered"


@dataclass(frozen=True)
class Attempt:
    category: str
    sql: str  # {canary}: a file holding CANARY; {target}: a path that must never be created
    expect: str  # a phrase of the refusal, or OK
    rows: int | None = None  # for OK: rows expected back (None: any)
    truncated: bool = False


ATTEMPTS = [
    # several statements in one string
    Attempt("multi", "SELECT 1; DROP TABLE saes", ONE),
    Attempt("multi", "select 1 /* harmless */; drop table saes", ONE),
    Attempt("multi", "SELECT 1 -- a comment\n; DELETE FROM features", ONE),
    Attempt("multi", "SELECT 1; ATTACH '{target}' AS x", ONE),
    Attempt("multi", "SELECT 'a;b; DROP TABLE saes' AS s;", OK, rows=1),  # ';' inside a literal
    Attempt("multi", "SELECT 1 AS x /* ; DROP TABLE saes */", OK, rows=1),  # ';' inside a comment
    Attempt("multi", "SELECT 1 AS x -- ; DROP TABLE saes", OK, rows=1),
    # writes
    Attempt("write", "INSERT INTO saes SELECT * FROM saes", ONLY_SELECT),
    Attempt("write", "insert into token_sets select * from token_sets", ONLY_SELECT),
    Attempt("write", "WITH x AS (SELECT 1) INSERT INTO saes SELECT * FROM saes", ONLY_SELECT),
    Attempt("write", "UPDATE saes SET layer = 99", ONLY_SELECT),
    Attempt("write", "with x as (select 1) update saes set layer = 99", ONLY_SELECT),
    Attempt("write", "DELETE FROM features", ONLY_SELECT),
    Attempt("write", "CREATE TABLE t (x INT)", ONLY_SELECT),
    Attempt("write", "CREATE TEMP TABLE t AS SELECT 1", ONLY_SELECT),
    Attempt("write", "CREATE MACRO m(x) AS x + 1", ONLY_SELECT),
    Attempt("write", "create or replace view feature_stats as select 1", ONLY_SELECT),
    Attempt("write", "DROP VIEW feature_stats", ONLY_SELECT),
    Attempt("write", "DROP TABLE saes", ONLY_SELECT),
    Attempt("write", "ALTER TABLE saes ADD COLUMN z INT", ONLY_SELECT),
    Attempt("write", "COPY saes TO '{target}'", ONLY_SELECT),
    Attempt("write", "COPY (SELECT * FROM saes) TO '{target}' (FORMAT parquet)", ONLY_SELECT),
    Attempt("write", "EXPORT DATABASE '{target}'", ONLY_SELECT),
    Attempt("write", "IMPORT DATABASE '{target}'", ONLY_SELECT),
    Attempt("write", "CHECKPOINT", ONLY_SELECT),
    Attempt("write", "VACUUM", ONLY_SELECT),
    Attempt("write", "CALL pragma_version()", ONLY_SELECT),
    Attempt("write", "SELECT * FROM query('DROP TABLE saes')", NOT_HERE),
    # reading files
    Attempt("file", "SELECT * FROM read_csv('{canary}')", NO_FILES),
    Attempt("file", "select * from read_csv_auto('{canary}')", NO_FILES),
    Attempt("file", "SELECT * FROM read_csv(['/etc/passwd'])", NO_FILES),
    Attempt("file", "SELECT * FROM read_text('{canary}')", NO_FILES),
    Attempt("file", "SELECT content FROM read_blob('{canary}')", NO_FILES),
    Attempt("file", "SELECT * FROM read_parquet('{canary}')", NO_FILES),
    Attempt("file", "SELECT * FROM read_json_auto('{canary}')", NO_FILES),
    Attempt("file", "SELECT * FROM glob('/*')", NO_FILES),
    Attempt("file", "SELECT * FROM sniff_csv('{canary}')", NO_FILES),
    Attempt("file", "SELECT * FROM '{canary}'", NO_FILES),  # a replacement scan
    Attempt("file", "SELECT * FROM 'https://example.com/x.csv'", NO_FILES),
    Attempt("file", "SELECT * FROM duckdb_secrets()", NOT_HERE),
    Attempt("file", "COPY saes FROM '{canary}'", ONLY_SELECT),
    Attempt("file", "SELECT getenv('HOME')", NOT_HERE),
    # databases
    Attempt("attach", "ATTACH '{target}' AS x", ONLY_SELECT),
    Attempt("attach", "attach ':memory:' as m", ONLY_SELECT),
    Attempt("attach", "DETACH catalog", ONLY_SELECT),
    Attempt("attach", "USE memory", ONLY_SELECT),
    # extensions
    Attempt("extension", "INSTALL httpfs", ONLY_SELECT),
    Attempt("extension", "FORCE INSTALL httpfs", ONLY_SELECT),
    Attempt("extension", "LOAD 'x'", ONLY_SELECT),
    Attempt("extension", "load httpfs", ONLY_SELECT),
    # settings
    Attempt("setting", "SET memory_limit = '100GB'", ONLY_SELECT),
    Attempt("setting", "SET enable_external_access = true", ONLY_SELECT),
    Attempt("setting", "set global threads = 64", ONLY_SELECT),
    Attempt("setting", "RESET threads", ONLY_SELECT),
    Attempt("setting", "PRAGMA enable_profiling", ONLY_SELECT),
    Attempt("setting", "PRAGMA threads = 64", ONLY_SELECT),
    Attempt("setting", "EXPLAIN ANALYZE SELECT 1", ONLY_SELECT),
    # paths of the machine: settings, databases, extensions, and SQL run from a string
    Attempt("leak", "SELECT current_setting('secret_directory')", NOT_HERE),
    Attempt("leak", "SELECT name, value FROM duckdb_settings()", NOT_HERE),
    Attempt("leak", "SELECT path FROM duckdb_databases()", NOT_HERE),
    Attempt("leak", "SELECT * FROM pragma_database_list", NOT_HERE),
    Attempt("leak", "SELECT * FROM duckdb_extensions()", NOT_HERE),
    Attempt("leak", "SELECT * FROM \"QUERY_TABLE\" ('saes')", NOT_HERE),
    Attempt("leak", "SELECT * FROM '/etc/hostname'", "Table with name <path> does not exist"),
    # harmless reads that are answered
    Attempt("read", "SELECT 'current_setting' AS word, 'a query' AS q", OK, rows=1),
    Attempt("read", "SELECT * FROM pragma_table_info('saes')", OK),
    Attempt("read", "FROM saes", OK, rows=3),
    Attempt("read", "DESCRIBE saes", OK),
    # resources: single-function bombs (neither interrupt() nor memory_limit reaches them), the
    # planner, huge cells, sorts; each is stopped at the deadline or the memory budget
    Attempt("bomb", "SELECT len(repeat([1], 100000000))", STOPPED),
    Attempt("bomb", "SELECT length(repeat('a', 4000000000))", STOPPED),
    Attempt("bomb", "SELECT length(repeat(repeat('ab', 1000), 2000000))", STOPPED),
    Attempt("bomb", "SELECT json_array_length(to_json(range(50000000)))", STOPPED),
    Attempt("bomb", "SELECT levenshtein(repeat('a', 60000), repeat('b', 60000))", STOPPED),
    Attempt("bomb", "SELECT list_sort(range(200000000))[1]", STOPPED),
    Attempt("bomb", "SELECT count(*) FROM (SELECT unnest(range(100000)) FROM range(100000))", STOPPED),
    Attempt("bomb", "SELECT 1 AS x" + " UNION ALL SELECT 1" * 6000, TOO_LONG),  # planner: 108 KB
    Attempt("bomb", "SELECT repeat('x', 100000000) AS cell", STOPPED),  # a 100 MB cell
    Attempt("bomb", "SELECT repeat('x', 1000000) AS cell FROM range(60)", "more than the console returns"),
    Attempt("timeout", "SELECT count(*) FROM range(100000000) a, range(100000000) b", STOPPED),
    # every DuckDB type comes back (as text where pandas cannot hold it)
    Attempt("types", "SELECT * FROM test_all_types()", OK, rows=3),
    Attempt(
        "types",
        "SELECT 'infinity'::DATE AS d, '12:00:00+05'::TIMETZ AS t,"
        " 340282366920938463463374607431768211455::UHUGEINT AS u",
        OK,
        rows=1,
    ),
    Attempt("types", "SELECT chr(27) || '[31mred' AS colour", OK, rows=1),
    Attempt("cap", "SELECT * FROM generate_series(1, 1000000)", OK, rows=MAX_ROWS, truncated=True),
]


def _fill(attempt: Attempt, canary: Path, target: Path) -> str:
    return attempt.sql.format(canary=canary, target=target)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    canary = tmp_path / "canary.csv"
    canary.write_text(f"secret\n{CANARY}\n")
    return canary, tmp_path / "target_out"


def _outcome_ok(attempt: Attempt, outcome: str, frame_rows: int | None, truncated: bool) -> bool:
    if attempt.expect == OK:
        return outcome == OK and (attempt.rows is None or frame_rows == attempt.rows) and truncated == attempt.truncated
    return outcome.startswith("sql: ") and attempt.expect in outcome


def _report_table(report: Callable[[str], None], title: str, lines: list[tuple[str, str, str, bool]]) -> None:
    rows = [
        f"  [{'ok ' if good else 'BAD'}] {category:9} {' '.join(sql.split())[:60]:60} -> "
        f"{outcome.splitlines()[0][:110]}"
        for category, sql, outcome, good in lines
    ]
    report("\n".join([f"{title}: {len(lines)} attempts", *rows]))


def test_every_attempt_through_run_sql(demo_db: Path, files, report) -> None:
    canary, target = files
    before = snapshot(demo_db)
    lines = []
    for attempt in ATTEMPTS:
        sql = _fill(attempt, canary, target)
        started = time.perf_counter()
        rows, truncated, peak = None, False, 0
        try:
            result = run_sql(demo_db, sql, max_rows=MAX_ROWS, timeout_s=TIMEOUT_S)
            outcome, rows, truncated = OK, len(result.frame), result.truncated
            assert CANARY not in result.frame.to_string(), sql
        except SandboxError as error:
            outcome, peak = str(error), error.peak_rss_bytes
        assert CANARY not in outcome, sql
        seconds = time.perf_counter() - started
        # The deadline counts from the query's start; a fresh interpreter starts in about a second.
        assert seconds < TIMEOUT_S + GRACE_S, f"{sql} was not stopped in time ({seconds:.1f} s)"
        assert peak <= PEAK_BOUND, f"{sql}: the child peaked at {peak / 2**20:.0f} MB"
        shown = f" ({rows} rows{', truncated' if truncated else ''})" if outcome == OK else ""
        lines.append(
            (
                attempt.category,
                attempt.sql,
                f"{outcome}{shown} [{seconds:.1f} s, child peak {peak >> 20} MB]",
                _outcome_ok(attempt, outcome, rows, truncated),
            )
        )
    _report_table(report, "SQL sandbox attempts via catalog.sandbox.run_sql", lines)
    assert not target.exists() and not Path(str(target) + ".wal").exists()
    assert snapshot(demo_db) == before
    bad = [(sql, outcome) for _, sql, outcome, good in lines if not good]
    assert not bad, bad
    assert {a.category for a in ATTEMPTS} >= {
        "multi",
        "write",
        "file",
        "attach",
        "extension",
        "setting",
        "timeout",
        "cap",
        "read",
        "leak",
        "bomb",
        "types",
    }


REFUSED = [a for a in ATTEMPTS if a.expect not in (OK, STOPPED)]


@pytest.mark.parametrize("attempt", REFUSED[::5], ids=lambda a: " ".join(a.sql.split())[:40])
def test_cli_sql_refuses_with_exit_2(demo_db: Path, files, capsys, attempt: Attempt) -> None:
    canary, target = files
    before = snapshot(demo_db)
    code = catalog_cli(["sql", _fill(attempt, canary, target), "--db", str(demo_db), "--timeout", "5"])
    out, err = capsys.readouterr()
    assert code == 2, (attempt.sql, out, err)
    assert err.startswith("error: sql: ") and attempt.expect in err, err
    assert CANARY not in out + err
    assert not target.exists()
    assert snapshot(demo_db) == before


def test_cli_sql_caps_and_times_out(demo_db: Path, capsys) -> None:
    code = catalog_cli(
        ["sql", "SELECT * FROM generate_series(1, 1000000)", "--db", str(demo_db), "--limit", "5", "--format", "csv"]
    )
    out, _ = capsys.readouterr()
    assert code == 0 and out.splitlines()[:2] == ["generate_series", "1"] and "1000000" not in out
    code = catalog_cli(
        [
            "sql",
            "SELECT sum(a.range * b.range) FROM range(100000000) a, range(1000) b",
            "--db",
            str(demo_db),
            "--timeout",
            "1",
        ]
    )
    _, err = capsys.readouterr()
    assert code == 2 and "ran longer than 1 s and was stopped" in err


def test_every_attempt_through_the_console_page(
    run_page, demo_db: Path, files, report, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app's console: the first attempts through the deep link, the rest typed into its text area."""
    canary, target = files
    # The page's timeout is 30 s; the same sandbox with 1 s, so the cross join is stopped quickly.
    # Catalog.sql passes its own timeout_s, so it is overridden here rather than defaulted (a partial would lose).
    monkeypatch.setattr(
        catalog.api, "run_sql", lambda *args, **kwargs: run_sql(*args, **{**kwargs, "timeout_s": TIMEOUT_S})
    )
    before = snapshot(demo_db)
    lines = []
    at = None
    for i, attempt in enumerate(ATTEMPTS):
        sql = _fill(attempt, canary, target)
        if i < 2 or at is None:
            at = run_page("sql_console", query="(console)", sql=sql)
            assert at.text_area(key="sql").value == sql  # the deep link reached the console
            assert not at.dataframe and not at.error  # and only filled it: nothing ran yet
        else:
            at.text_area(key="sql").set_value(sql)
        at.button(key="run_sql").click().run()
        assert not at.exception, (sql, [e.value for e in at.exception])
        errors = [e.value for e in at.error]
        shown = "\n".join(str(e.value) for e in (*at.error, *at.warning, *at.caption, *at.markdown))
        assert CANARY not in shown, sql
        rows, truncated = None, False
        if errors:
            outcome = str(errors[0])
            assert not at.dataframe, sql
        else:
            assert len(at.dataframe) == 1, sql
            frame = at.dataframe[0].value
            assert CANARY not in frame.to_string(), sql
            rows, truncated = len(frame), bool(at.warning)
            outcome = OK
        want = (
            attempt
            if attempt.expect != OK or not attempt.truncated
            else Attempt(attempt.category, attempt.sql, OK, rows=10_000, truncated=True)
        )  # the page's cap
        lines.append(
            (
                attempt.category,
                attempt.sql,
                outcome + (f" ({rows} rows)" if outcome == OK else ""),
                _outcome_ok(want, outcome, rows, truncated),
            )
        )
    _report_table(report, "SQL sandbox attempts via the app's SQL console", lines)
    assert "showing the first 10000 rows; more rows matched" in at.warning[0].value
    assert not target.exists()
    assert snapshot(demo_db) == before
    bad = [(sql, outcome) for _, sql, outcome, good in lines if not good]
    assert not bad, bad
