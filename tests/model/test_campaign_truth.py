"""The campaign plan against planted effects, made as the campaign stage makes it with the project's
own ``params.yaml``: the uplift model fitted on features as of each wave's send, the detector's
anomaly flags, the fitted segmenter's segments, the segment calibration, the order-value valuation
and the committed campaign settings (budget, hold-out, offers).

This is a regression floor on a 10,000-customer shop of a seed the benchmark does not use; the
0.85-of-the-oracle line is measured at 30,000 customers by ``benchmarks/campaign_truth.py``
(``benchmarks/results/campaign_truth.json``). The CLV candidate of the valuation is left out here
(it needs the registered CLV model); the stage chooses between it and the order value.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmint.anomaly import fit_anomaly_detector
from segmint.campaign import plan_campaign, segment_calibrated_scores, select_contacts
from segmint.contracts import latest_timestamp
from segmint.features import customer_features
from segmint.generate import generate_shop
from segmint.segmentation import fit_segmenter
from segmint.settings import GenerateSettings, load_settings
from segmint.uplift import fit_uplift
from segmint.uplift.waves import wave_features
from segmint.value import conversion_valuation
from tasks.campaign import customer_contacts

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def planned():
    """The stage's path on a generated shop: train on features as of the sends, score, flag, segment
    and value customers on features as of the end of the data, plan as of then."""
    settings = load_settings(ROOT / "params.yaml")
    shop = generate_shop(GenerateSettings(customers=10_000, seed=9))
    tables, campaigns = shop.tables, shop.tables.campaigns
    as_of = latest_timestamp(tables)
    features = customer_features(tables, as_of, settings.features)
    model = fit_uplift(wave_features(tables, settings.features), campaigns, settings.uplift).model
    scores = model.predict(features)
    flags = fit_anomaly_detector(features, settings.anomaly).score(features)
    segments = fit_segmenter(features, settings.segment).assign(features)[["customer_id", "segment_id"]]
    valuation = conversion_valuation(features, campaigns)
    customers = (
        customer_contacts(tables.customers, campaigns)
        .merge(segments, on="customer_id", how="left")
        .merge(flags[["customer_id", "is_anomalous"]], on="customer_id", how="left")
        .assign(
            customer_id=lambda d: d["customer_id"].astype(str),
            is_anomalous=lambda d: d["is_anomalous"].fillna(False),
        )
    )
    customers = customers.assign(expected_value=customers["customer_id"].map(valuation.values).to_numpy())
    calibrated = segment_calibrated_scores(scores, segments, campaigns)
    plan = plan_campaign(calibrated, customers, settings.campaign, as_of=as_of).plan
    return shop, scores, customers, plan


def _true_revenue(contacts: pd.DataFrame, effects: pd.DataFrame) -> float:
    joined = contacts[["customer_id", "offer"]].merge(effects, on=["customer_id", "offer"], how="left")
    return float(joined["true_incremental_revenue"].fillna(0.0).sum())


def _true_revenues(planned) -> tuple[float, float, float]:
    """True incremental revenue of the plan's sends, the oracle and response targeting (the same contacts
    per offer, among the customers the plan may contact)."""
    shop, scores, customers, plan = planned
    effects = shop.truth["effects"][["customer_id", "offer", "true_incremental_revenue"]]
    effects = effects.assign(customer_id=effects["customer_id"].astype(str))
    contacts = plan[(plan["group"] == "treatment") & plan["offer"].notna()]
    caps = contacts["offer"].value_counts().to_dict()
    assert len(contacts) > 0.1 * len(customers)
    blocked = customers["is_anomalous"].astype(bool) | customers["opted_out"].astype(bool)
    eligible = customers.loc[~blocked, ["customer_id"]]
    oracle_pairs = effects.merge(eligible, on="customer_id").assign(
        priority=lambda d: d["true_incremental_revenue"], cost=0.0
    )
    oracle = select_contacts(oracle_pairs, caps=caps)
    response_pairs = scores.assign(customer_id=scores["customer_id"].astype(str)).merge(
        eligible, on="customer_id"
    )
    response = select_contacts(
        response_pairs.assign(priority=lambda d: d["response_probability"], cost=0.0), caps=caps
    )
    assert oracle["offer"].value_counts().to_dict() == caps

    ours, best, resp = (_true_revenue(c, effects) for c in (contacts, oracle, response))
    print(f"true incremental revenue: plan {ours:.0f}, oracle {best:.0f}, response {resp:.0f}")
    return ours, best, resp


def test_plan_beats_response_targeting_and_stays_near_the_oracle(planned) -> None:
    ours, best, resp = _true_revenues(planned)
    assert ours > 0 and ours >= 1.3 * resp
    # A regression floor: 0.880 of the oracle on this shop (plan 46,743, oracle 53,089, response -36,695);
    # the 0.85 line at 30,000 customers is the benchmark's.
    assert ours >= 0.80 * best, f"plan reaches {ours / best:.3f} of the oracle"


def test_plan_excludes_anomalous_and_holds_out_per_segment(planned) -> None:
    _, _, customers, plan = planned
    flagged = set(customers.loc[customers["is_anomalous"].astype(bool), "customer_id"])
    assert flagged and not (set(plan.loc[plan["offer"].notna(), "customer_id"]) & flagged)
    assert np.isclose(
        plan["expected_incremental_profit"].clip(lower=0).sum(), plan["expected_incremental_profit"].sum()
    )
    held = (plan["group"] == "holdout").sum() / plan["offer"].notna().sum()
    assert held == pytest.approx(0.1, abs=0.01)
