"""Behavioural check on real data: the tuned champion beats popularity and EASE on Online Retail."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def shared_data_dir() -> Path:
    return ROOT.parent / "shared" / "data"


@pytest.mark.slow
def test_champion_beats_popularity_and_ease_on_online_retail():
    if not (shared_data_dir() / "online_retail_2010_2011").exists():
        pytest.skip("../shared/data not present")
    sys.path.insert(0, str(ROOT))
    from benchmarks.online_retail_tables import online_retail_tables
    from benchmarks.recsys import TUNED
    from segmint.recommend import evaluate_on_split, make_recommender, paired_bootstrap, temporal_split
    from segmint.settings import RecommendSettings

    tables = online_retail_tables()
    base = RecommendSettings(bootstrap_rounds=500)
    ours = base.model_copy(update=TUNED)
    split_plain, split_ours = temporal_split(tables, base), temporal_split(tables, ours)
    per = {}
    for name, settings, split in (
        ("popularity", base, split_plain),
        ("ease", base, split_plain),
        ("blend", ours, split_ours),
    ):
        model = make_recommender(name, settings).fit(split.train)
        per[name] = evaluate_on_split(model, split, base.k)
    assert per["blend"]["ndcg"] > 2 * per["popularity"]["ndcg"]
    vs_ease = paired_bootstrap(per["blend"]["per_customer"], per["ease"]["per_customer"], 500, base.seed)
    assert vs_ease["low"] > 0, vs_ease
