"""Segmentation of the real Online Retail 2010–2011 customers: stable, readable, better than RFM rules."""

from __future__ import annotations

from functools import lru_cache

import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from segmint.features import customer_features
from segmint.segmentation import fit_segmenter
from segmint.settings import FeatureSettings, SegmentSettings
from tests.conftest import shared_data_dir, unavailable

pytestmark = pytest.mark.slow


@lru_cache(maxsize=1)
def _features() -> pd.DataFrame:
    folder = shared_data_dir() / "online_retail_2010_2011"
    if not folder.exists():
        unavailable(f"{folder} not present")
    from segmint.adapters import load_source

    tables = load_source("online_retail", folder)
    as_of = pd.Timestamp(tables.orders["ts"].max()) + pd.Timedelta(days=1)
    return customer_features(tables, as_of, FeatureSettings())


def test_two_seeds_agree_and_beat_the_rfm_baseline() -> None:
    f = _features()
    a = fit_segmenter(f, SegmentSettings(seed=1))
    b = fit_segmenter(f, SegmentSettings(seed=2))
    assert a.k == b.k
    ari = adjusted_rand_score(a.assign(f)["segment_id"], b.assign(f)["segment_id"])
    assert ari >= 0.9
    sel = a.selection
    chosen = sel.loc[sel["chosen"], "silhouette"].iloc[0]
    assert chosen > sel.loc[sel["algorithm"] == "rfm_rules", "silhouette"].iloc[0]


def test_profiles_are_distinct_and_named() -> None:
    seg = fit_segmenter(_features(), SegmentSettings(seed=1))
    prof = seg.profiles
    assert prof["segment_name"].is_unique and prof["segment_name"].str.len().gt(3).all()
    z = prof.filter(like="z_")
    diffs = [(z.iloc[i] - z.iloc[j]).abs().max() for i in range(len(z)) for j in range(i + 1, len(z))]
    assert min(diffs) > 0.3
