"""Unit tests of the shop generator: contracts, integrity, reproducibility, drift and outcomes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmint.contracts import CONTROL, TABLE_NAMES, coerce_table
from segmint.generate import (
    ANOMALY_TYPES,
    ARCHETYPES,
    OFFERS,
    PERIOD_END,
    GeneratedShop,
    generate_shop,
    simulate_outcomes,
)
from segmint.settings import GenerateSettings

SMALL = GenerateSettings(customers=600, products=60, days=120, seed=3)


@pytest.fixture(scope="module")
def shop() -> GeneratedShop:
    return generate_shop(SMALL)


def test_all_tables_present_and_already_canonical(shop: GeneratedShop) -> None:
    assert shop.tables.present() == TABLE_NAMES
    for name, df in shop.tables.items():
        assert len(df) > 0, name
        pd.testing.assert_frame_equal(coerce_table(name, df), df, check_categorical=False)
        for col in df.columns:
            if isinstance(df[col].dtype, pd.DatetimeTZDtype):
                assert str(df[col].dt.tz) == "UTC", (name, col)
    assert len(shop.tables.customers) == SMALL.customers
    assert len(shop.tables.products) == SMALL.products
    assert set(shop.tables.products.columns) == {"product_id", "category", "price", "name"}
    assert {"age", "opted_out"} <= set(shop.tables.customers.columns)
    assert shop.tables.customers["age"].dtype == np.int64


def test_ids_and_value_ranges(shop: GeneratedShop) -> None:
    t = shop.tables
    assert t.customers["customer_id"].str.fullmatch(r"C\d{6}").all()
    assert t.products["product_id"].str.fullmatch(r"P\d{5}").all()
    assert t.customers["customer_id"].is_unique and t.products["product_id"].is_unique
    assert t.reviews["review_id"].is_unique
    assert set(t.events["event_type"]) == {"view", "cart", "purchase"}
    assert (t.orders["quantity"] > 0).all() and (t.orders["unit_price"] >= 0).all()
    assert t.orders["is_return"].any() and not t.orders["is_return"].all()
    assert t.reviews["rating"].between(1, 5).all() and (t.reviews["text"].str.len() > 0).all()
    assert (t.products["price"] > 0).all() and t.products["category"].nunique() >= 10
    assert set(t.campaigns["converted"]) <= {0, 1} and (t.campaigns["revenue"] >= 0).all()
    assert (t.campaigns.loc[t.campaigns["converted"] == 0, "revenue"] == 0).all()


def test_referential_integrity(shop: GeneratedShop) -> None:
    t = shop.tables
    customers, products = set(t.customers["customer_id"]), set(t.products["product_id"])
    for name in ("events", "orders", "reviews", "campaigns"):
        assert set(t.get(name)["customer_id"]) <= customers, name
    for name in ("events", "orders", "reviews"):
        assert set(t.get(name)["product_id"]) <= products, name
    purchases = t.orders[~t.orders["is_return"]]
    returns = t.orders[t.orders["is_return"]]
    assert set(returns["order_id"]) <= set(purchases["order_id"])


def test_calendar_fixed_and_nothing_in_the_future(shop: GeneratedShop) -> None:
    t = shop.tables
    latest = max(t.events["ts"].max(), t.orders["ts"].max(), t.reviews["ts"].max())
    assert latest < PERIOD_END
    assert t.events["ts"].min() >= PERIOD_END - pd.Timedelta(days=SMALL.days)
    sent = t.campaigns["sent_ts"].unique()
    assert len(sent) == 1 and sent[0] == PERIOD_END - pd.Timedelta(days=60) + pd.Timedelta(hours=10)
    signed_up = t.customers.set_index("customer_id")["signup_ts"]
    assert (signed_up.loc[t.campaigns["customer_id"]] < sent[0]).all()
    assert (signed_up >= sent[0]).any()  # later sign-ups are not in the campaign


def test_wave1_is_randomised_over_two_offers_and_control(shop: GeneratedShop) -> None:
    c = shop.tables.campaigns
    assert set(c["campaign_id"]) == {"wave-1"}
    shares = c["treatment"].value_counts(normalize=True)
    assert set(shares.index) == {*OFFERS, CONTROL}
    assert (shares.between(0.25, 0.42)).all()


def test_truth_frames(shop: GeneratedShop) -> None:
    ct, eff = shop.truth["customers_truth"], shop.truth["effects"]
    leading = "customer_id archetype is_anomalous anomaly_type baseline_conversion expected_order_value"
    assert list(ct.columns[:6]) == leading.split()
    assert set(ct["archetype"]) == set(ARCHETYPES)
    assert ct["is_anomalous"].sum() == round(SMALL.anomaly_rate * SMALL.customers)
    assert set(ct.loc[ct["is_anomalous"], "anomaly_type"]) == set(ANOMALY_TYPES)
    assert ct.loc[~ct["is_anomalous"], "anomaly_type"].isna().all()
    assert ct["baseline_conversion"].between(0, 1).all()
    assert len(eff) == len(ct) * len(OFFERS) and set(eff["offer"]) == set(OFFERS)
    p1 = (
        ct.set_index("customer_id").loc[eff["customer_id"], "baseline_conversion"].to_numpy()
        + eff["true_uplift"]
    )
    assert p1.between(0, 1).all()


def test_same_seed_is_bit_for_bit_reproducible_and_seeds_differ(shop: GeneratedShop) -> None:
    again = generate_shop(SMALL)
    for name, df in shop.tables.items():
        pd.testing.assert_frame_equal(df, again.tables.get(name), check_exact=True)
    for name, df in shop.truth.items():
        pd.testing.assert_frame_equal(df, again.truth[name], check_exact=True)
    other = generate_shop(SMALL.model_copy(update={"seed": 4}))
    assert not other.tables.orders.equals(shop.tables.orders)
    assert not other.truth["customers_truth"]["archetype"].equals(shop.truth["customers_truth"]["archetype"])


def test_drift_moves_mix_prices_and_period() -> None:
    base = GenerateSettings(customers=4000, products=60, days=90, seed=5)
    before = generate_shop(base)
    after = generate_shop(base.model_copy(update={"drift": 1.0}))
    mix0 = before.truth["customers_truth"]["archetype"].value_counts(normalize=True)
    mix1 = after.truth["customers_truth"]["archetype"].value_counts(normalize=True)
    assert mix1["bargain_hunter"] > mix0["bargain_hunter"] + 0.05
    assert mix1["loyal"] < mix0["loyal"] - 0.03
    assert after.tables.products["price"].median() > 1.05 * before.tables.products["price"].median()
    assert after.tables.events["ts"].min() >= PERIOD_END
    assert after.tables.events["ts"].max() < PERIOD_END + pd.Timedelta(days=base.days)


def _manual_truth() -> dict[str, pd.DataFrame]:
    ids = ["C1", "C2", "C3", "C4"]
    ct = pd.DataFrame(
        {
            "customer_id": ids,
            "archetype": ["casual"] * 4,
            "is_anomalous": False,
            "anomaly_type": None,
            "baseline_conversion": [0.0, 0.0, 0.0, 1.0],
            "expected_order_value": [50.0, 50.0, 50.0, 80.0],
        }
    )
    effects = pd.DataFrame(
        {
            "customer_id": ids * 2,
            "offer": ["discount_10"] * 4 + ["free_shipping"] * 4,
            "true_uplift": [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, -1.0],
            "true_incremental_revenue": 0.0,
        }
    )
    return {"customers_truth": ct, "effects": effects}


def test_simulate_outcomes_semantics() -> None:
    plan = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C4"],
            "offer": ["discount_10", None, "discount_10", "free_shipping"],
            "group": ["treatment", "treatment", "holdout", "treatment"],
        }
    )
    ts = pd.Timestamp("2026-02-01", tz="UTC")
    out = simulate_outcomes(plan, _manual_truth(), seed=1, sent_ts=ts)
    pd.testing.assert_frame_equal(out, coerce_table("campaigns", out))
    assert list(out["customer_id"]) == ["C1", "C3", "C4"]  # C2: treatment without offer, not contacted
    assert list(out["treatment"]) == ["discount_10", CONTROL, "free_shipping"]
    assert list(out["converted"]) == [1, 0, 0]  # uplift 1 converts, holdout baseline 0, uplift -1 kills
    assert out.loc[0, "revenue"] > 0 and (out.loc[1:, "revenue"] == 0).all()
    assert (out["campaign_id"] == "wave-2").all() and (out["sent_ts"] == ts).all()
    again = simulate_outcomes(plan, _manual_truth(), seed=1, sent_ts=ts)
    pd.testing.assert_frame_equal(out, again)


def test_simulate_outcomes_rejects_unknown_names() -> None:
    ts = pd.Timestamp("2026-02-01", tz="UTC")
    bad_offer = pd.DataFrame({"customer_id": ["C1"], "offer": ["free_lunch"], "group": ["treatment"]})
    with pytest.raises(ValueError, match="valid offers: discount_10, free_shipping"):
        simulate_outcomes(bad_offer, _manual_truth(), seed=1, sent_ts=ts)
    bad_group = pd.DataFrame({"customer_id": ["C1"], "offer": ["discount_10"], "group": ["maybe"]})
    with pytest.raises(ValueError, match="valid groups"):
        simulate_outcomes(bad_group, _manual_truth(), seed=1, sent_ts=ts)
    stranger = pd.DataFrame({"customer_id": ["C9"], "offer": ["discount_10"], "group": ["treatment"]})
    with pytest.raises(ValueError, match="not in the truth"):
        simulate_outcomes(stranger, _manual_truth(), seed=1, sent_ts=ts)
    with pytest.raises(ValueError, match="sent_ts"):
        simulate_outcomes(bad_offer.assign(offer="discount_10"), _manual_truth(), seed=1)


def test_simulate_outcomes_defaults_to_period_end_and_leaves_plan_untouched(shop: GeneratedShop) -> None:
    ids = shop.tables.customers["customer_id"].iloc[:30].tolist()
    plan = pd.DataFrame({"customer_id": ids, "offer": ["free_shipping"] * 30, "group": ["treatment"] * 30})
    snapshot = plan.copy()
    out = simulate_outcomes(plan, shop.truth, seed=2)
    pd.testing.assert_frame_equal(plan, snapshot)
    assert (out["sent_ts"] == PERIOD_END).all() and len(out) == 30


@pytest.fixture(scope="module")
def three_waves() -> GeneratedShop:
    return generate_shop(SMALL.model_copy(update={"waves": 3}))


def test_later_waves_leave_wave_1_and_the_other_tables_as_they_were(
    shop: GeneratedShop, three_waves: GeneratedShop
) -> None:
    for name in ("customers", "products", "events", "orders", "reviews"):
        pd.testing.assert_frame_equal(shop.tables.get(name), three_waves.tables.get(name), check_exact=True)
    campaigns = three_waves.tables.campaigns
    wave1 = campaigns[campaigns["campaign_id"] == "wave-1"].reset_index(drop=True)
    pd.testing.assert_frame_equal(wave1, shop.tables.campaigns, check_exact=True)
    for name in ("customers_truth", "effects"):
        pd.testing.assert_frame_equal(shop.truth[name], three_waves.truth[name], check_exact=True)


def test_each_wave_is_randomised_with_its_own_id_send_time_and_eligible_customers(
    three_waves: GeneratedShop,
) -> None:
    c = three_waves.tables.campaigns
    schedule = three_waves.truth["waves"]
    assert list(schedule["campaign_id"]) == ["wave-1", "wave-2", "wave-3"]
    assert (schedule["sent_ts"].diff().dropna() == pd.Timedelta(days=14)).all()
    sent = c.groupby("campaign_id")["sent_ts"].agg(["min", "max"])
    assert (sent["min"] == sent["max"]).all()
    assert list(sent["min"]) == list(schedule["sent_ts"])
    assert list(c.groupby("campaign_id").size()) == list(schedule["contacted"])
    signed_up = three_waves.tables.customers.set_index("customer_id")["signup_ts"]
    assert (signed_up.loc[c["customer_id"]].to_numpy() < c["sent_ts"].to_numpy()).all()
    for _, wave in c.groupby("campaign_id"):
        shares = wave["treatment"].value_counts(normalize=True)
        assert set(shares.index) == {*OFFERS, CONTROL} and shares.between(0.25, 0.42).all()
    # Independent randomisation: a customer's arm in wave 2 does not repeat their arm in wave 1.
    arms = c.pivot(index="customer_id", columns="campaign_id", values="treatment").dropna()
    assert 0.25 < (arms["wave-1"] == arms["wave-2"]).mean() < 0.42


def test_each_wave_has_its_truth_as_of_its_send(three_waves: GeneratedShop) -> None:
    eff = three_waves.truth["wave_effects"]
    ct = three_waves.truth["customers_truth"]
    assert list(eff["campaign_id"].unique()) == ["wave-1", "wave-2", "wave-3"]
    assert ct.attrs["waves"] == 3
    first = eff[eff["campaign_id"] == "wave-1"].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        first[list(three_waves.truth["effects"].columns)], three_waves.truth["effects"]
    )
    assert (first["baseline_conversion"].to_numpy() == np.tile(ct["baseline_conversion"].to_numpy(), 2)).all()
    # New customers' do-not-disturb effect fades with tenure: less negative a wave later.
    new = set(ct.loc[(ct["archetype"] == "new") & (ct["tenure_days_at_send"] > 0), "customer_id"])
    per_wave = eff[eff["customer_id"].isin(new)].groupby("campaign_id")["true_uplift"].mean()
    assert per_wave["wave-1"] < per_wave["wave-2"] < per_wave["wave-3"] < 0
    p1 = eff["baseline_conversion"] + eff["true_uplift"]
    assert p1.between(0, 1).all()


def test_simulated_outcomes_default_to_the_wave_after_the_generated_ones(three_waves: GeneratedShop) -> None:
    ids = three_waves.tables.customers["customer_id"].iloc[:5].tolist()
    plan = pd.DataFrame({"customer_id": ids, "offer": ["discount_10"] * 5, "group": ["treatment"] * 5})
    assert set(simulate_outcomes(plan, three_waves.truth, seed=1)["campaign_id"]) == {"wave-4"}


def test_wave_count_is_range_checked() -> None:
    with pytest.raises(ValueError, match="waves"):
        GenerateSettings(waves=5)
    with pytest.raises(ValueError, match="waves"):
        GenerateSettings(waves=0)
