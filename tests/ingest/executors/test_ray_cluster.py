"""The ingest on a real two-node Ray cluster on this machine, and what it survives.

One cluster per module (``ray.cluster_utils.Cluster``: a head and one more node, one CPU and a small
object store each), stopped by the object that started it whatever happens. Against catalogs that
a local run wrote (conftest):
- the Ray run (token set enrichment on, SAEs split into feature-range tasks) writes the identical catalog;
- a worker process killed in the middle of a task: the task is retried, the catalog is identical;
- an SAE file corrupted after validation: the run fails with the local run's error, nothing of it written;
- the driver (``python -m ingest run --executor ray --ray-address ...``) SIGKILLed mid-run: only
  whole SAEs are in the catalog, and a re-run writes exactly the missing ones.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

from ingest.errors import IngestInputError  # noqa: E402
from ingest.runner import IngestRunner  # noqa: E402
from tests.ingest.executors.catalog_equality import differences  # noqa: E402
from tests.reliability.support import REPO, present_saes, subprocess_env  # noqa: E402

OBJECT_STORE_BYTES = 80 * 2**20


@pytest.fixture(scope="module")
def cluster():
    """A head and a second node with one CPU each; this process joins it as the driver."""
    node = {"num_cpus": 1, "object_store_memory": OBJECT_STORE_BYTES}
    started = Cluster(initialize_head=True, head_node_args=node | {"include_dashboard": False})
    try:
        started.add_node(**node)
        started.wait_for_nodes()
        ray.init(address=started.address)
        yield started
    finally:
        ray.shutdown()
        started.shutdown()


def raylet_pids(cluster: Cluster) -> list[int]:
    return [info.process.pid for node in cluster.list_all_nodes() for info in node.all_processes["raylet"]]


def running_task_pids(cluster: Cluster, task_name: str) -> list[int]:
    """Worker processes of this cluster (children of its raylets) running ``task_name`` now."""
    pids = []
    for raylet in raylet_pids(cluster):
        for child in psutil.Process(raylet).children(recursive=True):
            try:
                if child.cmdline()[:1] == [f"ray::{task_name}"]:
                    pids.append(child.pid)
            except psutil.Error:
                continue  # it ended meanwhile
    return pids


def test_two_node_run_writes_the_local_runs_catalog(cluster, enriched, tiny_gpt2, tmp_path):
    assert [node["Alive"] for node in ray.nodes()] == [True, True]
    db = tmp_path / "ray.duckdb"
    # token set enrichment on; the 40- and 24-feature SAEs split into ranges of 16 features (and a
    # merge task each, which computes the q-values over the whole SAE)
    summary = IngestRunner(enriched.config(db, tiny_gpt2, executor="ray", split_features=16)).run()
    assert sorted(summary.written) == ["local/blocks.0.hook_resid_pre", "local/blocks.1.hook_resid_pre"]
    assert differences(enriched.reference, db) == []


def test_a_worker_killed_mid_task_is_retried_and_the_catalog_is_identical(cluster, faults, tiny_gpt2, tmp_path):
    db = tmp_path / "ray.duckdb"
    killed: list[int] = []
    done = threading.Event()

    def kill_the_first_running_task() -> None:
        while not done.is_set() and not killed:
            for pid in running_task_pids(cluster, "task_whole"):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_the_first_running_task, daemon=True)
    killer.start()
    try:
        summary = IngestRunner(faults.config(db, tiny_gpt2, executor="ray")).run()
    finally:
        done.set()
        killer.join(timeout=10)
    assert len(killed) == 1 and not psutil.pid_exists(killed[0])
    assert len(summary.written) == len(faults.folders)
    assert differences(faults.reference, db) == []


def corrupt_after_validation(monkeypatch, folder: Path) -> None:
    """Truncate `folder`'s weights right after the run validated every SAE, before any is computed."""
    plan = IngestRunner._plan_jobs

    def plan_then_corrupt(self, *args):
        jobs = plan(self, *args)
        weights = folder / "sae_weights.safetensors"
        weights.write_bytes(weights.read_bytes()[:100])
        return jobs

    monkeypatch.setattr(IngestRunner, "_plan_jobs", plan_then_corrupt)


def test_a_corrupt_sae_fails_the_run_with_the_local_error_and_writes_nothing_of_it(
    cluster, faults, tiny_gpt2, tmp_path, monkeypatch
):
    errors = {}
    for executor in ("local", "ray"):
        folders = []
        for folder in faults.folders[:3]:
            copy = tmp_path / executor / folder.name
            copy.mkdir(parents=True)
            for file in folder.iterdir():
                (copy / file.name).write_bytes(file.read_bytes())
            folders.append(copy)
        corrupt_after_validation(monkeypatch, folders[1])
        db = tmp_path / f"{executor}.duckdb"
        # with Ray, each SAE is two range tasks and a merge: the failed range fails its SAE
        config = faults.config(db, tiny_gpt2, sae_dirs=folders, executor=executor, split_features=128)
        with pytest.raises(IngestInputError) as error:
            IngestRunner(config).run()
        errors[executor] = str(error.value).replace(str(tmp_path / executor), "DIR")
        # every SAE present is whole; a run that failed before writing any removed the file it created
        present = present_saes(db, faults.options["top_k"]) if db.exists() else set()
        assert "local/blocks.1.hook_resid_pre" not in present
    assert errors["ray"] == errors["local"]
    assert "DIR/blocks.1.hook_resid_pre/sae_weights.safetensors could not be read as safetensors" in errors["ray"]


def ingest_child(args: list[str]) -> subprocess.Popen:
    command = [sys.executable, "-m", "ingest", *args]
    return subprocess.Popen(command, cwd=REPO, env=subprocess_env(), stderr=subprocess.PIPE, text=True)


def test_the_driver_killed_mid_run_leaves_whole_saes_and_a_rerun_writes_the_missing_ones(
    cluster, faults, tiny_gpt2, tmp_path
):
    db = tmp_path / "ray.duckdb"
    args = faults.cli_args(db, tiny_gpt2, "--executor", "ray", "--ray-address", cluster.address)
    driver = ingest_child(args)
    try:
        assert driver.stderr is not None
        for line in driver.stderr:  # the driver logs each SAE it commits
            if "features written" in line:
                break
        driver.send_signal(signal.SIGKILL)
    finally:
        driver.kill()
        driver.wait(timeout=60)
    assert driver.returncode == -signal.SIGKILL
    present = present_saes(db, faults.options["top_k"])  # each SAE whole or absent
    assert 1 <= len(present) < len(faults.folders)
    # the re-run (Ray again, from this process) computes exactly the missing SAEs
    summary = IngestRunner(faults.config(db, tiny_gpt2, executor="ray")).run()
    assert sorted(summary.skipped) == sorted(present)
    assert len(summary.written) == len(faults.folders) - len(present) and not set(summary.written) & present
    assert differences(faults.reference, db) == []
