"""The local executor: the driver's own process computes the planned SAEs one after another."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch

from ingest.executors.jobs import SaeJob, SaeResult, compute_whole
from ingest.executors.progress import RunProgress
from ingest.pipeline import SaePipeline


class LocalExecutor:
    """Computes each SAE in this process, on the pipeline's device; yields it before computing the next."""

    def results(self, jobs: Sequence[SaeJob], pipeline: SaePipeline, W_U: torch.Tensor) -> Iterator[SaeResult]:
        with RunProgress(jobs) as progress:
            for job in jobs:
                result = compute_whole(job, pipeline, W_U)
                progress.features_done(job.d_sae)
                progress.sae_done()
                yield result
