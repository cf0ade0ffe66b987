"""Shared pieces of the reliability tests: SAE folders, ingest subprocesses, and the all-or-nothing check.

An SAE is *complete* when its `saes` row is there together with exactly d_sae rows in `features`
and `decoder` and 2 * top_k * d_sae rows in `feature_tokens`; it is *absent* when none of those
tables has a row for it. Anything else is a partly written SAE, which must never be seen.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb

from catalog.store import SAE_TABLES
from tests.builders import old_cfg, random_decoder, write_sae_folder

REPO = Path(__file__).resolve().parents[2]
D_MODEL = 32

# One snapshot of every SAE: its row counts in each table.
SAE_COUNTS_SQL = """
SELECT s.sae_id, s.d_sae,
       (SELECT count(*) FROM features f WHERE f.sae_id = s.sae_id),
       (SELECT count(*) FROM decoder d WHERE d.sae_id = s.sae_id),
       (SELECT count(*) FROM feature_tokens t WHERE t.sae_id = s.sae_id)
FROM saes s ORDER BY s.sae_id
"""
ORPHANS_SQL = " UNION ALL ".join(
    f"SELECT '{table}', count(*) FROM {table} WHERE sae_id NOT IN (SELECT sae_id FROM saes)" for table in SAE_TABLES
) + (
    " UNION ALL SELECT 'tokens', count(*) FROM tokens WHERE model_name NOT IN (SELECT model_name FROM models)"
    " UNION ALL SELECT 'unembed', count(*) FROM unembed WHERE model_name NOT IN (SELECT model_name FROM models)"
)
MODEL_COUNTS_SQL = """
SELECT m.model_name, m.d_vocab,
       (SELECT count(*) FROM tokens t WHERE t.model_name = m.model_name),
       (SELECT count(*) FROM unembed u WHERE u.model_name = m.model_name)
FROM models m
"""


@dataclass(frozen=True)
class SaeFolder:
    path: Path
    d_sae: int

    @property
    def sae_id(self) -> str:
        return f"local/{self.path.name}"


def make_sae_folders(root: Path, sizes: list[int], seed: int = 0) -> list[SaeFolder]:
    """SAELens folders blocks.{i}.hook_resid_pre with the given d_sae each (old cfg schema, d_in 32)."""
    folders = []
    for i, d_sae in enumerate(sizes):
        hook = f"blocks.{i}.hook_resid_pre"
        path = write_sae_folder(
            root / hook, random_decoder(d_sae, D_MODEL, seed=seed + i), old_cfg(D_MODEL, d_sae, hook, i)
        )
        folders.append(SaeFolder(path, d_sae))
    return folders


def partial_writes(con: duckdb.DuckDBPyConnection, top_k: int | None) -> list[str]:
    """Every sign of a partly written SAE or model in one consistent snapshot (empty when none).
    With `top_k` None, each SAE may have been written with its own top_k (any k >= 1)."""
    problems = []
    for sae_id, d_sae, n_features, n_decoder, n_tokens in con.execute(SAE_COUNTS_SQL).fetchall():
        k = top_k if top_k is not None else max(1, n_tokens // (2 * d_sae))
        expected = (d_sae, d_sae, 2 * k * d_sae)
        if (n_features, n_decoder, n_tokens) != expected:
            problems.append(
                f"{sae_id}: features/decoder/feature_tokens {n_features}/{n_decoder}/{n_tokens}, expected {expected}"
            )
    for table, count in con.execute(ORPHANS_SQL).fetchall():
        if count:
            problems.append(f"{count} rows in {table} without their saes/models row")
    for model_name, d_vocab, n_tokens, n_unembed in con.execute(MODEL_COUNTS_SQL).fetchall():
        if n_tokens != d_vocab or n_unembed != d_vocab:
            problems.append(f"model {model_name}: {n_tokens} tokens and {n_unembed} unembed rows, expected {d_vocab}")
    return problems


def present_saes(db: Path, top_k: int) -> set[str]:
    """Open the catalog (read-only, as a reader would after a crash), check that every SAE is all or
    nothing, and return the ids of the SAEs present."""
    from catalog.connect import open_read_only

    con = open_read_only(db)
    try:
        problems = partial_writes(con, top_k)
        present = {row[0] for row in con.execute("SELECT sae_id FROM saes").fetchall()}
    finally:
        con.close()
    assert not problems, f"partly written data in {db}: {problems}"
    return present


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for an ingest (or reader) child: the repo importable, no network, quiet progress bars."""
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "TQDM_DISABLE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "OMP_NUM_THREADS": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def ingest_args(model: Path, folders: list[SaeFolder], db: Path, top_k: int, *extra: str) -> list[str]:
    args = [
        "run",
        "--model",
        str(model),
        "--db",
        str(db),
        "--device",
        "cpu",
        "--no-enrichment",
        "--top-k",
        str(top_k),
        "--chunk-size",
        "64",
    ]
    for folder in folders:
        args += ["--sae-dir", str(folder.path)]
    return args + list(extra)


def start_ingest(args: list[str], script: str | None = None, **popen_kwargs) -> subprocess.Popen:
    """`python -m ingest ARGS` (or a helper script wrapping the same entry point) as a child process."""
    command = [sys.executable, "-m", "ingest", *args] if script is None else [sys.executable, script, *args]
    return subprocess.Popen(
        command,
        cwd=REPO,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen_kwargs,
    )
