"""Printing results: an aligned table for people, CSV or JSON for programs.

JSON cannot hold NaN or infinity, so those print as null; CSV has no lists, so list cells print
as JSON text. Tables show every missing value as NULL and shorten long cells (``--format csv`` or
``json`` give every character).
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd

OUTPUT_FORMATS = ("table", "csv", "json", "jsonl")
# C0 controls but newline and tab, DEL, and C1 controls: a terminal would act on them (colours, titles).
_TERMINAL_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_TABLE_CELL_CHARS = 70


def jsonable(value: object) -> object:
    """A cell as plain Python for json.dumps: numpy values unwrapped, NaN and infinities as None."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return str(value)
    return value


def records(frame: pd.DataFrame) -> list[dict[str, object]]:
    return [
        {str(column): jsonable(value) for column, value in zip(frame.columns, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]


def _is_list_cell(value: object) -> bool:
    return isinstance(value, (list, tuple, np.ndarray))


def _table_cell(value: object) -> object:
    """A cell as the table shows it: lists as their repr, every missing value as NULL (as SQL
    shells print it; pandas would print None for some columns and NaN for others)."""
    if _is_list_cell(value):
        return repr(jsonable(value))
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return "NULL"
    return value


def render(frame: pd.DataFrame, fmt: str = "table") -> str:
    """``frame`` as text in one of OUTPUT_FORMATS."""
    if fmt == "json":
        return "[\n" + ",\n".join(json.dumps(row, ensure_ascii=False) for row in records(frame)) + "\n]\n"
    if fmt == "jsonl":
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in records(frame))
    if fmt == "csv":
        shown = frame.copy()
        for column in shown.columns:
            if shown[column].map(_is_list_cell).any():
                shown[column] = shown[column].map(
                    lambda v: json.dumps(jsonable(v), ensure_ascii=False) if _is_list_cell(v) else v
                )
        return shown.to_csv(index=False)
    if fmt == "table":
        if frame.empty:
            return (
                "(no rows)\n"
                if len(frame.columns) == 0
                else f"(no rows; columns: {', '.join(map(str, frame.columns))})\n"
            )
        shown = frame.astype(object).map(_table_cell)
        return shown.to_string(index=False, max_colwidth=_TABLE_CELL_CHARS) + "\n"
    raise ValueError(f"unknown output format {fmt!r}; formats: {', '.join(OUTPUT_FORMATS)}")


def for_terminal(text: str) -> str:
    """``text`` with control characters shown as escapes (``\\x1b``), so that printing a cell can
    neither recolour nor retitle the user's terminal; newlines and tabs are kept."""
    return _TERMINAL_CONTROLS.sub(lambda match: f"\\x{ord(match.group()):02x}", text)
