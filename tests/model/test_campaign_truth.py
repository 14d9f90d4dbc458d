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
import pytest

from benchmarks.campaign_truth import sent_contacts, top_contacts, true_revenue
from benchmarks.uplift_plan_learners import campaign_inputs, campaign_plan, contactable, oracle_contacts
from segmint.settings import load_settings
from segmint.uplift import fit_uplift

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def planned():
    """The stage's path on a generated shop: train on features as of the sends, score, flag, segment
    and value customers on features as of the end of the data, plan as of then."""
    settings = load_settings(ROOT / "params.yaml")
    inputs = campaign_inputs(10_000, 9, settings)
    model = fit_uplift(inputs.wave_features, inputs.campaigns, settings.uplift).model
    scores = model.predict(inputs.features)
    return inputs, scores, campaign_plan(inputs, scores, settings)


def _true_revenues(planned) -> tuple[float, float, float]:
    """True incremental revenue of the plan's sends, the oracle and response targeting (the same contacts
    per offer, among the customers the plan may contact)."""
    inputs, scores, plan = planned
    customers, effects = inputs.customers, inputs.effects
    contacts = sent_contacts(plan)
    caps = contacts["offer"].value_counts().to_dict()
    assert len(contacts) > 0.1 * len(customers)
    oracle = oracle_contacts(inputs, caps)
    response = top_contacts(scores, "response_probability", contactable(inputs), caps)
    assert oracle["offer"].value_counts().to_dict() == caps

    ours, best, resp = (true_revenue(c, effects) for c in (contacts, oracle, response))
    print(f"true incremental revenue: plan {ours:.0f}, oracle {best:.0f}, response {resp:.0f}")
    return ours, best, resp


def test_plan_beats_response_targeting_and_stays_near_the_oracle(planned) -> None:
    ours, best, resp = _true_revenues(planned)
    assert ours > 0 and ours >= 1.3 * resp
    # A regression floor: 0.880 of the oracle on this shop (plan 46,743, oracle 53,089, response -36,695);
    # the 0.85 line at 30,000 customers is the benchmark's.
    assert ours >= 0.80 * best, f"plan reaches {ours / best:.3f} of the oracle"


def test_plan_excludes_anomalous_and_holds_out_per_segment(planned) -> None:
    inputs, _, plan = planned
    customers = inputs.customers
    flagged = set(customers.loc[customers["is_anomalous"].astype(bool), "customer_id"])
    assert flagged and not (set(plan.loc[plan["offer"].notna(), "customer_id"]) & flagged)
    assert np.isclose(
        plan["expected_incremental_profit"].clip(lower=0).sum(), plan["expected_incremental_profit"].sum()
    )
    held = (plan["group"] == "holdout").sum() / plan["offer"].notna().sum()
    assert held == pytest.approx(0.1, abs=0.01)
