"""The pipeline's campaign plan against the planted effects of generated shops.

For each seed a throw-away project (a copy of the code and the repository's ``params.yaml``) generates a
shop, ingests it, runs ``segmint train`` then ``segmint campaign``, and the plan's sent offers are valued
with the shop's ``truth/effects.parquet`` (``true_incremental_revenue``). Two references send the same
number of contacts per offer: the oracle (the highest true incremental revenue) and response targeting
(each customer's likeliest offer by the champion's ``response_probability``), both among the customers
the plan may contact (not flagged by the anomaly detector, not opted out). Writes
``benchmarks/results/campaign_truth.json``; ``--trained DIR ...`` values projects already planned so.

    python -m benchmarks.campaign_truth --customers 30000 --seeds 21,22
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.results_file import write_result
from benchmarks.speed import _make_project, _segmint, _tail
from segmint.campaign import select_contacts

# the plan's true incremental revenue: at least this share of the oracle's, and this multiple of response
# targeting's (compared as plan >= 1.3 × response, which also holds when response targeting loses money)
TARGETS = {"oracle_ratio": 0.85, "response_multiple": 1.3}


def sent_contacts(plan: pd.DataFrame) -> pd.DataFrame:
    """The plan's treatment sends (the hold-out gets nothing)."""
    return plan[(plan["group"] == "treatment") & plan["offer"].notna()]


def true_revenue(contacts: pd.DataFrame, effects: pd.DataFrame) -> float:
    """The planted incremental revenue of sending each contact its offer."""
    joined = contacts[["customer_id", "offer"]].merge(effects, on=["customer_id", "offer"], how="left")
    return float(joined["true_incremental_revenue"].fillna(0.0).sum())


def top_contacts(
    pairs: pd.DataFrame, priority: str, eligible: pd.DataFrame, caps: dict[str, int]
) -> pd.DataFrame:
    """The ``caps`` contacts per offer among the ``eligible`` customers, by the highest ``priority``
    column of the customer × offer ``pairs`` (the oracle: true incremental revenue; response
    targeting: response probability)."""
    chosen = pairs.assign(customer_id=pairs["customer_id"].astype(str)).merge(eligible, on="customer_id")
    return select_contacts(chosen.assign(priority=chosen[priority], cost=0.0), caps=caps)


def plan_against_truth(project: Path) -> dict[str, Any]:
    """True incremental revenue of the plan's sends, of the oracle and of response targeting."""
    outputs, truth = project / "outputs", project / "shop" / "truth"
    effects = pd.read_parquet(truth / "effects.parquet")[["customer_id", "offer", "true_incremental_revenue"]]
    effects = effects.assign(customer_id=effects["customer_id"].astype(str))
    plan = pd.read_parquet(outputs / "campaign_plan.parquet")
    scores = pd.read_parquet(outputs / "customer_scores.parquet", columns=["customer_id", "is_anomalous"])
    customers = pd.read_parquet(project / "shop" / "customers.parquet", columns=["customer_id", "opted_out"])
    sent = sent_contacts(plan)
    caps = sent["offer"].value_counts().to_dict()
    blocked = set(scores.loc[scores["is_anomalous"].astype(bool), "customer_id"].astype(str))
    blocked |= set(customers.loc[customers["opted_out"].astype(bool), "customer_id"].astype(str))
    eligible = pd.DataFrame({"customer_id": sorted(set(effects["customer_id"]) - blocked)})
    uplift = pd.read_parquet(outputs / "uplift_scores.parquet")
    plan_rev = true_revenue(sent, effects)
    oracle_rev = true_revenue(top_contacts(effects, "true_incremental_revenue", eligible, caps), effects)
    response_rev = true_revenue(top_contacts(uplift, "response_probability", eligible, caps), effects)
    metrics = _campaign_metrics(project)
    return {
        "contacts_per_offer": {str(k): int(v) for k, v in caps.items()},
        "holdout": int((plan["group"] == "holdout").sum()),
        "valuation": metrics.get("valuation"),
        "plan_true_incremental_revenue": round(plan_rev, 2),
        "oracle_true_incremental_revenue": round(oracle_rev, 2),
        "response_true_incremental_revenue": round(response_rev, 2),
        "oracle_ratio": round(plan_rev / oracle_rev, 4) if oracle_rev > 0 else None,
        "response_ratio": round(plan_rev / response_rev, 4) if response_rev > 0 else None,
        "beats_response": bool(plan_rev >= TARGETS["response_multiple"] * response_rev),
    }


def _campaign_metrics(project: Path) -> dict[str, Any]:
    file = project / "metrics" / "campaign.json"
    return json.loads(file.read_text()) if file.exists() else {}


def bench_seed(workdir: Path, customers: int, seed: int) -> dict[str, Any]:
    """Generate, ingest, train and plan one shop of ``customers`` customers, then value its plan."""
    project = _make_project(workdir / f"shop-{customers}-{seed}", customers)
    out: dict[str, Any] = {"seed": seed, "customers": customers}
    args = ("generate", "--out", "shop", "--customers", str(customers), "--seed", str(seed))
    out["generate"] = _segmint(project, *args)
    out["ingest"] = _segmint(project, "ingest", "--source", "canonical", "--path", "shop")
    out["train"] = _segmint(project, "train")
    out["campaign"] = _segmint(project, "campaign") if out["train"]["rc"] == 0 else None
    if out["campaign"] is None or out["campaign"]["rc"] != 0:
        out["error"] = _tail(project / "run.log")
        return out
    out.update(plan_against_truth(project))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=30_000)
    parser.add_argument("--seeds", default="21,22")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--name", default="campaign_truth")
    parser.add_argument(
        "--trained", type=Path, nargs="+", default=None, help="value these planned projects instead"
    )
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.trained:
        runs = [{"project": project.name, **plan_against_truth(project)} for project in args.trained]
    else:
        with tempfile.TemporaryDirectory(prefix="campaign-truth-") as tmp:
            workdir = args.workdir or Path(tmp)
            runs = [bench_seed(workdir, args.customers, seed) for seed in seeds]
    met = {
        "oracle_ratio": all((run.get("oracle_ratio") or 0.0) >= TARGETS["oracle_ratio"] for run in runs),
        "response_multiple": all(run.get("beats_response", False) for run in runs),
    }
    write_result(args.name, {"targets": TARGETS, "met": met, "runs": runs})
    return 0 if all(met.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
