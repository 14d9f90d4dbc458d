"""Anomaly detector: rules, flag budget, score range and reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd

from segmint.anomaly import fit_anomaly_detector, rule_hits
from segmint.settings import AnomalySettings


def _features(n: int = 500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    f = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "frequency": rng.poisson(4, n).astype(float),
            "monetary": rng.gamma(2, 50, n),
            "return_rate": rng.beta(1, 20, n),
            "views": rng.poisson(30, n).astype(float),
            "purchase_events": rng.poisson(3, n).astype(float),
            "views_per_session": rng.gamma(5, 1, n),
            "max_order_quantity": rng.poisson(3, n).astype(float),
            "orders_first_days": rng.poisson(0.2, n).astype(float),
        }
    )
    f.loc[0, ["frequency", "return_rate"]] = [6, 0.9]  # refund abuse
    f.loc[1, ["views_per_session", "views", "purchase_events"]] = [80, 4000, 0]  # bot
    f.loc[2, "max_order_quantity"] = 5000  # impossible basket
    f.loc[3, "orders_first_days"] = 12  # burst after signup
    return f


def test_rules_fire_on_the_planted_rows() -> None:
    hits = rule_hits(_features(), AnomalySettings())
    assert hits.loc[0, "refund_abuse"] and hits.loc[1, "bot_browsing"]
    assert hits.loc[2, "impossible_basket"] and hits.loc[3, "signup_burst"]
    assert hits.iloc[4:].to_numpy().sum() == 0


def test_score_columns_range_budget_and_reasons() -> None:
    f = _features()
    det = fit_anomaly_detector(f, AnomalySettings(contamination=0.04, n_estimators=50))
    s = det.score(f)
    assert list(s.columns) == ["customer_id", "anomaly_score", "is_anomalous", "anomaly_reasons"]
    assert s["anomaly_score"].between(0, 1).all()
    assert s["is_anomalous"].sum() == round(0.04 * len(f))
    assert s.loc[:3, "is_anomalous"].all()
    assert s.loc[0, "anomaly_reasons"] == "refund_abuse" and s.loc[1, "anomaly_reasons"] == "bot_browsing"
    forest_only = s[s["is_anomalous"] & ~s.index.isin([0, 1, 2, 3])]
    assert (forest_only["anomaly_reasons"] == "isolation_forest").all()
    assert (s.loc[~s["is_anomalous"], "anomaly_reasons"] == "").all()
    flagged_min = s.loc[s["is_anomalous"], "anomaly_score"].min()
    assert flagged_min >= s.loc[~s["is_anomalous"], "anomaly_score"].max()


def test_contamination_governs_flag_rate_and_is_deterministic() -> None:
    f = _features(1000)
    low = fit_anomaly_detector(f, AnomalySettings(contamination=0.02, n_estimators=50)).score(f)
    high = fit_anomaly_detector(f, AnomalySettings(contamination=0.1, n_estimators=50)).score(f)
    assert low["is_anomalous"].sum() < high["is_anomalous"].sum()
    again = fit_anomaly_detector(f, AnomalySettings(contamination=0.1, n_estimators=50)).score(f)
    pd.testing.assert_frame_equal(high, again)


def test_extreme_outlier_ranks_at_the_top() -> None:
    f = _features()
    f.loc[10, ["monetary", "frequency"]] = [1e6, 300]
    s = fit_anomaly_detector(f, AnomalySettings(n_estimators=100)).score(f)
    assert s.loc[10, "anomaly_score"] > 0.95 and s.loc[10, "is_anomalous"]
