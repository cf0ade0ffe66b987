"""Saved queries: the SQL files of ``sql/queries/``, and running one by name.

The app's own queries live apart in ``sql/app_queries/`` (names starting ``app_``): they run by name
like any other (``run_query``, ``llcat run``), but are listed only when asked for
(``saved_queries(include_app=True)``), so users see the public queries first and only.

A saved query is a file ``sql/queries/<name>.sql`` that begins with comment lines::

    -- name: high_skew_features
    -- description: one line saying what it answers
    -- param: layer LAYER  layer of the SAE (0-based)
    -- param: min_skewness DOUBLE = 3.0  keep features with skewness above this

followed by one SELECT that refers to its parameters as ``:name`` (types: ``catalog.query_params``).
Every query also has ``:limit`` (declared or not; default 100, at most MAX_LIMIT). The runner binds
``limit + 1`` and keeps ``limit`` rows, so it knows, and says, when the answer was cut short.

``:name`` becomes ``CAST($name AS <type>)``: DuckDB binds the value, never SQL text made from it.
"""

from __future__ import annotations

import difflib
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb
import pyarrow as pa

from catalog.connect import reading
from catalog.errors import CatalogError
from catalog.param_checks import check_params
from catalog.paths import QUERIES_DIR, SQL_DIR
from catalog.query_params import Param, parse_default, parse_kind
from catalog.result import MAX_LIMIT, QueryResult

DEFAULT_LIMIT = 100
APP_QUERIES_DIR = SQL_DIR / "app_queries"
APP_PREFIX = "app_"
_HEADER = re.compile(r"^--\s*(name|description|param):\s*(.*?)\s*$")
_PARAM = re.compile(r"^(\w+)\s+(\w+(?:\([^)]*\))?)\s*(?:=\s*('(?:[^']|'')*'|\S+))?\s*(.*)$")
# A :name outside quotes and comments; `::` casts are left alone.
_SQL_PIECES = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|(?<![:\w]):([A-Za-z_]\w*)", re.DOTALL)


@dataclass(frozen=True)
class SavedQuery:
    """One parsed file of ``sql/queries/``."""

    name: str
    description: str
    params: tuple[Param, ...]
    text: str  # the file's SQL, as a reader sees it (with :name parameters)
    sql: str  # the same with DuckDB $name bindings
    path: Path

    def param(self, name: str) -> Param:
        for param in self.params:
            if param.name == name:
                return param
        raise KeyError(name)

    def bind(self, given: Mapping[str, object], limit: int | None = None) -> dict[str, object]:
        """Typed values for every parameter: given ones coerced, the rest defaulted; limit checked."""
        given = dict(given)
        if limit is not None:
            given["limit"] = limit
        names = [param.name for param in self.params]
        unknown = [name for name in given if name not in names]
        if unknown:
            raise CatalogError(
                f"query {self.name} has no parameter {', '.join(map(repr, unknown))}; "
                f"its parameters: {self.signature()}"
            )
        missing = [param.name for param in self.params if param.required and param.name not in given]
        if missing:
            raise CatalogError(
                f"query {self.name}: missing required parameter {', '.join(missing)}; "
                f"its parameters: {self.signature()}"
            )
        values = {p.name: p.coerce(given[p.name], self.name) if p.name in given else p.default for p in self.params}
        row_limit(values, self.name)
        return values

    def signature(self) -> str:
        return "; ".join(param.signature() for param in self.params)


def parse_query_file(path: Path) -> SavedQuery:
    """Parse one saved query file; CatalogError names the file and what is wrong with it."""
    header, body = _split_header(path.read_text(encoding="utf-8"))
    try:
        names = header.get("name", [])
        descriptions = header.get("description", [])
        if len(names) != 1 or names[0] != path.stem:
            raise ValueError(f"needs exactly one '-- name: {path.stem}' line (the file's name)")
        if len(descriptions) != 1 or not descriptions[0]:
            raise ValueError("needs exactly one '-- description: ...' line")
        params = tuple(_parse_param(line) for line in header.get("param", []))
        if not any(param.name == "limit" for param in params):
            params += (Param("limit", "INTEGER", DEFAULT_LIMIT, "most rows to return"),)
        limit = next(param for param in params if param.name == "limit")
        if limit.kind != "INTEGER" or not isinstance(limit.default, int) or not 1 <= limit.default <= MAX_LIMIT:
            raise ValueError(f"declare limit as '-- param: limit INTEGER = N' with 1 <= N <= {MAX_LIMIT}")
        sql = _bind_names(body, {param.name: param for param in params})
    except ValueError as error:
        raise CatalogError(f"saved query file {path}: {error}") from None
    return SavedQuery(names[0], descriptions[0], params, body.strip(), sql, path)


def _split_header(text: str) -> tuple[dict[str, list[str]], str]:
    header: dict[str, list[str]] = {}
    lines = text.splitlines()
    index = 0
    while index < len(lines) and (lines[index].startswith("--") or not lines[index].strip()):
        match = _HEADER.match(lines[index])
        if match:
            header.setdefault(match.group(1), []).append(match.group(2))
        index += 1
    return header, "\n".join(lines[index:])


def _parse_param(line: str) -> Param:
    match = _PARAM.match(line)
    if not match:
        raise ValueError(f"cannot read '-- param: {line}'; write '-- param: NAME TYPE [= DEFAULT]  description'")
    name, type_text, default_text, description = match.groups()
    kind, choices = parse_kind(type_text)
    param = Param(name, kind, parse_default(default_text), description, choices)
    if param.default is not None and not param.required:
        try:
            param = Param(name, kind, param.coerce(param.default, "(default)"), description, choices)
        except CatalogError:
            raise ValueError(f"the default of {name}, {default_text}, is not {param.type_label}") from None
    return param


def _bind_names(body: str, params: Mapping[str, Param]) -> str:
    used: set[str] = set()

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name is None:
            return match.group(0)  # a string, quoted identifier or comment: left as written
        if name not in params:
            raise ValueError(f"uses :{name} but declares no '-- param: {name} ...' line")
        used.add(name)
        return f"CAST(${name} AS {params[name].sql_type})"

    sql = _SQL_PIECES.sub(replace, body)
    unused = sorted(set(params) - used)
    if unused:
        raise ValueError(
            f"declares parameter(s) {', '.join(unused)} that its SQL never uses (every query needs :limit)"
        )
    return sql


@cache
def _load(directory: Path) -> dict[str, SavedQuery]:
    return {path.stem: parse_query_file(path) for path in sorted(directory.glob("*.sql"))}


@cache
def _namespaces() -> tuple[dict[str, SavedQuery], dict[str, SavedQuery]]:
    """(public, app) queries, each name checked to be in the right folder."""
    public, app = _load(QUERIES_DIR), _load(APP_QUERIES_DIR)
    misplaced = [q.path for q in public.values() if q.name.startswith(APP_PREFIX)]
    misplaced += [q.path for q in app.values() if not q.name.startswith(APP_PREFIX)]
    if misplaced:
        raise CatalogError(
            f"saved query files in the wrong folder: {', '.join(map(str, misplaced))}; names starting "
            f"{APP_PREFIX!r} belong in {APP_QUERIES_DIR}, all others in {QUERIES_DIR}"
        )
    return public, app


def saved_queries(include_app: bool = False) -> dict[str, SavedQuery]:
    """The public saved queries by name (parsed once per process); with ``include_app``, the app's too, after them."""
    public, app = _namespaces()
    return {**public, **app} if include_app else dict(public)


def app_queries() -> dict[str, SavedQuery]:
    """The app's own queries (``sql/app_queries/``), by name."""
    return dict(_namespaces()[1])


def get_query(name: str) -> SavedQuery:
    """A public or app query by name; CatalogError with close matches when there is none."""
    queries = saved_queries(include_app=True)
    if name in queries:
        return queries[name]
    close = difflib.get_close_matches(name, list(queries), n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise CatalogError(
        f"no saved query named {name!r}; {hint}saved queries: {', '.join(saved_queries())} "
        "(`python -m catalog queries` describes them)"
    )


def row_limit(values: Mapping[str, object], query_name: str) -> int:
    """The bound ``limit`` of a query, checked to be a row count between 1 and MAX_LIMIT."""
    limit = values["limit"]
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise CatalogError(f"query {query_name}: limit must be between 1 and {MAX_LIMIT}, got {limit}")
    return limit


def run_query(
    db_path: Path | str, name: str, params: Mapping[str, object] | None = None, limit: int | None = None
) -> QueryResult:
    """Run saved query ``name`` on the catalog at ``db_path``; its rows as a DataFrame in a QueryResult.

    ``params`` maps parameter names to values (Python values, or text as the CLI passes them).
    """
    query = get_query(name)
    values = query.bind(params or {}, limit)
    started = time.perf_counter()
    limit = row_limit(values, query.name)
    with reading(db_path) as con:
        check_params(con, query.name, query.params, values, Path(db_path))
        try:
            frame = con.execute(query.sql, {**values, "limit": limit + 1}).df()
        except duckdb.InvalidInputException as error:
            # a query's own error('...') (e.g. an SAE stored without decoder vectors): the user's message
            raise CatalogError(f"query {query.name}: {str(error).removeprefix('Invalid Input Error: ')}") from None
    return QueryResult.from_rows(frame, limit, query.name, values, time.perf_counter() - started)


@contextmanager
def stream_query(
    db_path: Path | str,
    name: str,
    params: Mapping[str, object] | None = None,
    limit: int | None = None,
    batch_rows: int = 65_536,
) -> Iterator[tuple[pa.RecordBatchReader, int]]:
    """Like ``run_query``, for results too big for one DataFrame: yields an Arrow batch reader of at
    most ``limit + 1`` rows (the extra row says "truncated") and the limit, while the file is open."""
    query = get_query(name)
    values = query.bind(params or {}, limit)
    row_cap = row_limit(values, query.name)
    with reading(db_path) as con:
        check_params(con, query.name, query.params, values, Path(db_path))
        relation = con.sql(query.sql, params={**values, "limit": row_cap + 1})
        reader = relation.to_arrow_reader(batch_rows)
        try:
            yield reader, row_cap
        finally:
            reader.close()  # a reader left open (e.g. at the row cap) would keep a result pending on close
