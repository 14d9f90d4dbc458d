"""Segments against the generator's planted archetypes (50k-customer shop)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from segmint.segmentation import fit_segmenter
from segmint.settings import SegmentSettings
from tests.model.conftest import PlantedFeatures

pytestmark = pytest.mark.slow


def _rfm_kmeans_ari(features: pd.DataFrame, truth: np.ndarray) -> float:
    rfm = features[["recency_days", "frequency", "monetary"]].to_numpy(dtype=float)
    z = np.sign(rfm) * np.log1p(np.abs(rfm))
    z = (z - z.mean(axis=0)) / z.std(axis=0)
    labels = KMeans(n_clusters=len(np.unique(truth)), n_init=4, random_state=0).fit_predict(z)
    return float(adjusted_rand_score(truth, labels))


def test_segments_recover_the_planted_archetypes_where_rfm_alone_cannot(planted_50k: PlantedFeatures) -> None:
    features = planted_50k.features
    archetypes = planted_50k.truth.set_index("customer_id").loc[features["customer_id"], "archetype"]
    truth = archetypes.to_numpy()
    seg = fit_segmenter(features, SegmentSettings())
    ari = adjusted_rand_score(truth, seg.assign(features)["segment_id"])
    rfm_ari = _rfm_kmeans_ari(features, truth)
    assert rfm_ari < 0.6  # the generator keeps RFM alone insufficient
    assert ari >= 0.9, f"ARI {ari:.3f} against the planted archetypes"
    assert seg.profiles["segment_name"].is_unique
