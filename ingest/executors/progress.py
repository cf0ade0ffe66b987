"""One progress bar for a run, whoever computes: features done, with the count of SAEs in its label."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType

from tqdm.auto import tqdm

from ingest.executors.jobs import SaeJob


class RunProgress:
    """``SAEs 3/10: 45%|####  | 73728/163840 feat``: features counted as ranges and SAEs finish."""

    def __init__(self, jobs: Sequence[SaeJob]) -> None:
        self.n_saes = len(jobs)
        self.saes = 0
        self.bar = tqdm(total=sum(job.d_sae for job in jobs), desc=self._label(), unit="feat", unit_scale=True)

    def _label(self) -> str:
        return f"SAEs {self.saes}/{self.n_saes}"

    def features_done(self, count: int) -> None:
        self.bar.update(count)

    def sae_done(self) -> None:
        self.saes += 1
        self.bar.set_description(self._label())

    def __enter__(self) -> RunProgress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.bar.close()
