"""The Ray executor: the SAEs of a run computed as Ray tasks across a cluster, written by the driver.

    llcat-ingest run --release gemma-scope-2b-pt-res --executor ray --ray-address auto --device cuda

- Each SAE is one task; an SAE wider than ``split_features`` is split into feature-range tasks
  (starting at multiples of the chunk size) whose analyses one more task merges before computing
  the tables, since q-values are Benjamini-Hochberg over the whole SAE.
- The unembedding ``W_U`` and the pipeline (with the token set library and its null) are put into
  the object store once and shared by every task; a worker loads only its SAE, through the loader the
  driver validated it with, and returns the SAE's rows as Arrow tables.
- The driver is the catalog's only writer: it commits each SAE in one transaction as its result
  arrives, so the catalog holds only whole SAEs whatever dies, and a re-run computes the missing ones.
- Tasks ask for a GPU when the run asks for CUDA (``--device cuda``, or ``auto`` on a cluster that
  has GPUs). A task whose worker dies is retried (``MAX_RETRIES``); a task that fails on bad input is
  not, and the run fails with the error the local run gives.
- At most ``2 x`` (the cluster's GPUs or CPUs) SAEs are in flight, so results wait in the object store
  only as long as the writer needs to catch up.

Ray is imported only when this executor runs (``pip install 'logit-lens-catalog[ray]'``). Workers
import this package: on a cluster it must be installed on every node (docs/cluster/), on a local
cluster they inherit the driver's environment (``PYTHONPATH`` included).
"""

from __future__ import annotations

import logging
import os
import socket
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any

import numpy as np
import torch

from catalog.errors import CatalogError
from ingest.config import DEFAULT_CHUNK_SIZE, resolve_device
from ingest.errors import IngestInputError
from ingest.executors.jobs import (
    RangeAnalysis,
    SaeJob,
    SaeResult,
    analyse_range,
    compute_whole,
    feature_ranges,
    finish_split,
    split_alignment,
)
from ingest.executors.progress import RunProgress
from ingest.pipeline import SaePipeline

log = logging.getLogger(__name__)

MAX_RETRIES = 3  # a task whose worker process dies is run again this many times
WORKER_ENV = {"env_vars": {"TQDM_DISABLE": "1"}}
RAY_MISSING = (
    "--executor ray needs Ray, which is not installed; install it with "
    "pip install 'logit-lens-catalog[ray]' (or run with --executor local)"
)


def require_ray() -> ModuleType:
    """The ``ray`` module, or an error that says how to install it."""
    try:
        import ray
    except ImportError as error:
        raise IngestInputError(RAY_MISSING) from error
    return ray


def workers_never_open_the_catalog() -> Any:
    """The catalog opener of the pipeline shipped to workers: the driver is the only writer."""
    raise RuntimeError("a Ray worker tried to open the catalog; only the driver writes it")


# --- on the workers ------------------------------------------------------------------------------


def _on_this_worker(pipeline: SaePipeline, device_request: str, chunk_size: int | None) -> SaePipeline:
    """The pipeline on the device this worker was given (resolved here, not on the driver)."""
    device = resolve_device(device_request)
    return replace(pipeline, device=device, chunk_size=chunk_size or DEFAULT_CHUNK_SIZE[device.type])


def _unembedding(W_U_array: np.ndarray) -> torch.Tensor:
    """``W_U [d_model, d_vocab]`` over the object store's read-only buffer (no copy; never written)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(W_U_array)


def task_whole(
    job: SaeJob, pipeline: SaePipeline, device_request: str, chunk_size: int | None, W_U_array: np.ndarray
) -> SaeResult:
    return compute_whole(job, _on_this_worker(pipeline, device_request, chunk_size), _unembedding(W_U_array))


def task_range(
    job: SaeJob,
    start: int,
    stop: int,
    pipeline: SaePipeline,
    device_request: str,
    chunk_size: int | None,
    W_U_array: np.ndarray,
) -> RangeAnalysis:
    worker = _on_this_worker(pipeline, device_request, chunk_size)
    return analyse_range(job, start, stop, worker, _unembedding(W_U_array))


def task_finish(job: SaeJob, pipeline: SaePipeline, *parts: RangeAnalysis) -> SaeResult:
    return finish_split(job, pipeline, list(parts))


# --- on the driver -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pending:
    job: SaeJob
    features: int  # features this ref completes (0 for the merge of a split SAE)
    final: bool  # its value is the SAE's (record, rows)


REACH_TIMEOUT_S = 5.0


def check_reachable(address: str, timeout_s: float = REACH_TIMEOUT_S) -> None:
    """A ConnectionError within timeout_s when nothing listens at a ``host:port`` (or ``ray://host:port``)
    address: ``ray.init`` itself retries such an address silently for minutes. ``auto`` and addresses
    without a port are left to Ray."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except OSError as error:
        raise ConnectionError(f"nothing answered at {host}:{port} within {timeout_s:.0f} s: {error}") from error


class RayExecutor:
    """Runs the jobs as Ray tasks on the cluster at ``address`` (None: one on this machine, or the
    cluster ``ray.init`` already joined)."""

    def __init__(self, address: str | None, device: str, chunk_size: int | None, split_features: int | None) -> None:
        require_ray()  # missing Ray is said before anything is loaded or written
        self.address = address
        self.device = device
        self.chunk_size = chunk_size
        self.split_features = split_features

    def results(self, jobs: Sequence[SaeJob], pipeline: SaePipeline, W_U: torch.Tensor) -> Iterator[SaeResult]:
        ray = require_ray()
        started_here = self._connect(ray)
        try:
            yield from self._results(ray, jobs, pipeline, W_U)
        finally:
            if started_here:
                ray.shutdown()

    def _connect(self, ray: ModuleType) -> bool:
        """Join the cluster (or start one here); True when this call started Ray and must stop it."""
        if ray.is_initialized():
            return False
        address = self.address or os.environ.get("RAY_ADDRESS")
        try:
            if address is None:
                ray.init(include_dashboard=False, log_to_driver=True)
            else:
                check_reachable(address)
                ray.init(address=self.address, log_to_driver=True)
        except ConnectionError as error:
            raise IngestInputError(
                f"--ray-address {self.address or os.environ.get('RAY_ADDRESS')}: no Ray cluster answered ({error}); "
                "start one (`ray start --head`, `ray up docs/cluster/gpu-cluster.yaml`) or leave --ray-address "
                "out to start Ray on this machine"
            ) from error
        return True

    def _task_resources(self, ray: ModuleType) -> tuple[dict[str, float], str, int]:
        """(resources of a compute task, the device workers resolve, slots the cluster has for them)."""
        cluster = ray.cluster_resources()
        gpus, cpus = int(cluster.get("GPU", 0)), int(cluster.get("CPU", 1))
        if self.device == "cuda" or (self.device == "auto" and gpus > 0):
            if gpus == 0:
                log.info("note: the run asks for CUDA but the cluster has no GPU yet; tasks wait for GPU workers")
            return {"num_cpus": 1, "num_gpus": 1}, "cuda", max(gpus, 1)
        return {"num_cpus": 1, "num_gpus": 0}, "cpu", max(cpus, 1)

    def _results(
        self, ray: ModuleType, jobs: Sequence[SaeJob], pipeline: SaePipeline, W_U: torch.Tensor
    ) -> Iterator[SaeResult]:
        resources, device, slots = self._task_resources(ray)
        # per-SAE progress bars of many workers would flood the driver's log: the driver shows one for all
        retries = {"max_retries": MAX_RETRIES, "retry_exceptions": False, "runtime_env": WORKER_ENV}
        whole = ray.remote(task_whole).options(**resources, **retries)
        ranged = ray.remote(task_range).options(**resources, **retries)
        finish = ray.remote(task_finish).options(num_cpus=1, num_gpus=0, **retries)
        pipeline_ref = ray.put(replace(pipeline, catalog=workers_never_open_the_catalog))
        W_U_ref = ray.put(W_U.detach().cpu().numpy())  # once, shared by every task
        alignment = split_alignment(self.chunk_size)
        compute = (pipeline_ref, device, self.chunk_size, W_U_ref)

        def submit(job: SaeJob) -> dict[Any, _Pending]:
            ranges = feature_ranges(job.d_sae, self.split_features, alignment)
            if len(ranges) == 1:
                return {whole.remote(job, *compute): _Pending(job, job.d_sae, final=True)}
            parts = {
                ranged.remote(job, start, stop, *compute): _Pending(job, stop - start, False) for start, stop in ranges
            }
            return parts | {finish.remote(job, pipeline_ref, *parts): _Pending(job, 0, final=True)}

        waiting = list(reversed(jobs))
        pending: dict[Any, _Pending] = {}
        in_flight = 0
        try:
            with RunProgress(jobs) as progress:
                while waiting or pending:
                    while waiting and in_flight < 2 * slots:
                        pending |= submit(waiting.pop())
                        in_flight += 1
                    [ready], _ = ray.wait(list(pending), num_returns=1)
                    done = pending.pop(ready)
                    progress.features_done(done.features)
                    if done.final:
                        result = self._get(ray, ready, done.job)
                        in_flight -= 1
                        progress.sae_done()
                        yield result
        finally:
            for ref in pending:  # the run failed or the writer stopped: leave no work behind
                ray.cancel(ref)

    @staticmethod
    def _get(ray: ModuleType, ref: Any, job: SaeJob) -> SaeResult:
        """The task's result; its own error when it failed on input, as the local run raises it."""
        try:
            result: SaeResult = ray.get(ref)
        except ray.exceptions.RayTaskError as error:
            cause = getattr(error, "cause", None)
            if isinstance(cause, IngestInputError | CatalogError):
                raise cause from None
            raise
        except ray.exceptions.WorkerCrashedError as error:
            raise RuntimeError(
                f"the Ray workers computing SAE {job.sae_id} died {MAX_RETRIES + 1} times (out of memory?); "
                "nothing of it was written: re-run to compute the missing SAEs"
            ) from error
        return result
