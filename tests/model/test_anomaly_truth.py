"""Anomaly recall against the generator's planted anomalies (50k-customer shop)."""

from __future__ import annotations

import pytest

from segmint.anomaly import fit_anomaly_detector
from segmint.features import customer_features
from segmint.generate import PERIOD_END, generate_shop
from segmint.settings import AnomalySettings, FeatureSettings, GenerateSettings

pytestmark = pytest.mark.slow


def test_recall_when_flagging_twice_the_planted_rate() -> None:
    gen = GenerateSettings(customers=50_000, seed=7)
    shop = generate_shop(gen)
    features = customer_features(shop.tables, PERIOD_END, FeatureSettings())
    truth = shop.truth["customers_truth"].set_index("customer_id").loc[features["customer_id"]]
    settings = AnomalySettings(contamination=2 * gen.anomaly_rate)
    scores = fit_anomaly_detector(features, settings).score(features)
    planted = truth["is_anomalous"].to_numpy(dtype=bool)
    flagged = scores["is_anomalous"].to_numpy()
    assert abs(flagged.mean() - settings.contamination) < 0.01
    assert flagged[planted].mean() >= 0.8
    # Every planted type is found, not just the easiest one.
    for kind in truth.loc[planted, "anomaly_type"].unique():
        mask = (truth["anomaly_type"] == kind).to_numpy()
        assert flagged[mask].mean() >= 0.5, kind
