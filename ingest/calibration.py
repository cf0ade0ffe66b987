"""``llcat-ingest calibration``: is a catalog's p_calibrated uniform on random directions it was not fitted to?

For each model and set family, the fraction of held-out null p-values below 0.01, 0.001 and 1e-4,
against the nominal level. By default the held-out p-values stored with the null at ingest
(``enrichment_null.holdout_p``) are read; ``--directions N`` draws N fresh random directions (another
seed) through the stored unembedding and scores them against the stored null and its tail fit: no
weights needed, memory bounded by the chunk size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from catalog.connect import open_read_only
from catalog.vectors import load_unembed
from ingest.analysis.enrichment import SetIndex, enrichment_scores
from ingest.analysis.null import TailFit, p_calibrated, random_unit_directions
from ingest.errors import IngestInputError

LEVELS = (1e-2, 1e-3, 1e-4)


@dataclass(frozen=True)
class FamilyCalibration:
    model_name: str
    family: str
    n_sets: int
    n_p: int  # held-out p-values pooled over the family's sets
    below: tuple[int, ...]  # how many fell below each of LEVELS

    def ratio(self, i: int) -> float:
        return self.below[i] / (self.n_p * LEVELS[i]) if self.n_p else float("nan")


def family_table(model_name: str, families: list[str], p: np.ndarray) -> list[FamilyCalibration]:
    """p [n_sets, n_directions] held-out calibrated p-values, families [n_sets] -> one row per family."""
    rows = []
    fam = np.asarray(families)
    for family in sorted(set(families)):
        pooled = p[fam == family].ravel()
        pooled = pooled[~np.isnan(pooled)]
        rows.append(
            FamilyCalibration(
                model_name,
                family,
                int((fam == family).sum()),
                int(pooled.size),
                tuple(int((pooled < level).sum()) for level in LEVELS),
            )
        )
    return rows


def format_table(rows: list[FamilyCalibration]) -> str:
    head = f"{'model':18s} {'family':14s} {'sets':>5s} {'p-values':>10s}" + "".join(
        f" {'<' + format(level, 'g'):>8s} {'obs/nom':>7s}" for level in LEVELS
    )
    lines = [head]
    for r in rows:
        cells = "".join(f" {r.below[i]:8d} {r.ratio(i):7.2f}" for i in range(len(LEVELS)))
        lines.append(f"{r.model_name:18s} {r.family:14s} {r.n_sets:5d} {r.n_p:10d}" + cells)
    return "\n".join(lines)


def _stored(db: Path, model: str | None) -> list[tuple[str, list[str], list[int], np.ndarray, TailFit, list]]:
    con = open_read_only(db)
    try:
        rows = con.execute(
            "SELECT n.model_name, ts.family, ts.size, n.set_id, n.d_values, n.tail_resolution, n.tail_threshold,"
            " n.tail_mass, n.tail_rate, n.tail_curvature, n.tail_exceedances, n.holdout_p"
            " FROM enrichment_null AS n JOIN token_sets AS ts USING (set_id)"
            " WHERE ($model IS NULL OR n.model_name = $model) ORDER BY n.model_name, n.set_id",
            {"model": model},
        ).fetchall()
    finally:
        con.close()
    if not rows:
        which = f"model {model!r}" if model else "any model"
        raise IngestInputError(
            f"catalog {db} holds no enrichment null for {which}; build or rescore it with "
            f"`llcat-ingest rescore --db {db}` (or pass --model with one the catalog holds)"
        )
    if any(r[10] is None for r in rows):
        raise IngestInputError(
            f"catalog {db} has no tail fit for its null yet (written before schema version 3); "
            f"fill it with `llcat-ingest rescore --db {db}` first"
        )
    out = []
    for model_name in dict.fromkeys(r[0] for r in rows):
        mine = [r for r in rows if r[0] == model_name]
        resolution, threshold, tail_mass, rate, curvature = (
            np.array([np.nan if r[i] is None else r[i] for r in mine], dtype=np.float64) for i in range(5, 10)
        )
        fit = TailFit(
            resolution, threshold, tail_mass, rate, curvature, np.array([r[10] for r in mine], dtype=np.int64)
        )
        null_sorted = np.array([r[4] for r in mine], dtype=np.float64)
        out.append(
            (model_name, [r[1] for r in mine], [r[2] for r in mine], null_sorted, fit, [(r[3], r[11]) for r in mine])
        )
    return out


def calibration_rows(
    db: Path,
    model: str | None = None,
    directions: int = 0,
    seed: int = 1_000_003,
    chunk_size: int = 256,
    device: torch.device | None = None,
) -> list[FamilyCalibration]:
    """The calibration table of catalog `db`: stored held-out p-values, or `directions` fresh ones."""
    if directions < 0:
        raise IngestInputError(
            f"--directions {directions} must be 0 (read the stored held-out p-values) or a "
            "positive number of fresh random directions"
        )
    if chunk_size <= 0:
        raise IngestInputError(f"--chunk-size {chunk_size} must be a positive number of directions")
    rows: list[FamilyCalibration] = []
    for model_name, families, _sizes, null_sorted, fit, stored in _stored(Path(db), model):
        if directions == 0:
            if any(p is None for _, p in stored):
                raise IngestInputError(
                    f"catalog {db} stores no held-out p-values for model {model_name!r}; compute "
                    "fresh ones with --directions N (e.g. 8192), or rescore with --null-holdout N"
                )
            n = min(len(p) for _, p in stored)
            p = np.array([np.asarray(p[:n], dtype=np.float64) for _, p in stored])
        else:
            con = open_read_only(db)
            try:
                W_U = torch.from_numpy(load_unembed(con, model_name)).T.contiguous()
                members = [
                    np.asarray(
                        con.execute(
                            "SELECT token_id FROM token_set_members WHERE set_id = $s ORDER BY token_id", {"s": s}
                        ).fetchnumpy()["token_id"],
                        dtype=np.int64,
                    )
                    for s, _ in stored
                ]
            finally:
                con.close()
            if device is not None:
                W_U = W_U.to(device)
            index = SetIndex.build(members, W_U.shape[1])
            dirs = random_unit_directions(W_U.shape[0], directions, seed)
            p = np.empty((len(stored), directions))
            for start in tqdm(
                range(0, directions, chunk_size), desc=f"{model_name} held-out directions", unit="chunk", leave=False
            ):
                chunk = dirs[start : start + chunk_size].to(device=W_U.device, dtype=W_U.dtype)
                d = enrichment_scores(chunk @ W_U, index)[0].cpu().numpy()
                p[:, start : start + chunk.shape[0]] = p_calibrated(d, null_sorted, fit).T
        rows.extend(family_table(model_name, families, p))
    return rows
