"""Writing results and tables to Parquet, CSV or JSON Lines, streamed in Arrow batches.

- ``export_query``: a saved query's result (its row cap applies and is reported);
- ``export_table``: a whole table or view of the catalog, e.g. ``features`` or ``enrichment_scores``;
- ``export_neuronpedia``: one JSON object per feature in Neuronpedia's field names (``pos_str``,
  ``pos_values``, ``neg_str``, ``neg_values``, ``frac_nonzero``, ``logits_hist_data_bar_heights``,
  ``logits_hist_data_bar_values``, plus ``modelId``/``layer``/``index``), from the saved query
  ``neuronpedia_features``.

CSV has no list type: list cells are written as JSON text (``["a", "b"]``). JSON has no NaN or
infinity: those become ``null`` (an enrichment score -ln(1 - d) is +inf when d = 1).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from catalog.connect import reading
from catalog.errors import CatalogError
from catalog.formatting import jsonable
from catalog.queries import run_query, stream_query

FORMATS = ("parquet", "csv", "jsonl")
_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    format: str
    rows: int
    truncated: bool = False  # True when a row cap stopped the export before the last row


def export_format(path: Path, fmt: str | None = None) -> str:
    """The format asked for, or the one the file name implies."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise CatalogError(f"unknown export format {fmt!r}; formats: {', '.join(FORMATS)}")
        return fmt
    if path.suffix.lower() in _SUFFIXES:
        return _SUFFIXES[path.suffix.lower()]
    raise CatalogError(
        f"cannot tell the format of {path} from its suffix; name it .parquet, .csv or .jsonl, "
        f"or pass the format ({', '.join(FORMATS)})"
    )


def _is_list(data_type: pa.DataType) -> bool:
    return pa.types.is_list(data_type) or pa.types.is_large_list(data_type) or pa.types.is_fixed_size_list(data_type)


def _csv_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([pa.field(f.name, pa.string()) if _is_list(f.type) else f for f in schema])


def _lists_as_json(batch: pa.RecordBatch) -> pa.RecordBatch:
    """CSV cannot hold lists: write each list cell as JSON text."""
    columns = [
        pa.array(
            [None if cell is None else json.dumps(jsonable(cell), default=str) for cell in column.to_pylist()],
            pa.string(),
        )
        if _is_list(column.type)
        else column
        for column in batch.columns
    ]
    return pa.RecordBatch.from_arrays(columns, schema=_csv_schema(batch.schema))


def write_batches(
    batches: Iterable[pa.RecordBatch], schema: pa.Schema, path: Path, fmt: str, max_rows: int | None = None
) -> ExportSummary:
    """Write ``batches`` to ``path``, stopping after ``max_rows`` rows (truncated=True if more came)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows, truncated = 0, False
    with _BatchWriter(path, fmt, schema) as write:
        for batch in batches:
            if max_rows is not None and rows + batch.num_rows > max_rows:
                batch, truncated = batch.slice(0, max_rows - rows), True
            write(batch)
            rows += batch.num_rows
            if truncated:
                break
    return ExportSummary(path, fmt, rows, truncated)


class _BatchWriter:
    """Context manager giving a ``write(batch)`` function for one output file."""

    def __init__(self, path: Path, fmt: str, schema: pa.Schema) -> None:
        self.path, self.fmt, self.schema = path, fmt, schema

    def __enter__(self):
        if self.fmt == "parquet":
            self.sink = pq.ParquetWriter(self.path, self.schema)
            return self.sink.write_batch
        if self.fmt == "csv":
            self.sink = pa_csv.CSVWriter(self.path, _csv_schema(self.schema))
            return lambda batch: self.sink.write_batch(_lists_as_json(batch))
        self.sink = self.path.open("w", encoding="utf-8")
        return self._write_jsonl

    def _write_jsonl(self, batch: pa.RecordBatch) -> None:
        for row in batch.to_pylist():
            self.sink.write(json.dumps(jsonable(row), ensure_ascii=False, default=str) + "\n")

    def __exit__(self, *exc_info) -> None:
        self.sink.close()


def export_frame(frame: pd.DataFrame, path: Path | str, fmt: str | None = None) -> ExportSummary:
    """Write a DataFrame (e.g. ``QueryResult.frame``)."""
    path = Path(path)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return write_batches(table.to_batches(), table.schema, path, export_format(path, fmt))


def export_query(
    db_path: Path | str,
    name: str,
    params: Mapping[str, object] | None,
    path: Path | str,
    fmt: str | None = None,
    limit: int | None = None,
) -> ExportSummary:
    """Stream saved query ``name``'s result to ``path``; ``truncated`` says if its row cap cut it."""
    path = Path(path)
    fmt = export_format(path, fmt)
    with stream_query(db_path, name, params, limit) as (reader, row_cap):
        return write_batches(reader, reader.schema, path, fmt, max_rows=row_cap)


def export_neuronpedia(
    db_path: Path | str, path: Path | str, sae: str | None = None, limit: int | None = None
) -> ExportSummary:
    """Per-feature JSON Lines in Neuronpedia's field names, for one SAE or all of them.

    Refuses (before writing anything) when a chosen SAE has no Neuronpedia id, as quick lists do:
    its records would carry ``"modelId": null``, which Neuronpedia cannot place.
    """
    _check_neuronpedia_ids(db_path, sae)
    return export_query(db_path, "neuronpedia_features", {"sae": sae}, path, "jsonl", limit)


def _check_neuronpedia_ids(db_path: Path | str, sae: str | None) -> None:
    saes = run_query(db_path, "saes", {}).frame
    if sae is not None:
        saes = saes[saes["sae_id"] == sae]
        if saes.empty:
            raise CatalogError(
                f"--sae-id {sae!r} is not in catalog {db_path}; `llcat run saes --db {db_path}` lists its SAEs"
            )
    without = sorted(saes.loc[saes["neuronpedia_id"].isna(), "sae_id"])
    if without:
        having = sorted(saes.loc[saes["neuronpedia_id"].notna(), "sae_id"])
        fix = (
            f"export one that has an id with --sae-id ({', '.join(having[:5])}{', ...' if len(having) > 5 else ''})"
            if having
            else "none of its SAEs has one (export a saved query or a --table instead)"
        )
        raise CatalogError(
            f"SAE(s) {', '.join(without)} have no Neuronpedia id in catalog {db_path}, so their "
            f"features cannot be exported for Neuronpedia; {fix}"
        )


def export_table(
    db_path: Path | str, table: str, path: Path | str, fmt: str | None = None, batch_rows: int = 65_536
) -> ExportSummary:
    """Stream a whole table or view of the catalog to ``path``."""
    path = Path(path)
    fmt = export_format(path, fmt)
    with reading(db_path) as con:
        names = sorted(
            {
                row[0]
                for row in con.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE NOT internal UNION ALL "
                    "SELECT view_name FROM duckdb_views() WHERE NOT internal"
                ).fetchall()
            }
        )
        if table not in names:
            raise CatalogError(f"no table or view named {table!r} in catalog {db_path}; there: {', '.join(names)}")
        # The name is one of the catalog's own (checked above) and quoted; identifiers cannot be bound.
        reader = con.sql(f'SELECT * FROM "{table}"').to_arrow_reader(batch_rows)
        try:
            return write_batches(reader, reader.schema, path, fmt)
        finally:
            reader.close()
