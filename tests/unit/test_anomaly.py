"""Anomaly detector: signals learned from the population, flag budget, score range and reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmint.anomaly import (
    SIGNALS,
    fit_anomaly_detector,
    fit_signal_parameters,
    flag_quality,
    robust_scale,
    signal_values,
)
from segmint.settings import AnomalySettings

FAST = AnomalySettings(contamination=0.04, n_estimators=50)


def _features(n: int = 500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frequency = rng.poisson(4, n).astype(float)
    views = rng.poisson(30, n).astype(float)
    sessions = np.maximum(rng.poisson(6, n), 1).astype(float)
    f = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "frequency": frequency,
            "monetary": rng.gamma(2, 50, n),
            "gross_revenue": rng.gamma(2, 60, n) * frequency,
            "tenure_days": rng.uniform(100, 1500, n),
            "return_orders": rng.binomial(frequency.astype(int), 0.08).astype(float),
            "views": views,
            "carts": rng.binomial(views.astype(int), 0.25).astype(float),
            "sessions": sessions,
            "views_per_session": views / sessions,
        }
    )
    f.loc[0, ["frequency", "return_orders"]] = [14, 12]  # returns nearly every order
    f.loc[1, ["views_per_session", "views", "carts"]] = [80, 4000, 1]  # deep sessions, no carts
    f.loc[2, ["gross_revenue", "tenure_days"]] = [40_000, 3]  # a young account spending fast
    return f


def test_robust_scale_is_median_and_mad_with_a_fallback_for_spiky_data() -> None:
    scale = robust_scale(np.array([1.0, 2.0, 3.0, 4.0, 100.0, np.nan]))
    assert scale.centre == 3.0 and scale.scale == pytest.approx(1.4826)
    spiky = robust_scale(np.array([0.0] * 8 + [4.0, 4.0]))  # MAD 0: mean absolute deviation instead
    assert spiky.centre == 0.0 and spiky.scale == pytest.approx(1.2533 * 0.8)
    assert robust_scale(np.zeros(5)).scale == 1.0 and robust_scale(np.array([np.nan])).scale == 1.0


def test_signals_rank_the_planted_rows_first_and_apply_only_where_defined() -> None:
    f = _features()
    f.loc[3, ["views", "carts", "views_per_session"]] = 0.0  # no behaviour tracked
    f.loc[4, ["frequency", "return_orders", "gross_revenue"]] = 0.0  # never ordered
    values = signal_values(f, fit_signal_parameters(f, FAST))
    assert list(values.columns) == list(SIGNALS)
    assert values["refund_abuse"].idxmax() == 0
    assert values["bot_browsing"].idxmax() == 1
    assert values["spend_velocity"].idxmax() == 2
    assert np.isnan(values.loc[3, "bot_browsing"])
    assert values.loc[4, ["refund_abuse", "spend_velocity"]].isna().all()


def test_return_share_is_shrunk_towards_the_population() -> None:
    f = _features(2000)
    params = fit_signal_parameters(f, FAST)
    assert 0.05 < params.return_share < 0.12 and params.return_prior_orders >= 1.0
    pair = pd.DataFrame({"frequency": [2.0, 20.0], "return_orders": [2.0, 10.0]})
    shrunk = signal_values(pair, params)["refund_abuse"]
    # Two of two returned is weaker evidence than ten of twenty.
    assert shrunk[0] < shrunk[1] < 0.5


def test_flags_do_not_move_when_a_feature_is_rescaled_for_everyone() -> None:
    # No fixed threshold: the signals are ranked against the population, whatever its units.
    f = _features()
    flags = fit_anomaly_detector(f, FAST).score(f)
    scaled = f.assign(
        views=f["views"] * 3, carts=f["carts"] * 3, views_per_session=f["views_per_session"] * 3
    )
    scaled = scaled.assign(gross_revenue=f["gross_revenue"] * 100, monetary=f["monetary"] * 100)
    again = fit_anomaly_detector(scaled, FAST).score(scaled)
    assert (flags["is_anomalous"] == again["is_anomalous"]).mean() > 0.98
    assert again.loc[:2, "is_anomalous"].all()


def test_score_columns_range_budget_and_reasons() -> None:
    f = _features()
    det = fit_anomaly_detector(f, FAST)
    s = det.score(f)
    assert list(s.columns) == ["customer_id", "anomaly_score", "is_anomalous", "anomaly_reasons"]
    assert s["anomaly_score"].between(0, 1).all()
    assert s["is_anomalous"].sum() == round(0.04 * len(f))
    assert s.loc[:2, "is_anomalous"].all()
    assert "refund_abuse" in s.loc[0, "anomaly_reasons"].split(";")
    assert "bot_browsing" in s.loc[1, "anomaly_reasons"].split(";")
    assert "spend_velocity" in s.loc[2, "anomaly_reasons"].split(";")
    assert (s.loc[s["is_anomalous"], "anomaly_reasons"] != "").all()
    assert (s.loc[~s["is_anomalous"], "anomaly_reasons"] == "").all()
    flagged_min = s.loc[s["is_anomalous"], "anomaly_score"].min()
    assert flagged_min >= s.loc[~s["is_anomalous"], "anomaly_score"].max()


def test_signals_without_their_columns_are_skipped() -> None:
    f = _features().drop(columns=["views", "carts", "views_per_session", "sessions"])
    s = fit_anomaly_detector(f, FAST).score(f)
    # Shrunk return shares of equal counts tie: the budget, plus the customers tied at the threshold.
    budget = round(0.04 * len(f))
    at_threshold = np.sort(s["anomaly_score"].to_numpy())[::-1][budget - 1]
    assert s["is_anomalous"].sum() == (s["anomaly_score"] >= at_threshold).sum() >= budget
    assert s.loc[s["is_anomalous"], "anomaly_score"].gt(at_threshold).sum() < budget
    assert not s["anomaly_reasons"].str.contains("bot_browsing").any()
    assert s.loc[[0, 2], "is_anomalous"].all()


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


def test_new_customers_are_scored_against_the_fitting_population() -> None:
    f = _features()
    det = fit_anomaly_detector(f, FAST)
    fresh = _features(50, seed=1)
    fresh.loc[5, ["views_per_session", "views", "carts"]] = [90, 3000, 0]
    s = det.score(fresh)
    assert s.loc[5, "is_anomalous"] and "bot_browsing" in s.loc[5, "anomaly_reasons"]
    assert s["is_anomalous"].mean() < 0.3


def test_flag_quality_counts_recall_and_precision_per_kind() -> None:
    scores = pd.DataFrame(
        {
            "customer_id": list("abcdef"),
            "is_anomalous": [True, True, True, False, True, False],
            "anomaly_reasons": ["bot_browsing", "bot_browsing", "refund_abuse", "", "isolation_forest", ""],
        }
    )
    kinds = pd.Series(["bot", None, "refund_abuse", "refund_abuse", "fraud", "bot"])
    quality = flag_quality(scores, kinds)
    assert quality["overall"] == {"planted": 5, "flagged": 4, "found": 3, "recall": 0.6, "precision": 0.75}
    assert quality["bot"]["recall"] == 0.5 and quality["bot"]["precision"] == 0.5
    assert quality["refund_abuse"]["recall"] == 0.5 and quality["refund_abuse"]["precision"] == 1.0
    # Found by the forest only: recalled, but no flag carries the fraud signal.
    assert quality["fraud"]["recall"] == 1.0 and quality["fraud"]["flagged"] == 0
