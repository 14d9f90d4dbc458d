"""Customer 360 helpers: segment reasons from z-scores, offer and exclusion reasons, product reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd

from segmint.profile import (
    co_purchase_counts,
    describe_anomaly,
    exclusion_masks,
    exclusion_reasons,
    exclusion_text,
    offer_reasons,
    recommendation_reasons,
    segment_reasons,
    signed_tenths,
)


def test_segment_reasons_name_the_columns_that_stand_out_most() -> None:
    z = pd.DataFrame(
        {"recency_days": [2.5, 0.1], "frequency": [-1.2, 0.3], "view_share_toys": [0.4, -0.2], "x__a": [0, 0]}
    )
    first, second = segment_reasons(z)
    assert first.startswith("days since the last order much higher than most customers (z +2.5)")
    assert "number of orders lower than most customers (z -1.2)" in first
    assert "toys" not in first  # |z| < 1 does not count
    assert second == "close to the typical customer on every clustered column"


def test_signed_tenths_round_as_python_formats() -> None:
    rng = np.random.default_rng(3)
    halves = np.arange(-400, 400) / 20  # exact and inexact half tenths: 0.25 -> +0.2, 0.35 -> +0.3
    edges = [0.0, -0.0, -0.04, 0.05, 2e6, -1.79e308, np.nan]
    values = np.concatenate([rng.normal(0, 3, 5000), halves, edges])
    assert signed_tenths(values).to_list() == [f"{v:+.1f}" for v in values.tolist()]


def test_offer_reasons_follow_the_plan_and_the_exclusions() -> None:
    plan = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "offer": ["discount_10", "free_shipping", None, None],
            "group": ["treatment", "holdout", "treatment", "treatment"],
            "expected_incremental_profit": [3.5, 1.0, np.nan, np.nan],
        }
    )
    uplift = pd.DataFrame({"customer_id": ["a"], "offer": ["discount_10"], "uplift": [0.042]})
    info = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "is_anomalous": [False, False, True, False],
            "opted_out": [False, False, True, False],
            "last_contact_ts": pd.to_datetime([None, None, None, "2025-05-25"], utc=True),
        }
    )
    masks = exclusion_masks(info, 14, pd.Timestamp("2025-06-01", tz="UTC"))
    broken = pd.Series(exclusion_text(masks, 14), index=info["customer_id"])
    assert broken.tolist() == ["; ".join(rules) for rules in exclusion_reasons(masks, 14)]
    reasons = offer_reasons(plan, uplift, broken, "uplift")
    assert "highest expected incremental profit" in reasons["a"] and "+4.2 points" in reasons["a"]
    assert "hold-out" in reasons["b"]
    assert reasons["c"] == "not contacted: opted out of marketing; flagged for review by the anomaly rules"
    assert reasons["d"] == "not contacted: contacted within the last 14 days"
    explored = offer_reasons(plan, uplift.iloc[0:0], broken, "exploration")
    assert "at random" in explored["a"]


def test_recommendations_are_explained_by_co_purchases_for_item_models_only() -> None:
    lines = pd.DataFrame(
        {
            "customer_id": ["me", "me", "u1", "u1", "u2", "u2", "u3", "u4", "u4"],
            "product_id": ["P1", "P2", "P1", "R1", "P2", "R1", "R2", "P2", "R1"],
        }
    )
    counts = co_purchase_counts(lines, "me", ["R1", "R2"])
    assert set(counts["product_id"]) == {"R1"}  # R2's buyer bought nothing the customer bought
    assert counts.set_index("bought_id")["customers"].to_dict() == {"P1": 1, "P2": 2}
    names = {"P1": "Mug", "P2": "Kettle", "R1": "Teapot", "R2": "Lamp"}
    item = recommendation_reasons(["R1", "R2"], counts, names, item_based=True)
    assert item[0] == {"product_id": "R1", "name": "Teapot", "reason": "bought together with Kettle"}
    assert item[1]["reason"] == "popular in your segment"
    other = recommendation_reasons(["R1"], counts, names, item_based=False)
    assert other[0]["reason"] == "popular in your segment"


def test_anomaly_description_names_score_and_rules() -> None:
    flagged = {"is_anomalous": True, "anomaly_score": 0.97, "anomaly_reasons": "bot_sessions;return_rate"}
    assert describe_anomaly(flagged) == "flagged (score 0.97) by: bot_sessions, return_rate"
    assert describe_anomaly({"is_anomalous": False, "anomaly_score": 0.1}) == "not flagged (score 0.10)"
