"""Segments against the generator's planted archetypes (50k-customer shop)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from segmint.features import customer_features
from segmint.generate import PERIOD_END, generate_shop
from segmint.segmentation import fit_segmenter
from segmint.settings import FeatureSettings, GenerateSettings, SegmentSettings

pytestmark = pytest.mark.slow


@lru_cache(maxsize=1)
def _shop_features() -> tuple[pd.DataFrame, np.ndarray]:
    shop = generate_shop(GenerateSettings(customers=50_000, seed=7))
    features = customer_features(shop.tables, PERIOD_END, FeatureSettings())
    truth = shop.truth["customers_truth"].set_index("customer_id").loc[features["customer_id"], "archetype"]
    return features, truth.to_numpy()


def _rfm_kmeans_ari(features: pd.DataFrame, truth: np.ndarray) -> float:
    rfm = features[["recency_days", "frequency", "monetary"]].to_numpy(dtype=float)
    z = np.sign(rfm) * np.log1p(np.abs(rfm))
    z = (z - z.mean(axis=0)) / z.std(axis=0)
    labels = KMeans(n_clusters=len(np.unique(truth)), n_init=4, random_state=0).fit_predict(z)
    return float(adjusted_rand_score(truth, labels))


def test_segments_beat_rfm_alone_and_keep_a_floor() -> None:
    features, truth = _shop_features()
    seg = fit_segmenter(features, SegmentSettings())
    ari = adjusted_rand_score(truth, seg.assign(features)["segment_id"])
    rfm_ari = _rfm_kmeans_ari(features, truth)
    assert rfm_ari < 0.6  # the generator keeps RFM alone insufficient
    assert ari > rfm_ari + 0.2
    assert ari >= 0.5  # regression floor; the target below is 0.9
    assert seg.profiles["segment_name"].is_unique


@pytest.mark.xfail(
    reason="target not reached yet: default segmenter recovers archetypes at ARI ~0.6", strict=False
)
def test_segments_recover_archetypes_target() -> None:
    features, truth = _shop_features()
    seg = fit_segmenter(features, SegmentSettings())
    assert adjusted_rand_score(truth, seg.assign(features)["segment_id"]) >= 0.9
