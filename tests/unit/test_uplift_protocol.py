"""The uplift evaluation protocol: per-wave features, the test part, selection on the training part
only, and paired intervals against the champion and against random targeting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmint.contracts import Tables
from segmint.settings import FeatureSettings, UpliftSettings
from segmint.uplift import (
    RANDOM_TARGETING,
    campaign_rows,
    compare_uplift,
    evaluate_uplift,
    evaluation_split,
    fit_uplift,
    held_out_configuration,
    wave_features,
)
from segmint.uplift.design import (
    SIGNED_UP_LATER,
    UNKNOWN_CUSTOMER,
    OfferScores,
    campaign_design,
    design_matrix,
)
from segmint.uplift.selection import _selection_splits

FAST = dict(n_estimators=30, learning_rate=0.1, min_child_samples=20, bootstrap_rounds=30)


def _ts(day: str) -> pd.Timestamp:
    return pd.Timestamp(day, tz="UTC")


@pytest.fixture()
def shop() -> Tables:
    """Customer a orders before both waves and between them; late signs up between the waves."""
    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b", "late"],
            "signup_ts": [_ts("2024-01-01"), _ts("2024-01-01"), _ts("2024-02-15")],
            "country": "DE",
            "channel": "web",
        }
    )
    orders = pd.DataFrame(
        {
            "order_id": ["o1", "o2"],
            "customer_id": ["a", "a"],
            "product_id": ["p1", "p1"],
            "quantity": [1, 1],
            "unit_price": [10.0, 30.0],
            "ts": [_ts("2024-01-10"), _ts("2024-03-01")],
            "is_return": [False, False],
        }
    )
    campaigns = pd.DataFrame(
        {
            "campaign_id": ["w1", "w1", "w1", "w1", "w2", "w2", "w2"],
            "customer_id": ["a", "b", "late", "ghost", "a", "b", "late"],
            "treatment": ["A", "control", "A", "control", "A", "control", "A"],
            "sent_ts": [_ts("2024-02-01")] * 4 + [_ts("2024-04-01")] * 3,
            "converted": [1, 0, 0, 0, 1, 0, 1],
            "revenue": 0.0,
        }
    )
    return Tables(customers=customers, orders=orders, campaigns=campaigns)


def test_each_wave_gets_features_as_of_its_own_send(shop: Tables) -> None:
    features = wave_features(shop, FeatureSettings())
    by_wave = features.set_index(["campaign_id", "customer_id"])
    assert set(by_wave.index) == {("w1", "a"), ("w1", "b"), ("w2", "a"), ("w2", "b"), ("w2", "late")}
    assert by_wave.loc[("w1", "a"), "frequency"] == 1 and by_wave.loc[("w2", "a"), "frequency"] == 2
    assert by_wave.loc[("w1", "a"), "monetary"] == pytest.approx(10.0)
    assert by_wave.loc[("w2", "a"), "tenure_days"] - by_wave.loc[("w1", "a"), "tenure_days"] == pytest.approx(
        60
    )
    assert (features.loc[features["campaign_id"] == "w2", "features_as_of"] == _ts("2024-04-01")).all()
    assert not features.drop(columns=["campaign_id", "features_as_of", "customer_id"]).isna().any().any()


def test_every_dropped_campaign_row_is_counted_with_its_reason(shop: Tables) -> None:
    campaigns = shop.campaigns
    assert campaigns is not None
    features = wave_features(shop, FeatureSettings())
    joined = campaign_rows(features, campaigns, shop.customers)
    assert joined.dropped == {SIGNED_UP_LATER: 1, UNKNOWN_CUSTOMER: 1}
    assert len(joined.frame) + sum(joined.dropped.values()) == len(campaigns)
    # Joined per wave: customer a's wave-2 row carries its wave-2 features.
    a2 = joined.frame[(joined.frame["campaign_id"] == "w2") & (joined.frame["customer_id"] == "a")]
    assert a2["frequency"].tolist() == [2]
    # Without the customers table the rows are still counted, under one reason.
    assert sum(campaign_rows(features, campaigns).dropped.values()) == 2


@pytest.fixture(scope="module")
def two_waves() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Offer A helps customers with a > 0; wave 2 re-sends to the same customers three months later."""
    rng = np.random.default_rng(0)
    n = 4000
    features = pd.DataFrame(
        {"customer_id": [f"c{i}" for i in range(n)], "a": rng.normal(size=n), "b": rng.normal(size=n)}
    )

    def wave(campaign_id: str, sent: str) -> pd.DataFrame:
        treatment = rng.choice(["control", "A"], n)
        converted = (rng.random(n) < 0.1 + 0.3 * (treatment == "A") * (features["a"] > 0)).astype(int)
        return pd.DataFrame(
            {
                "campaign_id": campaign_id,
                "customer_id": features["customer_id"],
                "treatment": treatment,
                "sent_ts": _ts(sent),
                "converted": converted,
            }
        )

    return features, pd.concat([wave("w1", "2024-01-01"), wave("w2", "2024-04-01")], ignore_index=True)


def test_the_latest_wave_is_the_test_part(two_waves) -> None:
    _, campaigns = two_waves
    split = evaluation_split(campaigns, UpliftSettings())
    assert np.array_equal(split.test, np.flatnonzero(campaigns["campaign_id"] == "w2"))
    assert np.array_equal(split.train, np.flatnonzero(campaigns["campaign_id"] == "w1"))
    assert "latest wave w2" in split.rows and "n=4000" in split.rows
    # One send date: the seeded stratified share, and the rows say so.
    single = evaluation_split(campaigns[campaigns["campaign_id"] == "w1"], UpliftSettings(test_share=0.25))
    assert len(single.test) == 1000 and "25% stratified" in single.rows


def test_a_latest_wave_without_control_falls_back_to_the_stratified_split(two_waves) -> None:
    _, campaigns = two_waves
    no_control = campaigns[(campaigns["campaign_id"] == "w1") | (campaigns["treatment"] == "A")]
    split = evaluation_split(no_control.reset_index(drop=True), UpliftSettings())
    assert "stratified" in split.rows and "without control" in split.rows
    assert len(np.intersect1d(split.train, split.test)) == 0


def test_selection_sees_only_the_training_part(two_waves) -> None:
    features, campaigns = two_waves
    settings = UpliftSettings(learners=("t_learner", "logistic_t_learner"), **FAST)
    frame = campaign_rows(features, campaigns).frame
    design = campaign_design(frame, design_matrix(frame)[0])
    split = evaluation_split(frame, settings)
    for rows in (settings, settings.model_copy(update={"cv_folds": 0})):
        for train, test in _selection_splits(design, rows, split.train):
            assert np.isin(train, split.train).all() and np.isin(test, split.train).all()
    # Changing the outcomes of the test part changes the reported numbers, never the selection.
    first = fit_uplift(features, campaigns, settings)
    flipped = campaigns.assign(
        converted=np.where(
            campaigns["campaign_id"] == "w2", 1 - campaigns["converted"], campaigns["converted"]
        )
    )
    second = fit_uplift(features, flipped, settings)
    pd.testing.assert_frame_equal(first.candidates, second.candidates)
    assert first.metrics["A"]["qini_auc"] != second.metrics["A"]["qini_auc"]
    assert "latest wave w2" in first.rows and first.selection_rows.startswith("training part only")


def test_reported_metrics_baseline_and_curves_come_from_the_test_part(two_waves) -> None:
    features, campaigns = two_waves
    settings = UpliftSettings(learners=("t_learner",), **FAST)
    selection = fit_uplift(features, campaigns, settings)
    again = evaluate_uplift(selection.model, features, campaigns, settings)
    assert again["per_offer"]["A"]["qini_auc"] == pytest.approx(selection.metrics["A"]["qini_auc"])
    assert again["n_rows"] == 4000 and again["rows"] == selection.rows
    baseline = selection.baseline
    assert baseline is not None and baseline.against == RANDOM_TARGETING
    assert baseline.difference == pytest.approx(selection.metrics["overall"]["qini_auc"])
    assert baseline.low == pytest.approx(selection.metrics["overall"]["qini_auc_low"])
    assert 0 < baseline.low < baseline.difference < baseline.high
    assert again["baseline"] == baseline.record()
    assert set(selection.qini["learner"]) == {"t_learner", "random"}


def _scores(outcome, uplift, treated) -> dict[str, OfferScores]:
    rows = np.arange(len(outcome))
    return {
        "A": OfferScores(
            rows, np.asarray(outcome, float), np.asarray(uplift, float), np.asarray(treated, float)
        )
    }


def test_paired_interval_of_a_model_against_itself_is_zero_and_a_real_lead_is_above_zero() -> None:
    rng = np.random.default_rng(5)
    n = 6000
    t = rng.integers(0, 2, n)
    good = rng.random(n) < 0.5
    y = (rng.random(n) < 0.1 + 0.2 * good * t).astype(int)
    settings = UpliftSettings(bootstrap_rounds=50)
    informed = _scores(y, good + rng.normal(0, 0.1, n), t)
    noise = _scores(y, rng.normal(size=n), t)
    same = compare_uplift(informed, informed, settings)
    assert same.difference == same.low == same.high == 0.0
    lead = compare_uplift(informed, noise, settings)
    assert lead.against == "champion" and 0 < lead.low < lead.difference < lead.high
    assert lead.record()["estimate"] == lead.difference
    # Paired: the interval of the difference is narrower than that of either model alone.
    alone = compare_uplift(informed, None, settings)
    assert lead.high - lead.low < 2 * (alone.high - alone.low)
    assert compare_uplift(noise, None, settings).low < 0 < compare_uplift(noise, None, settings).high


def test_comparison_refuses_rankings_on_different_rows() -> None:
    a = _scores([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], [0, 1, 1, 0])
    b = {"A": OfferScores(np.arange(1, 5), *(a["A"].outcome, a["A"].uplift, a["A"].treated))}
    with pytest.raises(ValueError, match="different rows"):
        compare_uplift(a, b, UpliftSettings())
    with pytest.raises(ValueError, match="no offer in common"):
        compare_uplift(a, {"B": a["A"]}, UpliftSettings())


def test_champion_and_challenger_are_refit_on_the_same_training_part(two_waves) -> None:
    features, campaigns = two_waves
    settings = UpliftSettings(**FAST)
    models = [
        fit_uplift(features, campaigns, settings.model_copy(update={"learners": (name,)})).model
        for name in ("t_learner", "logistic_t_learner")
    ]
    new, old = (held_out_configuration(model, features, campaigns, settings) for model in models)
    assert np.array_equal(new.split.test, old.split.test)
    paired = compare_uplift(new.scores, old.scores, settings)
    assert paired.low <= paired.difference <= paired.high
    alone = [compare_uplift(held.scores, None, settings).difference for held in (new, old)]
    assert paired.difference == pytest.approx(alone[0] - alone[1])


def test_evaluate_stage_reports_the_paired_difference_against_the_champion(two_waves) -> None:
    from segmint.settings import Settings
    from tasks.evaluate import PAIRS, UpliftData

    features, campaigns = two_waves
    settings = Settings().model_copy(update={"uplift": UpliftSettings(**FAST)})
    spec = PAIRS["uplift"]
    data = UpliftData(features, campaigns)
    fitted = [
        fit_uplift(features, campaigns, settings.uplift.model_copy(update={"learners": (name,)})).model
        for name in ("t_learner", "logistic_t_learner")
    ]
    new, old = (
        spec.score_challenger(fitted[0], data, settings),
        spec.score_champion(fitted[1], data, settings),
    )
    paired = spec.compare(new, old, settings)["paired_difference"]
    assert paired["name"] == "champion" and paired["low"] <= paired["estimate"] <= paired["high"]
    assert new.quality is not None and old.quality is not None
    assert paired["estimate"] == pytest.approx(new.quality - old.quality)
    assert new.details is not None and new.details["baseline"]["name"] == RANDOM_TARGETING
