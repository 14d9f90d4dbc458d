"""Campaign planning rules: budget, caps, exclusions, hold-out, strategies and measurement."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmint.campaign import (
    compare_strategies,
    exploration_plan,
    measure_campaign,
    next_wave_allocation,
    plan_campaign,
    segment_calibrated_scores,
)
from segmint.contracts import CONTROL
from segmint.settings import CampaignSettings, OfferSettings
from segmint.value import conversion_valuation

AS_OF = pd.Timestamp("2024-06-01", tz="UTC")


def _inputs(n: int = 200) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    ids = [f"c{i}" for i in range(n)]
    scores = pd.DataFrame(
        {
            "customer_id": np.repeat(ids, 2),
            "offer": np.tile(["A", "B"], n),
            "uplift": rng.uniform(-0.05, 0.3, 2 * n),
            "response_probability": rng.uniform(0, 1, 2 * n),
        }
    )
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "segment_id": np.arange(n) % 2,
            "is_anomalous": np.arange(n) % 50 == 0,
            "opted_out": np.arange(n) % 40 == 1,
            "last_contact_ts": [AS_OF - pd.Timedelta(days=3) if i % 30 == 2 else pd.NaT for i in range(n)],
            "expected_value": 20.0,
        }
    )
    return scores, customers


def test_plan_respects_budget_caps_exclusions_and_one_offer() -> None:
    scores, customers = _inputs()
    settings = CampaignSettings(
        budget=60.0,
        holdout_share=0.0,
        offers={"A": OfferSettings(cost=1.0, max_contacts=20), "B": OfferSettings()},
    )
    before = customers.copy()
    result = plan_campaign(scores, customers, settings, as_of=AS_OF)
    pd.testing.assert_frame_equal(customers, before)
    plan = result.plan
    assert len(plan) == len(customers) and plan["customer_id"].is_unique
    sent = plan[plan["offer"].notna()]
    assert len(sent) == 60  # budget binds at cost 1
    assert (sent["offer"] == "A").sum() <= 20
    excluded = customers[
        customers["is_anomalous"] | customers["opted_out"] | customers["last_contact_ts"].notna()
    ]
    assert not set(sent["customer_id"]) & set(excluded["customer_id"])
    assert (sent["expected_incremental_profit"] > 0).all()
    assert set(plan["group"]) <= {"treatment", "holdout"}
    assert result.exclusions["anomalous"] == 4
    total = result.summary.set_index("offer").loc["total"]
    assert total["spend"] == pytest.approx(60.0)


def test_only_positive_profit_is_sent() -> None:
    scores, customers = _inputs()
    settings = CampaignSettings(budget=1e9, holdout_share=0.0, default_offer=OfferSettings(cost=3.0))
    plan = plan_campaign(scores, customers, settings, as_of=AS_OF).plan
    joined = plan.dropna(subset=["offer"]).merge(scores, on=["customer_id", "offer"])
    assert (joined["uplift"] * 20.0 - 3.0 > 0).all()
    best = scores.assign(p=scores["uplift"] * 20 - 3).groupby("customer_id")["p"].max()
    eligible = customers.loc[
        ~(customers["is_anomalous"] | customers["opted_out"] | customers["last_contact_ts"].notna()),
        "customer_id",
    ]
    assert set(joined["customer_id"]) == set(best[best > 0].index) & set(eligible)


def test_holdout_is_random_share_per_segment_and_seeded() -> None:
    scores, customers = _inputs(2000)
    settings = CampaignSettings(budget=1e9, holdout_share=0.2, seed=1)
    a = plan_campaign(scores, customers, settings, as_of=AS_OF).plan
    b = plan_campaign(scores, customers, settings, as_of=AS_OF).plan
    pd.testing.assert_frame_equal(a, b)
    chosen = a[a["offer"].notna()].merge(customers[["customer_id", "segment_id"]], on="customer_id")
    share = chosen.groupby("segment_id")["group"].apply(lambda g: (g == "holdout").mean())
    assert np.allclose(share, 0.2, atol=0.01)
    assert (a.loc[a["group"] == "holdout", "expected_incremental_profit"] == 0).all()


def test_needs_as_of_with_contact_history_and_ignores_settings_of_unscored_offers() -> None:
    scores, customers = _inputs()
    with pytest.raises(ValueError, match="as_of"):
        plan_campaign(scores, customers, CampaignSettings())
    plain = plan_campaign(scores, customers, CampaignSettings(), as_of=AS_OF).plan
    extra = CampaignSettings(offers={"Z": OfferSettings(cost=100.0, redemption_share=0.5)})
    pd.testing.assert_frame_equal(plan_campaign(scores, customers, extra, as_of=AS_OF).plan, plain)


def _excluded(customers: pd.DataFrame) -> set[str]:
    rule = customers["is_anomalous"] | customers["opted_out"] | customers["last_contact_ts"].notna()
    return set(customers.loc[rule, "customer_id"])


def test_exploration_plan_assigns_random_offers_within_budget_caps_and_exclusions() -> None:
    _, customers = _inputs(2000)
    settings = CampaignSettings(
        budget=400.0,
        offers={"A": OfferSettings(cost=1.0, max_contacts=150), "B": OfferSettings(cost=2.0)},
        seed=3,
    )
    before = customers.copy()
    result = exploration_plan(customers, ["B", "A", "A"], settings, as_of=AS_OF)
    pd.testing.assert_frame_equal(customers, before)
    assert result.kind == "exploration" and result.exclusions["anomalous"] == 40
    plan = result.plan
    assert len(plan) == len(customers) and plan["customer_id"].is_unique
    chosen = plan[plan["offer"].notna()]
    assert not set(chosen["customer_id"]) & _excluded(customers)
    cost = chosen["offer"].map({"A": 1.0, "B": 2.0})
    assert cost.sum() <= 400.0 and cost.sum() >= 398.0  # the budget binds (held-back contacts included)
    assert (chosen["offer"] == "A").sum() <= 150 and set(chosen["offer"]) == {"A", "B"}
    # random customers, not the first ones: chosen ids spread over the whole list
    positions = chosen["customer_id"].str[1:].astype(int)
    assert positions.min() < 200 and positions.max() > 1800
    assert (plan["expected_incremental_profit"] == 0).all()
    total = result.summary.set_index("offer").loc["total"]
    assert np.isnan(total["expected_incremental_profit"]) and total["spend"] == pytest.approx(
        cost[chosen["group"] == "treatment"].sum()
    )


def test_exploration_plan_holds_back_its_larger_share_per_segment_and_offer_and_is_seeded() -> None:
    _, customers = _inputs(2000)
    settings = CampaignSettings(budget=1e9, exploration_holdout_share=0.5, holdout_share=0.1, seed=1)
    a = exploration_plan(customers, ["A", "B"], settings, as_of=AS_OF).plan
    pd.testing.assert_frame_equal(a, exploration_plan(customers, ["A", "B"], settings, as_of=AS_OF).plan)
    chosen = a[a["offer"].notna()].merge(customers[["customer_id", "segment_id"]], on="customer_id")
    assert len(chosen) == 2000 - len(_excluded(customers))  # unlimited budget: every eligible customer
    share = chosen.groupby(["segment_id", "offer"])["group"].apply(lambda g: (g == "holdout").mean())
    assert np.allclose(share, 0.5, atol=0.01)
    offer_share = (chosen["offer"] == "A").mean()
    assert 0.45 < offer_share < 0.55  # each customer's offer is drawn at random
    other = exploration_plan(customers, ["A", "B"], settings.model_copy(update={"seed": 2}), as_of=AS_OF)
    assert not other.plan.equals(a)
    with pytest.raises(ValueError, match="at least one offer"):
        exploration_plan(customers, [], settings, as_of=AS_OF)


def test_uplift_strategy_beats_response_and_random_on_expected_profit() -> None:
    scores, customers = _inputs(1000)
    table = compare_strategies(scores, customers, CampaignSettings(budget=100.0), as_of=AS_OF).set_index(
        "strategy"
    )
    assert table.loc["uplift", "incremental_profit"] > table.loc["response", "incremental_profit"]
    assert table.loc["uplift", "incremental_profit"] > table.loc["random", "incremental_profit"]
    assert (table["spend"] <= 100.0).all()


def test_measure_campaign_recovers_planted_lift_with_interval() -> None:
    rng = np.random.default_rng(5)
    n = 20_000
    group = np.where(rng.random(n) < 0.5, "holdout", "treatment")
    plan = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "offer": "A", "group": group})
    converted = (rng.random(n) < np.where(group == "treatment", 0.15, 0.10)).astype(int)
    outcomes = pd.DataFrame(
        {"customer_id": plan["customer_id"], "converted": converted, "revenue": converted * 30.0}
    )
    m = measure_campaign(plan, outcomes).set_index(["segment_id", "offer"]).loc[("all", "A")]
    assert m["uplift_low"] < 0.05 < m["uplift_high"]
    assert m["uplift_low"] > 0
    assert m["revenue_uplift"] == pytest.approx(30 * m["uplift"])
    alloc = next_wave_allocation(measure_campaign(plan, outcomes).reset_index(drop=True), seed=0)
    assert alloc["share"].sum() == pytest.approx(1.0) and alloc["prob_positive"].iloc[0] > 0.99


def test_next_wave_allocation_follows_the_evidence_across_offers() -> None:
    """Three offers with planted uplifts of +5, +1 and -4 points: the best gets most of the next wave,
    the harmful one almost none, and each offer's chance of a positive effect matches its sign."""
    rng = np.random.default_rng(11)
    lifts = {"good": 0.05, "small": 0.01, "harmful": -0.04}
    n = 6_000
    plans, outcomes = [], []
    for offer, lift in lifts.items():
        ids = [f"{offer}{i}" for i in range(n)]
        group = np.where(rng.random(n) < 0.5, "holdout", "treatment")
        rate = np.where(group == "treatment", 0.10 + lift, 0.10)
        converted = (rng.random(n) < rate).astype(int)
        plans.append(pd.DataFrame({"customer_id": ids, "offer": offer, "group": group}))
        revenue = 30.0 * converted
        outcomes.append(pd.DataFrame({"customer_id": ids, "converted": converted, "revenue": revenue}))
    measured = measure_campaign(pd.concat(plans), pd.concat(outcomes)).reset_index(drop=True)
    alloc = next_wave_allocation(measured, seed=0).set_index("offer")
    assert alloc["share"].sum() == pytest.approx(1.0)
    assert alloc.loc["good", "share"] > 0.9 > alloc.loc["small", "share"]
    assert alloc.loc["harmful", "share"] < 0.01
    assert alloc.loc["good", "prob_positive"] > 0.99 and alloc.loc["harmful", "prob_positive"] < 0.01


def _randomized(customers: pd.DataFrame, rates: dict[tuple[int, str], float], rows: int) -> pd.DataFrame:
    # ``rows`` campaign rows per customer and arm, converting at the segment × arm's rate.
    rng = np.random.default_rng(3)
    frames = []
    for (segment, arm), rate in rates.items():
        ids = customers.loc[customers["segment_id"] == segment, "customer_id"].to_numpy()
        ids = np.repeat(ids, rows)
        frames.append(
            pd.DataFrame({"customer_id": ids, "treatment": arm, "converted": rng.random(len(ids)) < rate})
        )
    return pd.concat(frames, ignore_index=True).assign(converted=lambda d: d["converted"].astype(int))


def test_segment_calibration_moves_each_segment_to_its_measured_uplift_and_keeps_the_ranking() -> None:
    scores, customers = _inputs(400)
    rates = {(0, CONTROL): 0.2, (0, "A"): 0.4, (1, CONTROL): 0.3, (1, "A"): 0.2}
    campaigns = _randomized(customers, rates, rows=10)
    moved = segment_calibrated_scores(scores, customers[["customer_id", "segment_id"]], campaigns)
    assert moved[["customer_id", "offer"]].equals(scores[["customer_id", "offer"]])
    joined = moved.assign(segment_id=np.repeat(customers["segment_id"].to_numpy(), 2))
    means = joined.groupby(["segment_id", "offer"])[["uplift", "response_probability"]].mean()
    assert means.loc[(0, "A"), "uplift"] == pytest.approx(0.2, abs=0.03)
    assert means.loc[(1, "A"), "uplift"] == pytest.approx(-0.1, abs=0.03)
    assert means.loc[(0, "A"), "response_probability"] == pytest.approx(0.4, abs=0.05)
    # Offer B was never sent: its scores are the model's.
    b = scores["offer"] == "B"
    assert np.allclose(moved.loc[b, "uplift"], scores.loc[b, "uplift"])
    for segment in (0, 1):
        rows = (joined["segment_id"] == segment).to_numpy() & (scores["offer"] == "A").to_numpy()
        assert (
            moved.loc[rows, "uplift"].rank().to_numpy() == scores.loc[rows, "uplift"].rank().to_numpy()
        ).all()
    assert segment_calibrated_scores(scores, customers.assign(segment_id=None), campaigns).equals(scores)


def test_conversion_valuation_chooses_the_candidate_that_predicts_converted_revenue() -> None:
    ids = [f"c{i}" for i in range(300)]
    order_value = np.linspace(10.0, 100.0, 300)
    features = pd.DataFrame({"customer_id": ids, "avg_order_value": order_value, "frequency": 50.0})
    # The discount keeps 0.9 of a treated order; revenue is the order value less the discount.
    campaigns = pd.DataFrame(
        {
            "customer_id": ids,
            "treatment": np.where(np.arange(300) % 2 == 0, "D", CONTROL),
            "converted": 1,
            "revenue": order_value * np.where(np.arange(300) % 2 == 0, 0.9, 1.0),
        }
    )
    noisy_clv = pd.Series(np.random.default_rng(0).permutation(order_value) * 4.0, index=ids)
    chosen = conversion_valuation(features, campaigns, noisy_clv, {"D": 0.9})
    assert chosen.name == "order_value" and chosen.errors["order_value"] < chosen.errors["clv"]
    good_clv = pd.Series(order_value * 4.0, index=ids)
    chosen = conversion_valuation(features, campaigns, good_clv, {"D": 0.9})
    assert chosen.name == "clv" and chosen.errors["clv"] == pytest.approx(0.0, abs=1e-6)
    assert np.allclose(chosen.values.to_numpy(), order_value)
    assert conversion_valuation(features, campaigns, None).name == "order_value"


def test_exploration_explores_the_shops_own_offers_and_the_configured_ones_only_without_history() -> None:
    from segmint.settings import Settings
    from tasks.campaign import _offers_to_explore

    settings = Settings.model_validate({"campaign": {"offers": {"discount_10": {"redemption_share": 0.1}}}})
    past = pd.DataFrame({"treatment": ["womens_email", "control", "mens_email"]})
    assert _offers_to_explore(settings, past) == ["mens_email", "womens_email"]
    assert _offers_to_explore(settings, None) == ["discount_10"]
    assert _offers_to_explore(settings, past.iloc[[1]]) == ["discount_10"]
