"""Customer partitions: every customer's rows in one part, and features from parts equal the whole's."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from segmint.features import customer_features
from segmint.partition import customer_partitions, features_are_per_customer, features_from_parts
from segmint.settings import FeatureSettings
from tasks.dask_cluster import map_partitions


def test_parts_hold_each_customer_with_all_their_rows(small_shop) -> None:
    tables = small_shop.tables
    parts = customer_partitions(tables, 600)
    assert len(parts) == 4  # 2,000 customers
    seen: set[str] = set()
    for part in parts:
        ids = set(part.customers["customer_id"].astype(str))
        assert len(ids) <= 600 and not ids & seen
        seen |= ids
        for name in ("orders", "events", "reviews", "campaigns"):
            assert set(part.get(name)["customer_id"].astype(str)) <= ids
        assert part.products is tables.products
    assert seen == set(tables.customers["customer_id"].astype(str))
    for name in ("orders", "events", "reviews", "campaigns"):
        whole = tables.get(name)
        stacked = pd.concat([part.get(name) for part in parts])
        assert len(stacked) == len(whole)
        for part in parts:  # rows keep the table's order inside each part
            rows = part.get(name).index
            assert rows.equals(whole.index[whole.index.isin(rows)])


def test_features_from_parts_equal_the_whole_computation(small_shop) -> None:
    customers = small_shop.tables.customers
    # A level only the last customers have: a per-part one-hot encoding would miss its column.
    plan = np.where(np.arange(len(customers)) >= len(customers) - 3, "gold", "basic")
    tables = dataclasses.replace(small_shop.tables, customers=customers.assign(plan=plan))
    settings = FeatureSettings()
    # Unscored reviews: each part would fit its own sentiment model, so they may not be split.
    assert not features_are_per_customer(tables, settings, None)
    reviews = tables.reviews.assign(sentiment_score=(tables.reviews["rating"] - 3.0) / 2.0)
    tables = dataclasses.replace(tables, reviews=reviews)
    assert features_are_per_customer(tables, settings, None)
    as_of = pd.Timestamp(tables.orders["ts"].max()) - pd.Timedelta(days=30)
    whole = customer_features(tables, as_of, settings)
    assert "plan__gold" in whole.columns
    parts = customer_partitions(dataclasses.replace(tables, campaigns=None), 700)
    results = map_partitions(None, customer_features, parts, as_of=as_of, settings=settings, sentiment=None)
    assert results.summary() == {"partitions": 3, "workers": 1}
    assert "plan__gold" not in results.parts[0].columns
    joined = features_from_parts(tables, as_of, settings, results.parts)
    pd.testing.assert_frame_equal(joined, whole, check_exact=False, rtol=1e-9)


def test_partition_size_must_be_positive(small_shop) -> None:
    with pytest.raises(ValueError, match="at least one customer"):
        customer_partitions(small_shop.tables, 0)
