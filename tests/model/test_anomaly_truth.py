"""Anomaly recall and precision per kind against the generator's planted anomalies (50k-customer shop).

The planted strengths overlap normal behaviour and the detector sets no threshold on any feature, so
these floors measure ranking, not a mirror of the generator's ranges. The floors sit below the minimum
over the seeds of ``python -m benchmarks.anomaly`` (seeds 1–3, ``benchmarks/results/anomaly.json``:
overall recall 0.69 / precision 0.35; bot 0.74 / 0.43; refund abuse 0.58 / 0.33; fraud 0.72 / 0.41),
on seed 7, which the benchmark does not use.
"""

from __future__ import annotations

import pytest

from segmint.anomaly import fit_anomaly_detector, flag_quality
from segmint.settings import AnomalySettings
from tests.model.conftest import PlantedFeatures

pytestmark = pytest.mark.slow

# kind → (recall floor, precision floor) when flagging twice the planted rate
FLOORS: dict[str, tuple[float, float]] = {
    "overall": (0.6, 0.3),
    "bot": (0.65, 0.35),
    "refund_abuse": (0.5, 0.27),
    "fraud": (0.62, 0.33),
}


def test_recall_and_precision_per_kind_when_flagging_twice_the_planted_rate(
    planted_50k: PlantedFeatures,
) -> None:
    gen, features = planted_50k.settings, planted_50k.features
    truth = planted_50k.truth.set_index("customer_id").loc[features["customer_id"]]
    settings = AnomalySettings(contamination=2 * gen.anomaly_rate)
    scores = fit_anomaly_detector(features, settings).score(features)
    assert abs(scores["is_anomalous"].mean() - settings.contamination) < 0.002
    quality = flag_quality(scores, truth["anomaly_type"].reset_index(drop=True))
    for kind, (recall, precision) in FLOORS.items():
        assert quality[kind]["recall"] >= recall, (kind, quality[kind])
        assert quality[kind]["precision"] >= precision, (kind, quality[kind])
