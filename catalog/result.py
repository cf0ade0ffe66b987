"""What a query returns: its rows, and whether a row cap cut them short."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

MAX_LIMIT = 1_000_000  # rows; above every vocabulary size, so one feature's full logit vector fits


@dataclass(frozen=True)
class QueryResult:
    """Rows of a saved query or a console statement.

    ``truncated`` is True when more than ``limit`` rows matched and only the first ``limit`` are
    in ``frame``; ``notice()`` says so in words, for printing.
    """

    frame: pd.DataFrame
    limit: int
    truncated: bool
    source: str  # the saved query's name, or 'sql' for the console
    params: Mapping[str, object] = field(default_factory=dict)
    seconds: float = 0.0

    @classmethod
    def from_rows(
        cls, frame: pd.DataFrame, limit: int, source: str, params: Mapping[str, object], seconds: float
    ) -> QueryResult:
        """Build from up to ``limit + 1`` fetched rows: one more than the cap means "there were more"."""
        truncated = len(frame) > limit
        if truncated:
            frame = frame.iloc[:limit].reset_index(drop=True)
        return cls(frame, limit, truncated, source, dict(params), seconds)

    def notice(self) -> str | None:
        """A sentence for the user when rows were cut off; None when the result is complete."""
        if not self.truncated:
            return None
        return (
            f"{self.source}: showing the first {self.limit} rows; more rows matched. "
            f"Raise the limit (at most {MAX_LIMIT:,}) or narrow the filters to see them."
        )
