"""Which uplift learners make the best campaign plan: the plan's true incremental revenue against the
oracle's, per learner set, on generated shops of development seeds.

The campaign stage's path, in process: the uplift model fitted on features as of each wave's send
(``fit_uplift`` with the candidate learners, every other setting from ``params.yaml``), the detector's
anomaly flags, the fitted segmenter's segments, the segment calibration, the order-value valuation
and the committed campaign settings. Each plan's sends are valued with the shop's planted
``truth/effects.parquet``; the oracle sends the same number of contacts per offer to the customers with
the highest true incremental revenue, among those the plan may contact.

The seeds are development seeds: neither the campaign-truth benchmark's (21, 22) nor the test's (9).
A learner set's line is the plan/oracle ratio per seed, the learner selection chose per offer, and
the mean over seeds. Writes ``benchmarks/results/uplift_plan_learners.json``.

    python -m benchmarks.uplift_plan_learners --customers 30000 --seeds 31,32,33,34
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.campaign_truth import sent_contacts, top_contacts, true_revenue
from benchmarks.results_file import PROJECT_ROOT, write_result
from segmint.anomaly import fit_anomaly_detector
from segmint.campaign import plan_campaign, segment_calibrated_scores
from segmint.contracts import latest_timestamp
from segmint.features import customer_features
from segmint.generate import generate_shop
from segmint.segmentation import fit_segmenter
from segmint.settings import GenerateSettings, Settings, load_settings
from segmint.uplift import fit_uplift
from segmint.uplift.waves import wave_features
from segmint.value import conversion_valuation
from tasks.campaign import customer_contacts

LEARNER_SETS: tuple[tuple[str, ...], ...] = (
    ("x_learner", "logistic_t_learner"),
    ("x_learner",),
    ("logistic_t_learner",),
    ("ensemble",),
    ("x_learner", "ensemble"),
)


@dataclass(frozen=True)
class CampaignInputs:
    """What the campaign stage plans from, for one generated shop, plus the shop's planted effects."""

    features: pd.DataFrame  # as of the end of the data
    wave_features: pd.DataFrame  # as of each wave's send (what the uplift stage fits on)
    campaigns: pd.DataFrame
    segments: pd.DataFrame
    customers: pd.DataFrame  # contacts, segment, anomaly flag and expected value per customer
    effects: pd.DataFrame  # [customer_id, offer, true_incremental_revenue]
    as_of: pd.Timestamp


def campaign_inputs(customers: int, seed: int, settings: Settings) -> CampaignInputs:
    """Generate a shop and build the campaign stage's inputs from it, the uplift model excepted."""
    shop = generate_shop(GenerateSettings(customers=customers, seed=seed))
    tables, campaigns = shop.tables, shop.tables.campaigns
    as_of = latest_timestamp(tables)
    features = customer_features(tables, as_of, settings.features)
    flags = fit_anomaly_detector(features, settings.anomaly).score(features)
    segments = fit_segmenter(features, settings.segment).assign(features)[["customer_id", "segment_id"]]
    valuation = conversion_valuation(features, campaigns)
    frame = (
        customer_contacts(tables.customers, campaigns)
        .merge(segments, on="customer_id", how="left")
        .merge(flags[["customer_id", "is_anomalous"]], on="customer_id", how="left")
        .assign(
            customer_id=lambda d: d["customer_id"].astype(str),
            is_anomalous=lambda d: d["is_anomalous"].fillna(False),
        )
    )
    effects = shop.truth["effects"][["customer_id", "offer", "true_incremental_revenue"]]
    return CampaignInputs(
        features=features,
        wave_features=wave_features(tables, settings.features),
        campaigns=campaigns,
        segments=segments,
        customers=frame.assign(expected_value=frame["customer_id"].map(valuation.values).to_numpy()),
        effects=effects.assign(customer_id=effects["customer_id"].astype(str)),
        as_of=as_of,
    )


def campaign_plan(inputs: CampaignInputs, scores: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """The plan from the model's scores, as the campaign stage makes it (sends and hold-out)."""
    calibrated = segment_calibrated_scores(scores, inputs.segments, inputs.campaigns)
    return plan_campaign(calibrated, inputs.customers, settings.campaign, as_of=inputs.as_of).plan


def contactable(inputs: CampaignInputs) -> pd.DataFrame:
    """``[customer_id]`` of the customers the plan may contact: not flagged anomalous, not opted out."""
    blocked = inputs.customers["is_anomalous"].astype(bool) | inputs.customers["opted_out"].astype(bool)
    return inputs.customers.loc[~blocked, ["customer_id"]]


def oracle_contacts(inputs: CampaignInputs, caps: dict[str, int]) -> pd.DataFrame:
    """The same contacts per offer, to the eligible customers of the highest true incremental revenue."""
    return top_contacts(inputs.effects, "true_incremental_revenue", contactable(inputs), caps)


def learner_set_result(
    inputs: CampaignInputs, learners: tuple[str, ...], settings: Settings
) -> dict[str, Any]:
    """Fit the uplift model with ``learners`` as candidates, plan, and value the plan against the oracle."""
    start = time.perf_counter()
    uplift = settings.uplift.model_copy(update={"learners": learners})
    selection = fit_uplift(inputs.wave_features, inputs.campaigns, uplift)
    scores = selection.model.predict(inputs.features)
    sent = sent_contacts(campaign_plan(inputs, scores, settings))
    caps = {str(k): int(v) for k, v in sent["offer"].value_counts().items()}
    plan, oracle = (
        true_revenue(sent, inputs.effects),
        true_revenue(oracle_contacts(inputs, caps), inputs.effects),
    )
    return {
        "chosen": dict(selection.model.learner_names),
        "contacts_per_offer": caps,
        "plan_true_incremental_revenue": round(plan, 2),
        "oracle_true_incremental_revenue": round(oracle, 2),
        "oracle_ratio": round(plan / oracle, 4) if oracle > 0 else None,
        "fit_and_plan_seconds": round(time.perf_counter() - start, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=30_000)
    parser.add_argument("--seeds", default="31,32,33,34")
    parser.add_argument("--name", default="uplift_plan_learners")
    args = parser.parse_args(argv)
    settings = load_settings(PROJECT_ROOT / "params.yaml")
    seeds = [int(s) for s in args.seeds.split(",")]
    per_set: dict[str, dict[str, Any]] = {" + ".join(s): {"per_seed": {}} for s in LEARNER_SETS}
    for seed in seeds:
        inputs = campaign_inputs(args.customers, seed, settings)
        for learners in LEARNER_SETS:
            result = learner_set_result(inputs, learners, settings)
            per_set[" + ".join(learners)]["per_seed"][str(seed)] = result
            print(seed, learners, result["oracle_ratio"], result["chosen"], flush=True)
    for entry in per_set.values():
        ratios = [run["oracle_ratio"] for run in entry["per_seed"].values()]
        entry.update(mean_oracle_ratio=round(float(np.mean(ratios)), 4), min_oracle_ratio=min(ratios))
    write_result(
        args.name,
        {
            "customers": args.customers,
            "seeds": seeds,
            "params": "params.yaml as committed, uplift.learners replaced by each learner set",
            "learner_sets": per_set,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
