"""Typed parameters of saved queries: declaring them, and turning user input into bound values.

A saved query declares each ``:name`` it uses on a comment line::

    -- param: layer LAYER  layer of the SAE (0-based)
    -- param: min_skewness DOUBLE = 3.0  keep features with skewness above this
    -- param: scope CHOICE(sae|layer|model) = 'model'  where to look for neighbours

Plain SQL types (INTEGER, DOUBLE, VARCHAR, BOOLEAN) only check the value's type. Catalog types
(SAE, LAYER, MODEL, FEATURE, TOKEN, TOKEN_SET, and TOKEN_SETS, a list of set names) are checked
against the catalog before the query runs (see ``catalog.param_checks``), so a typo gets "no such
SAE; these exist" instead of an empty result. Values always reach DuckDB as bound parameters, never
as SQL text: a TOKEN_SETS value is bound as one ``VARCHAR[]``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from catalog.errors import CatalogError

REQUIRED = object()  # default of a parameter the caller must give

# Declared type -> (SQL type it is bound as, what a valid value looks like: for error messages).
KINDS: dict[str, tuple[str, str]] = {
    "INTEGER": ("INTEGER", "an integer"),
    "DOUBLE": ("DOUBLE", "a number"),
    "VARCHAR": ("VARCHAR", "a string"),
    "BOOLEAN": ("BOOLEAN", "true or false"),
    "SAE": ("VARCHAR", "an SAE id such as 'gpt2-small-res-jb/blocks.8.hook_resid_pre'"),
    "LAYER": ("INTEGER", "a layer number such as 8"),
    "MODEL": ("VARCHAR", "a model name such as 'gpt2-small'"),
    "FEATURE": ("INTEGER", "a feature index such as 14215"),
    "TOKEN": ("VARCHAR", "a token's decoded text such as ' Paris' (mind the leading space)"),
    "TOKEN_SET": ("VARCHAR", "a token set name such as 'boys_names'"),
    "TOKEN_SETS": (
        "VARCHAR[]",
        "token set names such as ['boys_names', 'girls_names'] (as text: boys_names,girls_names)",
    ),
    "CHOICE": ("VARCHAR", "one of the listed choices"),
}
_INTEGER_KINDS = {"INTEGER", "LAYER", "FEATURE"}
_TRUE, _FALSE = {"true", "t", "yes", "y", "1"}, {"false", "f", "no", "n", "0"}
_CHOICE = re.compile(r"^CHOICE\(([\w|.-]+)\)$")


@dataclass(frozen=True)
class Param:
    """One declared parameter of a saved query."""

    name: str
    kind: str  # a key of KINDS
    default: object = REQUIRED  # REQUIRED, None (SQL NULL: "no filter"), or a value of the kind
    description: str = ""
    choices: tuple[str, ...] = field(default=())

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def sql_type(self) -> str:
        return KINDS[self.kind][0]

    @property
    def type_label(self) -> str:
        return f"CHOICE({'|'.join(self.choices)})" if self.kind == "CHOICE" else self.kind

    def signature(self) -> str:
        """``name TYPE`` plus ``(required)`` or ``= default``, as `python -m catalog queries` shows it."""
        if self.required:
            return f"{self.name} {self.type_label} (required)"
        shown = "NULL" if self.default is None else repr(self.default)
        return f"{self.name} {self.type_label} = {shown}"

    def coerce(self, value: object, query_name: str) -> object:
        """``value`` (a Python value, or text from the command line) as this parameter's type."""
        if value is None:
            if self.default is None:
                return None
            raise CatalogError(f"query {query_name}: parameter {self.name} cannot be NULL; give {self._expected()}")
        try:
            return self._convert(value)
        except (ValueError, TypeError):
            raise CatalogError(
                f"query {query_name}: parameter {self.name} expects {self._expected()}, got {value!r}"
            ) from None

    def _expected(self) -> str:
        if self.kind == "CHOICE":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        return f"{KINDS[self.kind][1]} ({self.type_label})"

    def _convert(self, value: object) -> object:
        if self.kind in _INTEGER_KINDS:
            return _to_int(value)
        if self.kind == "DOUBLE":
            return _to_float(value)
        if self.kind == "BOOLEAN":
            return _to_bool(value)
        if self.kind == "TOKEN_SETS":
            return _to_names(value)
        if not isinstance(value, str):
            raise TypeError(value)
        if self.kind == "CHOICE" and value not in self.choices:
            raise ValueError(value)
        return value


def _to_int(value: object) -> int:
    if isinstance(value, bool):
        raise TypeError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    if hasattr(value, "__index__"):  # numpy integers
        return int(value.__index__())
    raise ValueError(value)


def _to_float(value: object) -> float:
    if isinstance(value, bool):
        raise TypeError(value)
    number = float(value)  # type: ignore[arg-type]  # ints, numpy floats, numeric text; else ValueError
    if math.isnan(number):
        raise ValueError(value)
    return number


def _to_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(value)


def _to_names(value: object) -> list[str]:
    """A list of names from a list or tuple of strings, or from comma-separated text (the CLI's form)."""
    if isinstance(value, str):
        return [name.strip() for name in value.split(",") if name.strip()]
    if isinstance(value, (list, tuple)) and all(isinstance(name, str) for name in value):
        return list(value)
    raise TypeError(value)


def parse_kind(text: str) -> tuple[str, tuple[str, ...]]:
    """``'LAYER'`` -> ``('LAYER', ())``; ``'CHOICE(sae|model)'`` -> ``('CHOICE', ('sae', 'model'))``."""
    match = _CHOICE.match(text)
    if match:
        return "CHOICE", tuple(match.group(1).split("|"))
    if text.upper() in KINDS and text.upper() != "CHOICE":
        return text.upper(), ()
    raise ValueError(
        f"unknown parameter type {text!r}; types: {', '.join(k for k in KINDS if k != 'CHOICE')}, CHOICE(a|b|...)"
    )


def parse_default(text: str | None) -> object:
    """A default as written after ``=``: NULL, a number, true/false, or a 'quoted string'."""
    if text is None:
        return REQUIRED
    if text.upper() == "NULL":
        return None
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for number in (int, float):
        try:
            return number(text)
        except ValueError:
            pass
    raise ValueError(f"cannot read the default {text!r}: write NULL, a number, true/false or a 'quoted string'")
