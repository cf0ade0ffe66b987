"""Token set enrichment within an ingest run: the library, its calibration null, and the p/q-values.

Three numbers qualify each (feature, set) score d:
- ``p_value``: the KS asymptotic p-value with n_eff = k(V-k)/V. It assumes tokens are exchangeable,
  which lexically coherent sets are not, so it is far too optimistic; keep it as a description.
- ``p_null``: the fraction of random unit directions of the residual stream, pushed through the same
  W_U, whose d for that set is at least as large ((1 + count) / (1 + N)); never below 1/(N+1).
- ``p_calibrated``: p_null within the null's body, a tail model fitted to the null beyond it
  (``ingest.analysis.null.fit_tails``), so it resolves far below 1/(N+1). The one to test with.
- ``q_value``: Benjamini-Hochberg over p_calibrated across all (feature, set) pairs of one SAE.

The null's fit and the calibrated p-values of held-out random directions (another seed) are stored
with the null in ``enrichment_null``, so that a reader can reproduce p_calibrated and check its calibration.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import torch

from catalog.token_set_store import (
    TokenSetRow,
    load_null,
    load_null_fit_state,
    sync_token_sets,
    write_null,
    write_null_fit,
)
from ingest.analysis.enrichment import SetIndex, SetScorer, enrichment_scores, ks_p_values
from ingest.analysis.null import (
    TailFit,
    benjamini_hochberg,
    fit_tails,
    null_d_values,
    p_calibrated,
    p_null,
    random_unit_directions,
)
from ingest.sources.vocabulary import Vocabulary
from ingest.token_sets import TokenSetLibrary, build_library

log = logging.getLogger(__name__)

CatalogOpener = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]


@dataclass(frozen=True)
class EnrichmentContext:
    set_ids: np.ndarray  # [n_sets] catalog ids, in the order of the score columns
    set_names: list[str]
    index: SetIndex
    null_sorted: np.ndarray  # [n_sets, n_directions] ascending
    fit: TailFit  # the tail model of each set's null

    @property
    def n_sets(self) -> int:
        return len(self.set_ids)

    @property
    def score(self) -> SetScorer:
        """logits [n, V] -> (d, direction); a SetScorer, so that analyze_sae scores each row from its one sort."""
        return SetScorer(self.index)

    def significance(self, d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """d [d_sae, n_sets] -> (p_value, p_null, p_calibrated, q_value), each [d_sae, n_sets]."""
        p_values = ks_p_values(d, self.index.set_sizes, self.index.vocab_size)
        empirical = p_null(d, self.null_sorted)
        calibrated = p_calibrated(d, self.null_sorted, self.fit)
        return p_values, empirical, calibrated, benjamini_hochberg(calibrated)


def library_rows(library: TokenSetLibrary) -> list[TokenSetRow]:
    return [
        TokenSetRow(
            name=s.name, family=s.family, definition=s.definition, token_ids=s.token_ids, dropped_words=tuple(s.dropped)
        )
        for s in library.sets
    ]


def build_token_sets(vocab: Vocabulary, user_file: Path | None) -> TokenSetLibrary:
    library = build_library(vocab, user_file)
    for warning in library.warnings:
        log.warning("%s", warning)
    return library


def holdout_seed(seed: int) -> int:
    """The seed of the held-out directions stored with a null drawn with `seed` (never the same stream)."""
    return seed + 1


def holdout_p_values(
    W_U: torch.Tensor,
    index: SetIndex,
    null_sorted: np.ndarray,
    fit: TailFit,
    n_directions: int,
    seed: int,
    desc: str = "held-out null",
) -> np.ndarray:
    """p_calibrated of `n_directions` random unit directions drawn with `seed` -> [n_sets, n_directions]."""
    d_model = W_U.shape[0]
    directions = random_unit_directions(d_model, n_directions, seed)
    d = np.empty((n_directions, index.n_sets))
    for start in range(0, n_directions, 256):
        chunk = directions[start : start + 256].to(device=W_U.device, dtype=W_U.dtype)
        d[start : start + chunk.shape[0]] = enrichment_scores(chunk @ W_U, index)[0].cpu().numpy()
    return p_calibrated(d, null_sorted, fit).T


def prepare_enrichment(
    catalog: CatalogOpener,
    model_name: str,
    W_U: torch.Tensor,
    library: TokenSetLibrary,
    n_directions: int,
    seed: int,
    device: torch.device,
    rescore_hint: str | None = None,
    n_holdout: int = 1024,
) -> EnrichmentContext:
    """Sync the library into the catalog and load (or compute and store) its null distribution, its
    tail fit and the calibrated p-values of `n_holdout` held-out directions.

    The catalog is opened only for the short reads and writes, never while the null is computed.
    ``rescore_hint`` is the command that rescores the SAEs this run leaves out, said when sets changed.
    """
    with catalog() as con:
        sync = sync_token_sets(con, model_name, library_rows(library))
        set_ids = np.array([sync.set_ids[s.name] for s in library.sets], dtype=np.int64)
        stored = load_null(con, model_name, set_ids.tolist(), seed, n_directions)
    if sync.changed:
        hint = f" (rescore the other SAEs with `{rescore_hint}`)" if rescore_hint else ""
        log.info(
            "token sets changed since they were stored: %s; their old enrichment rows were removed%s",
            ", ".join(sync.changed),
            hint,
        )
    index = SetIndex.build([s.token_ids for s in library.sets], W_U.shape[1])
    missing = [i for i, set_id in enumerate(set_ids) if int(set_id) not in stored]
    null_sorted = np.empty((len(set_ids), n_directions), dtype=np.float64)
    for i, set_id in enumerate(set_ids):
        if int(set_id) in stored:
            null_sorted[i] = stored[int(set_id)]
    if missing:
        sub_index = SetIndex.build([library.sets[i].token_ids for i in missing], W_U.shape[1])
        computed = null_d_values(W_U.to(device), sub_index, n_directions=n_directions, seed=seed)
        null_sorted[missing] = computed
        with catalog() as con:
            write_null(con, model_name, set_ids[missing].tolist(), computed, seed)
    fit = fit_tails(null_sorted, index.set_sizes, index.vocab_size)
    with catalog() as con:
        has_holdout = load_null_fit_state(con, model_name, set_ids.tolist(), holdout_seed(seed), n_holdout)
    need = [i for i, set_id in enumerate(set_ids) if not has_holdout.get(int(set_id), False)]
    holdout: np.ndarray | None = None
    if need and n_holdout > 0:
        sub = SetIndex.build([library.sets[i].token_ids for i in need], W_U.shape[1])
        sub_fit = TailFit(*(np.asarray(getattr(fit, f))[need] for f in TailFit.__dataclass_fields__))
        holdout = holdout_p_values(W_U.to(device), sub, null_sorted[need], sub_fit, n_holdout, holdout_seed(seed))
    with catalog() as con:
        write_null_fit(con, model_name, set_ids.tolist(), fit, need, holdout, holdout_seed(seed))
    return EnrichmentContext(
        set_ids=set_ids, set_names=[s.name for s in library.sets], index=index, null_sorted=null_sorted, fit=fit
    )
