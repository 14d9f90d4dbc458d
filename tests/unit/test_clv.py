"""The CLV model out of time on a generated shop: it ranks next-period spend better than the past rate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from segmint.clv import CLVModel, CLVPeriods, clv_holdout, fit_clv, fitted_rows, spearman_difference
from segmint.features import customer_features, future_labels
from segmint.generate import PERIOD_END, generate_shop
from segmint.segmentation import clv_tiers
from segmint.settings import FeatureSettings, GenerateSettings, Settings
from tasks import tracking
from tasks.campaign import customer_clv, with_value_tiers

HORIZON = 90


def test_clv_ranks_a_later_window_better_than_the_past_spend_rate() -> None:
    shop = generate_shop(GenerateSettings(customers=2_000, products=150, seed=5))
    settings = FeatureSettings()
    # fitted as the pipeline fits it: features two windows back, labels in the window after them
    scoring_cutoff = PERIOD_END - pd.Timedelta(days=HORIZON)
    training_cutoff = scoring_cutoff - pd.Timedelta(days=HORIZON)
    train = customer_features(shop.tables, training_cutoff, settings)
    model = fit_clv(
        train, future_labels(shop.tables, training_cutoff, HORIZON), seed=3, target="future_revenue"
    )

    # scored on the held-out last window, on the customers who bought before it
    current = customer_features(shop.tables, scoring_cutoff, settings)
    actual = future_labels(shop.tables, scoring_cutoff, HORIZON)["future_revenue"].clip(lower=0.0)
    buyers = (current["frequency"] > 0).to_numpy()
    predicted = model.predict(current)["predicted_clv"].to_numpy()
    days = (current["tenure_days"] - current["days_to_first_order"]).clip(lower=1.0)
    naive = (current["monetary"].clip(lower=0.0) / days).to_numpy()

    assert len(predicted) == len(current) and np.all(np.isfinite(predicted)) and (predicted >= 0).all()
    ours = spearmanr(predicted[buyers], actual.to_numpy()[buyers]).statistic
    baseline = spearmanr(naive[buyers], actual.to_numpy()[buyers]).statistic
    assert buyers.sum() > 200 and actual[buyers].gt(0).sum() > 50
    assert ours > baseline + 0.01, (ours, baseline)


def test_the_bagged_fit_is_the_same_twice_and_a_capped_fit_samples_by_its_seed(monkeypatch) -> None:
    shop = generate_shop(GenerateSettings(customers=1_500, products=100, seed=6))
    cutoff = PERIOD_END - pd.Timedelta(days=2 * HORIZON)
    train = customer_features(shop.tables, cutoff, FeatureSettings())
    labels = future_labels(shop.tables, cutoff, HORIZON)
    first, again = (fit_clv(train, labels, seed=4, target="future_revenue") for _ in range(2))
    pd.testing.assert_frame_equal(first.predict(train), again.predict(train))  # threads change nothing
    # the bagged models score on every core in turn: each row's value is a single thread's
    X = train[list(first.feature_columns)].to_numpy(dtype=np.float64, na_value=np.nan)
    alone = np.mean([member.predict(X, num_threads=1) for member in first.model], axis=0)
    np.testing.assert_array_equal(first.predict(train)["predicted_clv"].to_numpy(), alone)
    # LightGBM keeps the thread count of its calls process-wide: every call asks for one thread, and
    # the cores share blocks of rows, each model scoring every row once
    calls: list[tuple[int, object]] = []
    predict = type(first.model[0]).predict

    def spied(model, X, **kwargs):
        calls.append((len(X), kwargs.get("num_threads")))
        return predict(model, X, **kwargs)

    monkeypatch.setattr(type(first.model[0]), "predict", spied)
    first.predict(train)
    assert {threads for _, threads in calls} == {1}
    assert sum(rows for rows, _ in calls) == len(first.model) * len(train)
    monkeypatch.undo()
    capped = fit_clv(train, labels, seed=4, target="future_revenue", max_customers=1_000)
    assert capped.max_customers == 1_000 and len(train) > 1_000
    same = fit_clv(train, labels, seed=4, target="future_revenue", max_customers=1_000)
    pd.testing.assert_frame_equal(capped.predict(train), same.predict(train))
    assert not np.allclose(capped.predict(train)["predicted_clv"], first.predict(train)["predicted_clv"])
    # the sample is the rows fitted_rows names (the CLV plots score those): fitted on them alone, the
    # same trees
    kept = fitted_rows(len(train), 4, 1_000)
    assert kept is not None and len(kept) == 1_000 and fitted_rows(len(train), 4, None) is None
    on_rows = fit_clv(train.iloc[kept], labels, seed=4, target="future_revenue")
    assert [m.booster_.model_to_string() for m in on_rows.model] == [
        m.booster_.model_to_string() for m in capped.model
    ]


def test_the_boosting_configuration_is_the_models_and_its_holdout_refit_uses_it() -> None:
    shop = generate_shop(GenerateSettings(customers=1_500, products=100, seed=6))
    cutoff = PERIOD_END - pd.Timedelta(days=2 * HORIZON)
    later = cutoff + pd.Timedelta(days=HORIZON)
    train = customer_features(shop.tables, cutoff, FeatureSettings())
    labels = future_labels(shop.tables, cutoff, HORIZON)
    small = fit_clv(train, labels, seed=4, target="future_revenue", trees=40, learning_rate=0.1, bagged=2)
    assert [member.n_estimators for member in small.model] == [40, 40]
    assert small.configuration == (4, None, 40, 0.1, 2)
    # a model pickled before the boosting fields existed reads the configuration it was fitted with
    old = object.__new__(CLVModel)
    old.__dict__.update({k: v for k, v in small.__dict__.items() if k not in ("trees", "learning_rate")})
    assert old.configuration == (4, None, 600, 0.025, 2)
    periods = CLVPeriods(
        calibration=train,
        calibration_labels=labels,
        test=customer_features(shop.tables, later, FeatureSettings()),
        test_labels=future_labels(shop.tables, later, HORIZON),
        horizon_days=HORIZON,
        target="future_revenue",
    )
    # the holdout refits the same configuration on the calibration period: the same predictions
    holdout = clv_holdout(small, periods)
    buyers = periods.test[periods.test["frequency"] > 0]
    np.testing.assert_allclose(holdout.predicted, small.predict(buyers)["predicted_clv"].clip(lower=0.0))


def test_the_spearman_bootstrap_equals_ranking_every_resample_again() -> None:
    """Counts-weighted ranks give the interval that scipy's Spearman on each expanded resample gives,
    ties (zero spenders, repeated draws) and a constant prediction included."""
    rng = np.random.default_rng(4)
    actual = np.where(rng.random(3_000) < 0.6, 0.0, rng.gamma(2.0, 40.0, 3_000).round())
    first = (actual * 0.4 + rng.gamma(2.0, 20.0, 3_000)).round(1)
    second = np.where(rng.random(3_000) < 0.3, 0.0, first + rng.normal(0.0, 30.0, 3_000))
    for other in (second, np.zeros_like(first)):
        found = spearman_difference(first, other, actual, 50, seed=8)
        draws_rng = np.random.default_rng(8)
        draws = []
        for _ in range(50):
            rows = draws_rng.integers(0, len(actual), len(actual))
            rho = [
                spearmanr(p[rows], actual[rows]).statistic if np.ptp(p[rows]) else 0.0 for p in (first, other)
            ]
            draws.append(rho[0] - rho[1])
        low, high = np.quantile(draws, [0.025, 0.975])
        assert found["low"] == pytest.approx(low, abs=1e-12)
        assert found["high"] == pytest.approx(high, abs=1e-12)
        assert found["low"] < found["diff"] < found["high"]


def test_campaign_clv_is_empty_with_a_reason_without_a_champion(monkeypatch) -> None:
    monkeypatch.setattr(tracking, "load_alias", lambda settings, kind, alias: None)
    clv, note = customer_clv(Settings(), pd.DataFrame({"customer_id": ["c1"], "monetary": [1.0]}))
    assert clv.empty and note is not None and "no champion clv" in note
    scores = pd.DataFrame({"customer_id": ["c1"]})
    assert scores["customer_id"].map(clv).astype(float).isna().all()  # NaN, as the stage writes it


def test_campaign_clv_is_empty_with_a_reason_when_the_champion_cannot_load(monkeypatch) -> None:
    def broken(settings, kind, alias):
        raise tracking.ArtifactHashMismatchError("segmint-clv version 2: model files hash to x")

    monkeypatch.setattr(tracking, "load_alias", broken)
    clv, note = customer_clv(Settings(), pd.DataFrame({"customer_id": ["c1"], "monetary": [1.0]}))
    assert clv.empty and note is not None and "could not be loaded" in note and "hash" in note


def test_value_tiers_come_from_predicted_clv_and_fall_back_to_rfm() -> None:
    scores = pd.DataFrame(
        {"customer_id": list("abcdefghij"), "value_tier": ["high"] * 10, "clv": [float(v) for v in range(10)]}
    )
    tiered, record = with_value_tiers(Settings(), scores)
    # tier_quantiles (0.5, 0.8): the lower half low, the next 30 % mid, the top 20 % high
    assert tiered["value_tier"].tolist() == ["low"] * 5 + ["mid"] * 3 + ["high"] * 2
    assert record == {"source": "clv", "counts": {"low": 5, "mid": 3, "high": 2}}
    assert scores["value_tier"].eq("high").all()  # the input is not changed
    rfm, record = with_value_tiers(Settings(), scores.assign(clv=float("nan")))
    assert rfm["value_tier"].eq("high").all() and record == {"source": "rfm", "counts": {"high": 10}}


def test_clv_tiers_leave_customers_without_a_prediction_untiered() -> None:
    tiers = clv_tiers(pd.Series([1.0, None, 5.0, 9.0]), (0.5, 0.8))
    assert tiers.tolist() == ["low", None, "mid", "high"]
    with pytest.raises(ValueError, match="no predicted CLV"):
        clv_tiers(pd.Series([None, None], dtype=float), (0.5, 0.8))


def test_a_profile_says_whether_its_tier_comes_from_predicted_clv_or_rfm() -> None:
    from tasks.profile import _value

    by_clv = _value(pd.Series({"value_tier": "high", "clv": 120.0}))
    by_rfm = _value(pd.Series({"value_tier": "mid", "clv": float("nan")}))
    assert by_clv == {"tier": "high", "clv": 120.0, "tier_basis": "predicted CLV"}
    assert by_rfm["tier_basis"] == "RFM score" and by_rfm["clv"] is None
