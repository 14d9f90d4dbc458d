"""The CLV model is evaluated out of time and gated like the other models: a first model must beat the
naive past-spend rate on the test period, a champion that cannot be loaded means review, never promote."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmint import clv as clv_module
from segmint.clv import CLV_TARGET, CLVModel, CLVPeriods, fit_clv
from segmint.features import customer_features, future_labels
from segmint.gate import KEEP_CHALLENGER, PROMOTE, REVIEW, decide
from segmint.generate import PERIOD_END, generate_shop
from segmint.settings import FeatureSettings, GateRule, GenerateSettings, Settings
from tasks import tracking
from tasks.evaluate import PAIRS, CLVData, evaluate_pair
from tasks.gate import gate_inputs
from tasks.paths import ProjectPaths
from tasks.pyfunc import CLVPyfuncModel
from tests.unit.registry_double import patched_registry

HORIZON = 90
SETTINGS = Settings.model_validate({"clv": {"bootstrap_rounds": 100}})


@pytest.fixture(scope="module")
def shop_periods() -> tuple[CLVPeriods, CLVModel]:
    """A 2k-customer shop split as the pipeline splits it, and the challenger fitted as the uplift
    stage fits it (one bagged member instead of five, to keep the test short)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(clv_module, "BAGGED_SEEDS", 1)
        shop = generate_shop(GenerateSettings(customers=2_000, products=150, seed=5))
        cfg = FeatureSettings(label_window_days=HORIZON)
        cutoff = PERIOD_END - pd.Timedelta(days=HORIZON)
        calibration = cutoff - pd.Timedelta(days=HORIZON)
        periods = CLVPeriods(
            calibration=customer_features(shop.tables, calibration, cfg),
            calibration_labels=future_labels(shop.tables, calibration, HORIZON),
            test=customer_features(shop.tables, cutoff, cfg),
            test_labels=future_labels(shop.tables, cutoff, HORIZON),
            horizon_days=HORIZON,
            target=CLV_TARGET,
        )
        return periods, fit_clv(periods.test, periods.test_labels, seed=SETTINGS.clv.seed, target=CLV_TARGET)


@pytest.fixture
def registry(monkeypatch, shop_periods):
    """The challenger on disk, the shop's split as the evaluation data, a champion set by each test."""
    periods, challenger = shop_periods
    monkeypatch.setattr(clv_module, "BAGGED_SEEDS", 1)
    state: dict = {"periods": periods, "version": None, "load": lambda: None, "data": []}
    return patched_registry(monkeypatch, challenger, state, "5")


def _evaluate(state: dict) -> dict:
    def read_data(settings, paths):
        state["data"].append(CLVData(state["periods"]))
        return state["data"][-1]

    spec = replace(PAIRS["clv"], read_data=read_data)
    return evaluate_pair(spec, SETTINGS, ProjectPaths(Path("unused")))


def _decision(record: dict) -> str:
    return decide(gate_inputs("clv", record, {"drift_detected": False}, True), GateRule()).decision


def test_a_first_clv_model_that_beats_the_naive_rate_on_the_test_period_is_promoted(registry):
    record = _evaluate(registry)
    details = record["challenger"]
    assert record["quality_name"] == "spearman" and record["champion_quality"] is None
    assert (
        set(details["model"]) == set(details["naive_rate"]) == {"spearman", "top_decile_revenue_share", "mae"}
    )
    assert details["customers"] > 1_000 and record["challenger_quality"] == details["model"]["spearman"]
    baseline = record["baseline"]
    assert baseline["baseline"] == "naive past-spend rate" and baseline["low"] > 0 < baseline["estimate"]
    assert _decision(record) == PROMOTE


def test_a_first_clv_model_that_does_not_beat_the_naive_rate_is_not_promoted(registry):
    # Next-period spend shuffled across customers: nothing predicts it, so the interval covers 0.
    labels = registry["periods"].test_labels
    shuffled = np.random.default_rng(0).permutation(labels[CLV_TARGET].to_numpy())
    registry["periods"] = replace(registry["periods"], test_labels=labels.assign(**{CLV_TARGET: shuffled}))
    record = _evaluate(registry)
    assert record["baseline"]["low"] <= 0
    assert _decision(record) == KEEP_CHALLENGER


def test_a_clv_champion_that_cannot_be_loaded_means_review_never_promote(registry):
    def broken():
        raise tracking.ArtifactHashMismatchError("segmint-clv version 4: model files hash to x")

    registry["version"], registry["load"] = "4", broken
    record = _evaluate(registry)
    assert record["challenger_quality"] is not None and record["champion_quality"] is None
    assert "ArtifactHashMismatchError" in record["champion_error"] and "baseline" not in record
    assert _decision(record) == REVIEW


def test_a_later_clv_model_is_compared_with_the_champion_on_the_same_test_period(registry, shop_periods):
    _, challenger = shop_periods
    registry["version"] = "4"
    registry["load"] = lambda: CLVPyfuncModel(challenger)
    same = _evaluate(registry)
    # the champion's configuration is the challenger's: refit once, equal on the same customers
    assert len(registry["data"][-1].holdouts) == 1
    assert same["champion_quality"] == same["challenger_quality"]
    assert same["paired_difference"]["diff"] == 0.0 and _decision(same) == PROMOTE

    registry["load"] = lambda: CLVPyfuncModel(replace(challenger, seed=challenger.seed + 100))
    other = _evaluate(registry)
    assert len(registry["data"][-1].holdouts) == 2 and other["champion"]["seed"] == challenger.seed + 100
    difference = other["paired_difference"]
    assert difference["low"] <= difference["diff"] <= difference["high"]
    assert other["challenger"]["customers"] == other["champion"]["customers"]
