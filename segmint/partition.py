"""Customer partitions: a shop's tables split so that every customer's rows land in one part.

Per-customer work (features, scoring) on a part then gives exactly that customer's result on the
whole shop, which is what lets a Dask cluster compute it part by part on separate workers.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from segmint.contracts import Tables
from segmint.features import customer_features, feature_columns, top_categories
from segmint.nlp import SentimentModel
from segmint.settings import FeatureSettings


def customer_partitions(tables: Tables, size: int) -> list[Tables]:
    """The tables split into parts of at most ``size`` distinct customers.

    Customers are taken in the order they first appear in ``customers``; every table with a
    ``customer_id`` column sends each row to its customer's part, keeping the rows' order. Tables
    without one (``products``) go whole to every part. Rows of customers that are not in
    ``customers`` are left out: no per-customer result depends on them.

    Raises:
        ValueError: ``size`` is not positive.
    """
    if size < 1:
        raise ValueError(f"a partition holds at least one customer, not {size}")
    known = pd.Index(pd.unique(tables.customers["customer_id"].astype(str).to_numpy()))
    n_parts = max(1, -(-len(known) // size))
    split: dict[str, list[pd.DataFrame]] = {}
    for name, frame in tables.items():
        if "customer_id" in frame.columns:
            position = known.get_indexer(frame["customer_id"].astype(str).to_numpy())
            split[name] = _rows_by_part(frame, np.where(position >= 0, position // size, -1), n_parts)
    return [
        dataclasses.replace(tables, **{name: parts[i] for name, parts in split.items()})
        for i in range(n_parts)
    ]


def _rows_by_part(frame: pd.DataFrame, part: np.ndarray, n_parts: int) -> list[pd.DataFrame]:
    """The rows of ``frame`` whose ``part`` is 0, 1, …, ``n_parts - 1``, each in the frame's order."""
    order = np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(n_parts + 1))
    return [frame.iloc[order[bounds[i] : bounds[i + 1]]] for i in range(n_parts)]


def features_are_per_customer(
    tables: Tables, settings: FeatureSettings, sentiment: SentimentModel | None
) -> bool:
    """Whether each customer's features depend on their own rows alone, so parts may compute them.

    Not when the reviews are unscored, there is no sentiment model, and there are enough reviews for
    :func:`~segmint.features.customer_features` to fit one on them: each part would fit its own.
    """
    reviews = tables.reviews
    return (
        sentiment is not None
        or reviews is None
        or "sentiment_score" in reviews.columns
        or len(reviews) < settings.sentiment_min_reviews
    )


def features_from_parts(
    tables: Tables, as_of: pd.Timestamp, settings: FeatureSettings, parts: list[pd.DataFrame]
) -> pd.DataFrame:
    """:func:`~segmint.features.customer_features` of ``tables`` from those of its customer partitions.

    The behavioural columns are the parts' (each depends on its customer's rows alone). The attribute
    columns are computed here from the whole ``customers`` table, because which one-hot levels exist
    depends on every customer. Rows and columns come in the order the whole computation gives.
    """
    whole = customer_features(Tables(customers=tables.customers, products=tables.products), as_of, settings)
    behaviour = feature_columns(settings, top_categories(tables.products, settings.top_categories))
    computed = pd.concat(parts, ignore_index=True).set_index("customer_id").reindex(whole["customer_id"])
    return whole.assign(**{name: computed[name].to_numpy() for name in behaviour})
