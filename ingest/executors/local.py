"""The local executor: the driver's own process computes the planned SAEs one after another.

On a GPU the next SAE is computed in a thread while the driver writes the one before: the write is
CPU and disk work, up to 43 % of a Gemma-shaped SAE's time on an H200 with every table stored
(README, "On a GPU"), and the GPU would otherwise idle through it. On a CPU the compute already
keeps every core busy, so the overlap would gain little and hold two SAEs' rows in memory: off.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing

import torch

from ingest.executors.jobs import SaeJob, SaeResult, compute_whole
from ingest.executors.progress import RunProgress
from ingest.pipeline import SaePipeline


class LocalExecutor:
    """Computes each SAE in this process, on the pipeline's device, and yields them in order.

    overlap: compute the next SAE while the caller writes this one (None: on CUDA only)."""

    def __init__(self, overlap: bool | None = None) -> None:
        self.overlap = overlap

    def results(self, jobs: Sequence[SaeJob], pipeline: SaePipeline, W_U: torch.Tensor) -> Iterator[SaeResult]:
        computed: Generator[SaeResult, None, None] = (
            overlapped(jobs, pipeline, W_U)
            if self._overlaps(pipeline)
            else (compute_whole(job, pipeline, W_U) for job in jobs)
        )
        with RunProgress(jobs) as progress, closing(computed):
            for job, result in zip(jobs, computed, strict=True):
                progress.features_done(job.d_sae)
                progress.sae_done()
                yield result

    def _overlaps(self, pipeline: SaePipeline) -> bool:
        return pipeline.device.type == "cuda" if self.overlap is None else self.overlap


def overlapped(jobs: Sequence[SaeJob], pipeline: SaePipeline, W_U: torch.Tensor) -> Generator[SaeResult, None, None]:
    """``compute_whole`` of each job in order, in one thread, the next job started before this one is
    yielded. An error of a job surfaces when its turn comes, after every job before it was yielded;
    closed early (the writer failed), it waits for the job in flight and starts no other."""
    with ThreadPoolExecutor(1, thread_name_prefix="compute") as pool:
        pending: Future[SaeResult] | None = pool.submit(compute_whole, jobs[0], pipeline, W_U) if jobs else None
        for position in range(len(jobs)):
            assert pending is not None
            result = pending.result()
            following = position + 1
            pending = pool.submit(compute_whole, jobs[following], pipeline, W_U) if following < len(jobs) else None
            yield result
