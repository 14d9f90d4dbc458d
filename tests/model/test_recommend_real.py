"""On real data the pipeline's own selection makes the benchmark's pick, and its reported numbers hold.

The selection chooses on the inner split; the numbers checked here are the pick refit on the outer
training part and scored on the outer test period, which nothing chose on.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "online_retail_2010_2011"
RESULTS = ROOT / "benchmarks" / "results"


def online_retail_folder() -> Path:
    """The Online Retail folder; missing, a failure under CI (``CI=true``) and a skip elsewhere."""
    if not DATA.is_dir():
        message = f"{DATA} is missing"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}: CI must provide ../shared/data")
        pytest.skip(message)
    return DATA


@pytest.mark.slow
def test_pipeline_selection_makes_the_benchmark_pick_on_online_retail():
    folder = online_retail_folder()
    sys.path.insert(0, str(ROOT))
    from benchmarks.online_retail_tables import online_retail_tables
    from benchmarks.recsys_tune import make_peer
    from segmint.recommend import choose_recommender, evaluate_on_split, paired_bootstrap, temporal_split
    from segmint.settings import load_settings

    results = json.loads((RESULTS / "recsys.json").read_text())
    tuned_ease = json.loads((RESULTS / "recsys_tune.json").read_text())["peers"]["ease_peer"]
    tables = online_retail_tables(folder)
    ours = load_settings(ROOT / "params.yaml").recommend.model_copy(update={"bootstrap_rounds": 1000})
    choice = choose_recommender(tables, None, ours)

    # what the recommend stage registers is the candidate the benchmark reports, on the same rows
    assert choice.name == results["pick"], choice.candidates
    assert choice.metrics["selection_split"] == results["selection_split"]
    assert choice.metrics["report_split"] == results["report_split"]
    assert choice.metrics["selection_split"]["test_to"] < choice.metrics["report_split"]["test_from"]
    assert choice.metrics["ndcg"] == pytest.approx(results["pick_metrics"]["ndcg"], abs=1e-4)
    # on the outer test period the pick clears popularity, refit beside it, by far
    vs_popularity = choice.metrics["vs_popularity"]
    assert vs_popularity["low"] > 0
    assert choice.metrics["ndcg"] > 2 * (choice.metrics["ndcg"] - vs_popularity["diff"])

    # EASE with the configuration tuned for it on the same inner split, refit on the outer training
    # part: the pick is not worse beyond the noise (a lead inside the noise is a tie, and the
    # pipeline's pick on this data is EASE itself)
    settings = ours.model_copy(update={"recency_half_life_days": tuned_ease["recency_half_life_days"]})
    split = temporal_split(tables, settings)
    ease = evaluate_on_split(
        make_peer("ease_peer", tuned_ease["knobs"], settings).fit(split.train), split, ours.k
    )
    vs_ease = paired_bootstrap(choice.per_customer, ease["per_customer"], 1000, ours.seed)
    assert vs_ease["high"] >= 0, vs_ease
    assert vs_ease["diff"] == pytest.approx(
        results["paired_bootstrap_ndcg"][f"{choice.name}_vs_ease_peer"]["diff"]
    )
