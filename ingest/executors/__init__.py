"""Executors: where the SAEs of a run are computed, chosen with ``--executor local|ray``.

The runner (``ingest.runner``) plans the run on the driver: it validates every SAE, skips those the
catalog already holds, and hands the rest to an executor as ``SaeJob``s. The executor yields one
``(record, rows)`` per SAE, as each is ready, and the driver commits each in one transaction: the
catalog has a single writer whatever computes, so DuckDB stays single-writer and readers keep
browsing during the run.

- ``local`` (the default): the driver's process computes the SAEs one after another (on a GPU the
  next one while the driver writes the one before).
- ``ray``: each SAE is a Ray task (an SAE wider than ``--split-features`` is split into feature-range
  tasks merged by one more task); the unembedding is put into the object store once. Ray is an
  optional extra, imported only here and only when asked for.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Protocol

import torch

from ingest.config import EXECUTOR_CHOICES, IngestConfig
from ingest.executors.jobs import SaeJob, SaeResult
from ingest.pipeline import SaePipeline

__all__ = ["EXECUTOR_CHOICES", "Executor", "SaeJob", "SaeResult", "driver_config", "make_executor"]


class Executor(Protocol):
    """Computes planned SAE jobs and yields each SAE's record and rows for the single writer."""

    def results(self, jobs: Sequence[SaeJob], pipeline: SaePipeline, W_U: torch.Tensor) -> Iterator[SaeResult]:
        """``W_U [d_model, d_vocab]``; one result per job, in any order. Closing the iterator early
        (the writer failed) stops the work still running."""
        ...


def make_executor(config: IngestConfig) -> Executor:
    """The executor a validated config asks for (Ray is imported only when its executor runs)."""
    if config.executor == "ray":
        from ingest.executors.ray_executor import RayExecutor

        return RayExecutor(config.ray_address, config.device, config.chunk_size, config.split_features)
    from ingest.executors.local import LocalExecutor

    return LocalExecutor()


def driver_config(config: IngestConfig) -> IngestConfig:
    """The config the driver computes with (the null, the model's processing). A Ray run may ask its
    workers for CUDA from a driver (a cluster's head) that has none: the driver then uses its own best device."""
    if config.executor == "ray" and config.device == "cuda" and not torch.cuda.is_available():
        return replace(config, device="auto")
    return config
