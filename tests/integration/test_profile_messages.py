"""Customer 360 and campaign messages on the shared trained project, through the segmint command."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest

from segmint.settings import load_settings
from tasks.paths import ProjectPaths
from tasks.profile import customer_profiles
from tests.integration.conftest import run_segmint

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SENSITIVE = ("anomal", "fraud", "flag", "lapsing", "lapsed", "miss you", "stopped", "inactive")


def _sample_ids(scores: pd.DataFrame, plan: pd.DataFrame) -> list[str]:
    """A contacted, a held-out, a flagged and a not-contacted customer (those the project has)."""
    merged = scores.merge(plan[["customer_id", "group", "offer"]], on="customer_id", how="left")
    picks = [
        merged[(merged["group"] == "treatment") & merged["offer"].notna()],
        merged[merged["group"] == "holdout"],
        merged[merged["is_anomalous"]],
        merged[merged["offer"].isna()],
    ]
    return [str(frame["customer_id"].iloc[0]) for frame in picks if len(frame)]


def test_profile_agrees_with_customer_scores(trained_project):
    scores = pd.read_parquet(trained_project / "outputs" / "customer_scores.parquet")
    plan = pd.read_parquet(trained_project / "outputs" / "campaign_plan.parquet")
    assert scores["segment_reason"].str.len().gt(0).all() and scores["offer_reason"].str.len().gt(0).all()
    ids = _sample_ids(scores, plan)
    assert len(ids) >= 3
    done = run_segmint(trained_project, "profile", *ids, "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    profiles = json.loads(done.stdout)
    assert [p["customer_id"] for p in profiles] == ids
    table = scores.set_index("customer_id")
    for profile in profiles:
        row = table.loc[profile["customer_id"]]
        assert profile["segment"]["name"] == row["segment_name"]
        assert profile["segment"]["reason"] == row["segment_reason"]
        assert profile["value"]["tier"] == row["value_tier"]
        assert profile["anomaly"]["flagged"] == bool(row["is_anomalous"])
        assert profile["eligibility"]["flagged"] == bool(row["is_anomalous"])
        best = row["best_offer"] if isinstance(row["best_offer"], str) else None
        assert profile["offer"]["best_offer"] == best
        assert profile["offer"]["reason"] == row["offer_reason"]
        assert [r["product_id"] for r in profile["recommendations"]] == list(row["recommended_product_ids"])
        assert all(r["reason"] for r in profile["recommendations"])
        if row["is_anomalous"]:
            assert not profile["eligibility"]["eligible"] and profile["anomaly"]["summary"].startswith(
                "flagged"
            )
    text = run_segmint(trained_project, "profile", ids[0])
    assert text.returncode == 0 and f"customer {ids[0]}" in text.stdout and "segment:" in text.stdout


def test_unknown_customer_is_a_clear_bad_input(trained_project):
    done = run_segmint(trained_project, "profile", "NO-SUCH-CUSTOMER")
    assert done.returncode == 2
    assert "unknown customer id(s): NO-SUCH-CUSTOMER" in done.stderr


def test_one_customer_profile_is_fast(trained_project):
    paths = ProjectPaths(trained_project)
    settings = load_settings(paths.params)
    customer = str(
        pd.read_parquet(paths.outputs / "customer_scores.parquet", columns=["customer_id"]).iloc[0, 0]
    )
    customer_profiles(settings, paths, [customer])  # file system caches warm
    started, cpu = time.perf_counter(), time.process_time()
    customer_profiles(settings, paths, [customer])
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"one-customer profile: {wall:.3f} s wall, {cpu:.3f} s CPU")
    assert cpu < 2.0


def test_every_contacted_customer_gets_a_rendered_message(trained_project):
    plan = pd.read_parquet(trained_project / "outputs" / "campaign_plan.parquet")
    messages = pd.read_parquet(trained_project / "outputs" / "messages.parquet")
    assert list(messages.columns) == ["customer_id", "offer", "segment_name", "subject", "body"]
    contacted = plan[(plan["group"] == "treatment") & plan["offer"].notna()]
    assert len(contacted) > 0
    assert sorted(messages["customer_id"]) == sorted(contacted["customer_id"])
    assert (messages.set_index("customer_id")["offer"] == contacted.set_index("customer_id")["offer"]).all()
    for text in pd.concat([messages["subject"], messages["body"]]):
        assert text.strip() and not any(mark in text for mark in ("{{", "{%", "}}", "%}"))
        assert not any(word in text.lower() for word in SENSITIVE), text
    examples = pd.read_parquet(trained_project / "outputs" / "message_examples.parquet")
    pairs = messages[["segment_name", "offer"]].drop_duplicates()
    assert len(examples) == len(pairs) and examples["customers"].sum() == len(messages)
