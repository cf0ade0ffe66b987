"""Checking catalog-typed parameters (SAE, LAYER, MODEL, FEATURE, TOKEN, TOKEN_SET, TOKEN_SETS) before a query runs.

A saved query given an SAE or token set that is not in the catalog would return an empty table,
which reads as "no feature matches". These checks turn that into an error that names the value and
lists what the catalog holds (or, for the long lists, the closest names and how to see them all).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb

from catalog.errors import CatalogError
from catalog.query_params import Param

_SHOW_ALL_UP_TO = 40  # lists longer than this are summarised by their closest matches


def check_params(
    con: duckdb.DuckDBPyConnection,
    query_name: str,
    params: Sequence[Param],
    values: Mapping[str, object],
    db_path: Path,
) -> None:
    """Raise CatalogError for the first catalog-typed value the catalog does not hold."""
    by_kind = {param.kind: param.name for param in params}
    model = values.get(by_kind["MODEL"]) if "MODEL" in by_kind else None
    # Features are checked within their SAE and tokens within their model: those go first.
    for param in sorted(params, key=lambda p: p.kind in ("FEATURE", "TOKEN")):
        value = values.get(param.name)
        if value is None:
            continue
        where = f"query {query_name}: parameter {param.name}"
        if param.kind == "SAE":
            _check_member(
                where,
                "SAE",
                value,
                _column(con, "SELECT sae_id FROM saes ORDER BY sae_id"),
                db_path,
                "list them with `python -m catalog run saes`",
            )
        elif param.kind == "MODEL":
            _check_member(where, "model", value, _column(con, "SELECT model_name FROM models ORDER BY 1"), db_path)
        elif param.kind in ("TOKEN_SET", "TOKEN_SETS"):
            names = _column(con, "SELECT DISTINCT name FROM token_sets ORDER BY 1")
            # A list is checked name by name, with the same message as a single set names.
            for name in value if isinstance(value, list) else [value]:
                _check_member(
                    where, "token set", name, names, db_path, "list them with `python -m catalog run token_sets`"
                )
        elif param.kind == "LAYER":
            _check_layer(con, where, value, db_path)
        elif param.kind == "FEATURE" and "SAE" in by_kind and values.get(by_kind["SAE"]) is not None:
            _check_feature(con, where, values[by_kind["SAE"]], value)
        elif param.kind == "TOKEN":
            _check_token(con, where, value, model, db_path)


def _column(con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, object] | None = None) -> list:
    return [row[0] for row in con.execute(sql, params).fetchall()]


def _check_member(where: str, what: str, value: object, existing: list, db_path: Path, how_to_list: str = "") -> None:
    if value in existing:
        return
    if not existing:
        raise CatalogError(f"{where}: {what} {value!r} is not in catalog {db_path}, which holds no {what}s yet")
    if len(existing) <= _SHOW_ALL_UP_TO:
        listing = f"{what}s there: " + ", ".join(repr(name) for name in existing)
    else:
        close = difflib.get_close_matches(str(value), [str(name) for name in existing], n=8, cutoff=0.5)
        hint = f"closest: {', '.join(repr(name) for name in close)}; " if close else ""
        listing = f"{hint}{len(existing)} {what}s in all ({how_to_list})"
    raise CatalogError(f"{where}: {what} {value!r} is not in catalog {db_path}; {listing}")


def _check_layer(con: duckdb.DuckDBPyConnection, where: str, layer: object, db_path: Path) -> None:
    rows = con.execute(
        "SELECT layer, string_agg(sae_id, ', ' ORDER BY sae_id) FROM saes GROUP BY layer ORDER BY layer"
    ).fetchall()
    if any(row[0] == layer for row in rows):
        return
    listing = "; ".join(f"{lay} ({saes})" for lay, saes in rows) or "none (the catalog holds no SAEs yet)"
    raise CatalogError(f"{where}: layer {layer} is not in catalog {db_path}; layers there: {listing}")


def _check_feature(con: duckdb.DuckDBPyConnection, where: str, sae_id: object, feature: object) -> None:
    count, lowest, highest, present = con.execute(
        "SELECT count(*), min(feature), max(feature), count(*) FILTER (WHERE feature = $feature)"
        " FROM features WHERE sae_id = $sae_id",
        {"sae_id": sae_id, "feature": feature},
    ).fetchall()[0]
    if present:
        return
    held = f"it has {count} features, {lowest} to {highest}" if count else "it has no features stored"
    raise CatalogError(f"{where}: feature {feature} is not in SAE {sae_id!r} ({held})")


def _check_token(con: duckdb.DuckDBPyConnection, where: str, token: object, model: object, db_path: Path) -> None:
    rows = con.execute(
        "SELECT DISTINCT model_name FROM tokens WHERE token = $token AND ($model IS NULL OR model_name = $model)",
        {"token": token, "model": model},
    ).fetchall()
    if len(rows) > 1:
        models = ", ".join(repr(row[0]) for row in sorted(rows))
        raise CatalogError(
            f"{where}: token {token!r} is in several models ({models}); choose one with the model parameter"
        )
    if rows:
        return
    similar = con.execute(
        "SELECT DISTINCT token FROM tokens WHERE lower(trim(token)) = lower(trim($token))"
        " AND ($model IS NULL OR model_name = $model) ORDER BY token LIMIT 10",
        {"token": token, "model": model},
    ).fetchall()
    scope = f"model {model!r}" if model is not None else f"catalog {db_path}"
    hint = (
        ("; tokens that differ only in spaces or case: " + ", ".join(repr(row[0]) for row in similar))
        if similar
        else ""
    )
    raise CatalogError(
        f"{where}: token {token!r} is not in the vocabulary of {scope} (tokens are matched exactly, "
        f"leading space included: GPT-2 writes ' Paris' for the word after a space){hint}"
    )
