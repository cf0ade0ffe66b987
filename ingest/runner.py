"""The batch ingest job: ``IngestRunner(config).run()``.

For each SAE: locate its folder (download for a release), load and validate it, then run it through
the per-SAE pipeline (``ingest.pipeline``): analyse every feature in chunks on the chosen device and
write the whole SAE in one short transaction. The catalog's write lock is held only for those writes,
so readers can browse while a run computes. Every SAE is validated before anything is written. SAEs
already stored from the same weights and analysis version are skipped unless ``force``.
"""

from __future__ import annotations

import json
import logging
import shlex
import time
import uuid
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import torch
from tqdm.auto import tqdm

from catalog import store
from catalog.errors import CatalogError
from ingest import tables
from ingest.config import ANALYSIS_VERSION, IngestConfig
from ingest.enrichment_stage import build_token_sets
from ingest.errors import IngestInputError
from ingest.executors import SaeJob, driver_config, make_executor
from ingest.pipeline import SaePipeline
from ingest.set_consistency import check_stored_sets, drop_token_sets
from ingest.sources.hub import require_hub
from ingest.sources.model import LoadedModel, hf_id_of, load_model
from ingest.sources.registry import get_release
from ingest.sources.release_sae import ReleaseSaeHandle
from ingest.sources.residual import to_residual
from ingest.sources.sae import FolderSae, LoadedSae, SaeHandle
from ingest.token_sets import TokenSetLibrary
from ingest.version import library_versions, project_version

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SaeSource:
    """Where one SAE comes from and what the catalog calls it."""

    release: str
    sae_name: str
    neuronpedia_id: str | None
    handle: SaeHandle  # its cfg (cheap) and its decoder, from a release or a folder

    @property
    def sae_id(self) -> str:
        return f"{self.release}/{self.sae_name}"


@dataclass
class RunSummary:
    run_id: str
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def remove_created_catalog(db: Path, run_id: str) -> None:
    """Remove a catalog file this run created (and DuckDB's write-ahead log beside it), unless another
    process has it open or has written to it meanwhile: then it is not this run's alone to remove."""
    if not db.is_file():
        return
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error:
        return  # locked by another writer, or not a database: leave it
    try:
        names = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        others = 0
        if {"runs", "saes"} <= names:
            row = con.execute(
                "SELECT (SELECT count(*) FROM runs WHERE run_id <> $r) + (SELECT count(*) FROM saes)", {"r": run_id}
            ).fetchone()
            others = row[0] if row else 0
    finally:
        con.close()
    if others == 0:
        for path in (db, Path(f"{db}.wal")):
            path.unlink(missing_ok=True)


def _neuronpedia_id_from_cfg(sae: LoadedSae) -> str | None:
    raw = sae.cfg.raw
    metadata: dict[str, Any] = raw["metadata"] if isinstance(raw.get("metadata"), dict) else {}
    value = raw.get("neuronpedia_id") or metadata.get("neuronpedia_id")
    return value if isinstance(value, str) and value else None


class IngestRunner:
    def __init__(self, config: IngestConfig) -> None:
        self.config = config  # validated when it was made
        # resolves the device: CUDA asked for and absent fails here (unless Ray workers have it)
        self.pipeline = SaePipeline.from_config(driver_config(config))
        self.executor = make_executor(config)  # where the SAEs are computed; this process writes them
        self.device = self.pipeline.device
        self.chunk_size = self.pipeline.chunk_size

    def catalog(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """A short-lived read-write connection (waits out other holders of the lock)."""
        return self.pipeline.catalog()

    def plan(self) -> tuple[list[SaeSource], str, str | None]:
        """The SAEs to ingest, the model to load and its catalog name; validates names and folders."""
        cfg = self.config
        if bool(cfg.release) == bool(cfg.sae_dirs):
            raise IngestInputError(
                "give either --release NAME (with optional --sae-id) or one or more --sae-dir DIR, "
                "not both and not neither"
            )
        if cfg.release:
            try:
                release = get_release(cfg.release)
                entries = release.select(cfg.sae_ids)
            except KeyError as error:
                raise IngestInputError(error.args[0]) from error
            sources = [SaeSource(release.name, e.id, e.neuronpedia_id, ReleaseSaeHandle(release, e)) for e in entries]
            return sources, cfg.model or hf_id_of(release.model_name), cfg.model_name or release.model_name
        if cfg.sae_ids:
            raise IngestInputError(
                "--sae-id selects SAEs of a --release; with --sae-dir, pass only the folders you want"
            )
        if not cfg.model:
            raise IngestInputError("--sae-dir needs --model NAME_OR_PATH (the model whose W_U the SAEs write into)")
        sources = []
        for folder in map(Path, cfg.sae_dirs):
            if not folder.is_dir():
                raise IngestInputError(
                    f"--sae-dir {folder} does not exist or is not a folder; pass a folder in the "
                    "SAELens layout (cfg.json, sae_weights.safetensors)"
                )
            sources.append(SaeSource(cfg.release_name, folder.resolve().name, None, FolderSae(folder)))
        names = [s.sae_id for s in sources]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise IngestInputError(
                f"--sae-dir folders share the names {duplicates}; each SAE's folder name becomes its id, so rename one"
            )
        return sources, cfg.model, cfg.model_name

    def _load_checked(self, source: SaeSource, model: LoadedModel) -> LoadedSae:
        """The SAE's decoder rows mapped into the model's residual stream, checked against the model."""
        sae = load_source(source, model.W_O)
        if sae.W_dec.shape[1] != model.d_model:
            raise IngestInputError(
                f"SAE {source.sae_id} ({sae.folder}) has d_in {sae.W_dec.shape[1]} but model {model.model_name!r} "
                f"has d_model {model.d_model}; the SAE was trained on another model: pass the matching --model"
            )
        if sae.cfg.model_name and sae.cfg.model_name not in (model.model_name, model.source):
            log.info(
                "note: SAE %s says it was trained on %r; ingesting against %r",
                source.sae_id,
                sae.cfg.model_name,
                model.model_name,
            )
        return sae

    def run(self) -> RunSummary:
        """Ingest every planned SAE. A failed run that created the catalog file and wrote no SAE removes
        it again, so a failure never leaves a new catalog behind."""
        db = Path(self.config.db)
        existed = db.exists()
        summary = RunSummary(run_id=uuid.uuid4().hex)
        try:
            self._run(summary)
        except BaseException:
            if not existed and not summary.written:
                remove_created_catalog(db, summary.run_id)
            raise
        return summary

    def _check_catalog(self) -> None:
        """Fail early on a bad catalog path (not DuckDB, newer schema, locked, folder missing or not
        writable), before any download or analysis; a new file is not kept until there is something to write."""
        db = Path(self.config.db)
        existed = db.exists()
        with self.catalog():
            pass
        if not existed:
            remove_created_catalog(db, run_id="")

    def _hub_needs(self, model_ref: str) -> str | None:
        """What this run downloads from the hub ('release X and model Y'), or None when all is on disk."""
        needs = [f"release {self.config.release!r}"] if self.config.release else []
        if not Path(model_ref).exists():
            needs.append(f"model {model_ref!r}")
        return " and ".join(needs) or None

    def _stored_sets_to_drop(self, model_name: str, library: TokenSetLibrary | None) -> list[str]:
        """Sets the catalog holds for the model that ``library`` lacks: an error, unless dropping them was asked for."""
        if library is None or not Path(self.config.db).exists():
            return []
        with self.catalog() as con:
            return check_stored_sets(con, self.config.db, model_name, library, self.config.drop_missing_sets)

    def _rescore_command(self) -> str:
        """The command that rescores this catalog's other SAEs with this run's token sets, runnable as written."""
        command = f"llcat-ingest rescore --db {shlex.quote(str(self.config.db))}"
        if self.config.token_sets_file:
            command += f" --token-sets {shlex.quote(str(self.config.token_sets_file))}"
        return command

    def _run(self, summary: RunSummary) -> None:
        cfg = self.config
        sources, model_ref, model_name = self.plan()
        self._check_catalog()
        needs = self._hub_needs(model_ref)
        if needs:
            require_hub(needs)
        # The cfgs first (small files): hook_z SAEs need their layers' W_O kept from the model.
        hooks = [source.handle.config().hook for source in sources]
        started = time.perf_counter()
        W_O_layers = tuple(sorted({h.layer for h in hooks if h.kind == "attn_z"}))
        model = load_model(model_ref, model_name, W_O_layers=W_O_layers)
        summary.timings["load_model_s"] = time.perf_counter() - started
        if cfg.top_k > model.d_vocab:
            raise IngestInputError(
                f"--top-k {cfg.top_k} is more than the {model.d_vocab} tokens of model "
                f"{model.model_name!r}; pass a smaller --top-k"
            )
        # Validate every SAE (downloading a release's) before anything is written: a bad folder or a
        # failed download leaves the catalog as it was.
        jobs = self._plan_jobs(sources, model, summary)
        library = build_token_sets(model.vocab, cfg.token_sets_file) if cfg.enrichment else None
        to_drop = self._stored_sets_to_drop(model.model_name, library)
        with self.catalog() as con:
            drop_token_sets(con, model.model_name, to_drop)
            store.write_model(
                con,
                self._model_record(model, summary.run_id),
                tables.tokens_table(model.vocab.raw, model.vocab.text),
                tables.unembed_table(model.W_U),
            )
            store.start_run(
                con,
                summary.run_id,
                project_version(),
                ANALYSIS_VERSION,
                str(self.device),
                cfg.to_json_dict(),
                library_versions(),
            )
        status = "failed"
        try:
            pipeline = self.pipeline
            if library is not None:
                started = time.perf_counter()
                pipeline = pipeline.with_library(model.model_name, model.W_U, library, cfg, self._rescore_command())
                summary.timings["token_sets_and_null_s"] = time.perf_counter() - started
            for record, rows in self.executor.results(jobs, pipeline, model.W_U):
                self._write_result(record, rows, pipeline, summary)
            status = "finished"
        finally:  # a run that failed before writing any SAE leaves a "failed" row (or no file at all, see run)
            try:
                with self.catalog() as con:
                    store.finish_run(con, summary.run_id, status, summary.timings)
            except CatalogError as error:
                if status == "finished":
                    raise
                # the run failed already (e.g. the disk is full): report that error, not this one
                log.info("note: could not mark run %s as failed in the catalog (%s)", summary.run_id, error)

    def _model_record(self, model: LoadedModel, run_id: str) -> store.ModelRecord:
        return store.ModelRecord(
            model_name=model.model_name,
            d_model=model.d_model,
            d_vocab=model.d_vocab,
            source=model.source,
            processing=model.processing,
            fingerprint=model.fingerprint,
            run_id=run_id,
        )

    def _plan_jobs(self, sources: list[SaeSource], model: LoadedModel, summary: RunSummary) -> list[SaeJob]:
        """Validate every SAE and plan a job for each one the catalog does not hold from the same weights and
        analysis version (all of them with ``force``); the others are skipped."""
        jobs = []
        for source in tqdm(sources, desc="validating SAEs", unit="sae", leave=False):
            sae = self._load_checked(source, model)
            if not self.config.force and self._is_current(source.sae_id, sae.fingerprint):
                log.info(
                    "%s: already in the catalog from the same weights and analysis version; skipped "
                    "(--force redoes it)",
                    source.sae_id,
                )
                summary.skipped.append(source.sae_id)
                continue
            record = sae_record(source, sae, model.model_name, summary.run_id)
            W_O = {layer: W for layer, W in model.W_O.items() if layer == sae.cfg.hook.layer}  # hook_z SAEs' only
            jobs.append(SaeJob(record, partial(load_source, source, W_O), sae.fingerprint))
        return jobs

    def _is_current(self, sae_id: str, fingerprint: str) -> bool:
        if not Path(self.config.db).exists():
            return False
        with self.catalog() as con:
            return store.sae_is_current(con, sae_id, fingerprint, ANALYSIS_VERSION)

    def _write_result(
        self, record: store.SaeRecord, rows: dict[str, pa.Table], pipeline: SaePipeline, summary: RunSummary
    ) -> None:
        """Commit one computed SAE in one transaction: this process is the catalog's only writer."""
        started = time.perf_counter()
        pipeline.write(record, rows)
        written_s = time.perf_counter() - started
        summary.written.append(record.sae_id)
        summary.timings[record.sae_id] = record.seconds + written_s
        summary.timings["write_s"] = summary.timings.get("write_s", 0.0) + written_s
        summary.timings["rows_written"] = summary.timings.get("rows_written", 0) + sum(
            t.num_rows for t in rows.values()
        )
        log.info("%s: %d features written in %.1f s", record.sae_id, record.d_sae, record.seconds + written_s)


def sae_record(source: SaeSource, sae: LoadedSae, model_name: str, run_id: str) -> store.SaeRecord:
    """The ``saes`` row of one loaded SAE (``seconds`` filled in when it has been computed)."""
    return store.SaeRecord(
        sae_id=source.sae_id,
        release=source.release,
        sae_name=source.sae_name,
        hook_name=sae.cfg.hook_name,
        layer=sae.cfg.layer,
        hook_kind=sae.cfg.hook.kind,
        logit_mapping=sae.logit_mapping,
        hook_position=sae.cfg.hook.position,
        model_name=model_name,
        d_in=sae.cfg.d_in,
        d_sae=sae.cfg.d_sae,
        neuronpedia_id=source.neuronpedia_id or _neuronpedia_id_from_cfg(sae),
        source=str(sae.folder),
        weights_fingerprint=sae.fingerprint,
        analysis_version=ANALYSIS_VERSION,
        has_sparsity=sae.log10_density is not None,
        cfg_json=json.dumps(sae.cfg.raw, sort_keys=True),
        run_id=run_id,
        seconds=0.0,
    )


def load_source(source: SaeSource, W_O: Mapping[int, torch.Tensor] | None = None) -> LoadedSae:
    """Load one SAE from its source (downloading a release's) with its decoder rows mapped into the
    residual stream (``W_O`` by layer, for hook_z SAEs): the loader of validation and of every executor."""
    sae = source.handle.load()
    return to_residual(sae, (W_O or {}).get(sae.cfg.hook.layer), source.sae_id)
