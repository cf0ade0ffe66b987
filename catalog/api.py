"""The catalog's Python API: typed helpers over the saved queries, and the console.

    from catalog.api import Catalog

    cat = Catalog("catalog.duckdb")
    skewed = cat.high_skew_features(layer=8, min_skewness=3)   # a QueryResult
    skewed.frame                                              # the rows, a pandas DataFrame
    skewed.truncated                                          # True if the limit cut rows off
    cat.quick_list_urls(skewed)                               # Neuronpedia quick list(s)
    cat.features_promoting_token(" Paris")
    cat.run("decoder_neighbours", sae="gpt2-small-res-jb/blocks.8.hook_resid_pre", feature=14215)
    cat.sql("SELECT layer, count(*) FROM feature_stats GROUP BY layer")
    pandas.read_sql(sqlalchemy.text("SELECT * FROM features WHERE skewness > :s"), cat.engine, params={"s": 3})

A ``Catalog`` holds only a path: every call opens the file read-only, runs, and closes it, so it
never blocks an ingest between calls. Each helper runs the saved query of the same name
(``sql/queries/<name>.sql``); its docstring is the query's description.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd
import sqlalchemy as sa

from catalog.connect import existing_catalog_path, read_engine
from catalog.errors import CatalogError
from catalog.neuronpedia import (
    DEFAULT_LIST_NAME,
    embed_url,
    feature_url,
    features_of,
    quick_list_url,
    quick_list_urls,
)
from catalog.queries import run_query
from catalog.result import QueryResult
from catalog.sandbox import DEFAULT_MAX_ROWS, DEFAULT_TIMEOUT_S, run_sql

Scope = Literal["sae", "layer", "model"]
Statistic = Literal["skewness", "kurtosis", "cos_skewness", "cos_kurtosis"]


class Catalog:
    """A catalog file, read through short-lived read-only connections."""

    def __init__(self, db_path: Path | str) -> None:
        self.db_path = existing_catalog_path(db_path)

    def __repr__(self) -> str:
        return f"Catalog({str(self.db_path)!r})"

    @property
    def engine(self) -> sa.Engine:
        """A read-only SQLAlchemy engine on the catalog, for your own SQL with bound parameters::

            pandas.read_sql(sqlalchemy.text("SELECT * FROM feature_stats WHERE layer = :layer"),
                            cat.engine, params={"layer": 8})

        It pools no connection (the file is free between queries); the views of ``sql/views.sql``
        are there as the last ingest wrote them.
        """
        return read_engine(self.db_path)

    def run(self, name: str, /, limit: int | None = None, **params: object) -> QueryResult:
        """Run any saved query by name; parameters as keywords."""
        return run_query(self.db_path, name, params, limit)

    def sql(
        self, statement: str, max_rows: int = DEFAULT_MAX_ROWS, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> QueryResult:
        """One read-only SELECT in the console sandbox (no files, no extensions, capped, timed)."""
        return run_sql(self.db_path, statement, max_rows=max_rows, timeout_s=timeout_s)

    # -- features ---------------------------------------------------------------------------
    def high_skew_features(
        self, layer: int, min_skewness: float = 3.0, sae: str | None = None, limit: int = 100
    ) -> QueryResult:
        """Features of one layer with skewness above min_skewness, most skewed first."""
        return self.run("high_skew_features", layer=layer, min_skewness=min_skewness, sae=sae, limit=limit)

    def dead_and_dense_features(
        self,
        which: Literal["dead", "dense", "both"] = "both",
        dead_below: float = -9.0,
        dense_above: float = -1.0,
        sae: str | None = None,
        layer: int | None = None,
        limit: int = 100,
    ) -> QueryResult:
        """Features whose log10 density is below dead_below (dead) or above dense_above (dense)."""
        return self.run(
            "dead_and_dense_features",
            which=which,
            dead_below=dead_below,
            dense_above=dense_above,
            sae=sae,
            layer=layer,
            limit=limit,
        )

    def feature_card(self, sae: str, feature: int) -> pd.Series:
        """Everything stored about one feature, as one row."""
        return self.run("feature_card", sae=sae, feature=feature).frame.iloc[0]

    def layer_percentiles(self, statistic: Statistic | None = None, model: str | None = None) -> QueryResult:
        """Percentiles 1..99 of skewness and kurtosis (and cosine variants) per SAE, in layer order."""
        return self.run("layer_percentiles", statistic=statistic, model=model)

    # -- token sets ------------------------------------------------------------------------
    def top_features_for_set(
        self,
        token_set: str,
        direction: int | None = None,
        layer: int | None = None,
        max_q: float | None = None,
        limit: int = 100,
    ) -> QueryResult:
        """Features most enriched for a token set across layers, by -ln(1 - d)."""
        return self.run(
            "top_features_for_set", token_set=token_set, direction=direction, layer=layer, max_q=max_q, limit=limit
        )

    def enriched_a_not_b(
        self, set_a: str, set_b: str, direction_a: int | None = None, layer: int | None = None, limit: int = 100
    ) -> QueryResult:
        """Features enriched for set_a but not set_b, ranked by score_a - score_b."""
        if set_a == set_b:
            raise CatalogError(f"enriched_a_not_b: set_a and set_b are both {set_a!r}; give two different sets")
        return self.run("enriched_a_not_b", set_a=set_a, set_b=set_b, direction_a=direction_a, layer=layer, limit=limit)

    def feature_enrichment(
        self, sae: str, feature: int, direction: int | None = None, min_size: int = 5, limit: int = 20
    ) -> QueryResult:
        """The token sets most significantly enriched for one feature (calibrated p, then d), sets of >= min_size."""
        return self.run(
            "feature_enrichment", sae=sae, feature=feature, direction=direction, min_size=min_size, limit=limit
        )

    def features_promoting_token(
        self,
        token: str,
        model: str | None = None,
        layer: int | None = None,
        direction: Literal["top", "bottom"] = "top",
        limit: int = 50,
    ) -> QueryResult:
        """Features that most promote (or suppress) ``token`` across SAEs, from the reverse token index
        (each SAE's ``token_index_k`` first are exact; ``index_rank`` counts them)."""
        return self.run(
            "features_promoting_token", token=token, model=model, layer=layer, direction=direction, limit=limit
        )

    # -- exact vector queries --------------------------------------------------------------
    def features_promoting_token_exact(
        self, token: str, model: str | None = None, layer: int | None = None, limit: int = 50
    ) -> QueryResult:
        """Features whose decoder most promotes ``token`` (exact W_dec . W_U[:, token] over every stored vector)."""
        return self.run("features_promoting_token_exact", token=token, model=model, layer=layer, limit=limit)

    def decoder_neighbours(self, sae: str, feature: int, scope: Scope = "model", limit: int = 50) -> QueryResult:
        """Features with the most similar decoder directions (cosine), in the SAE, layer or model."""
        return self.run("decoder_neighbours", sae=sae, feature=feature, scope=scope, limit=limit)

    def feature_logits(self, sae: str, feature: int, token_set: str | None = None) -> QueryResult:
        """One feature's logit weight for every token, with each token's sets (whole vocabulary)."""
        return self.run("feature_logits", sae=sae, feature=feature, token_set=token_set)

    # -- listings and links ----------------------------------------------------------------
    def saes(self, model: str | None = None) -> QueryResult:
        """The SAEs in the catalog, in layer order."""
        return self.run("saes", model=model)

    def token_sets(self, family: str | None = None, model: str | None = None) -> QueryResult:
        """The token sets, with family, size and definition."""
        return self.run("token_sets", family=family, model=model)

    def feature_links(self, sae: str, feature: int) -> dict[str, str]:
        """A feature's Neuronpedia page and embed URLs; an error when its SAE has no Neuronpedia id."""
        card = self.feature_card(sae, feature)
        if card["neuronpedia_id"] is None:
            raise CatalogError(
                f"SAE {sae!r} has no Neuronpedia id in catalog {self.db_path}, so feature {feature} has no links"
            )
        return {
            "url": feature_url(card["neuronpedia_id"], feature),
            "embed_url": embed_url(card["neuronpedia_id"], feature),
        }

    def quick_list_url(self, result: QueryResult | pd.DataFrame, name: str = DEFAULT_LIST_NAME) -> str:
        """One Neuronpedia quick list of a result's features (sae_id, feature columns); at most 150."""
        return quick_list_url(features_of(self.db_path, _frame(result)), name)

    def quick_list_urls(self, result: QueryResult | pd.DataFrame, name: str = DEFAULT_LIST_NAME) -> list[str]:
        """Quick lists of a result's features, split into lists of at most 150."""
        return quick_list_urls(features_of(self.db_path, _frame(result)), name)


def _frame(result: QueryResult | pd.DataFrame) -> pd.DataFrame:
    return result.frame if isinstance(result, QueryResult) else result
