"""evaluate_pair records a failing champion and a first model's baseline; the gate reads both."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from segmint.gate import PROMOTE, REVIEW, BaselineCheck, decide
from segmint.settings import GateRule, Settings
from tasks.evaluate import PairSpec, Scored, evaluate_pair
from tasks.gate import gate_inputs
from tasks.paths import ProjectPaths
from tests.unit.registry_double import patched_registry


def _spec(baseline=None) -> PairSpec:
    return PairSpec(
        kind="uplift",
        quality_name="qini_auc",
        filename="model.pkl",
        read_data=lambda settings, paths: "data",
        unwrap=lambda champion: champion,
        score_challenger=lambda model, data, settings: Scored(0.05),
        score_champion=lambda model, data, settings: Scored(0.01),
        baseline=baseline,
    )


@pytest.fixture
def registry(monkeypatch):
    """A challenger on disk and a registry whose champion ``load`` is set by each test."""
    return patched_registry(monkeypatch, object(), {"version": "3", "load": lambda: None}, "4")


def _evaluate(spec: PairSpec) -> dict:
    return evaluate_pair(spec, Settings(), ProjectPaths(Path("unused")))


def test_a_champion_that_fails_to_load_is_recorded_and_sent_for_review(registry):
    def broken():
        raise EOFError("Ran out of input")

    registry["load"] = broken
    record = _evaluate(_spec())
    assert record["challenger_quality"] == 0.05 and record["champion_quality"] is None
    assert record["champion_error"] == "champion version 3: EOFError: Ran out of input"
    inputs = gate_inputs("uplift", record, {"drift_detected": False}, True)
    decision = decide(inputs, GateRule())
    assert decision.decision == REVIEW and "EOFError: Ran out of input" in decision.reasons[0]


def test_a_champion_that_fails_to_score_is_recorded(registry):
    registry["load"] = lambda: object()

    def failing(model, data, settings):
        raise ValueError("features lack the champion's column 'x'")

    record = _evaluate(replace(_spec(), score_champion=failing))
    assert "ValueError: features lack the champion's column 'x'" in record["champion_error"]
    assert "champion" not in record  # no half-recorded champion result


def test_without_a_champion_the_baseline_is_measured_and_read_by_the_gate(registry):
    registry["version"] = None
    check = BaselineCheck(baseline="random targeting", measure="qini", estimate=0.05, low=0.02, high=0.08)
    record = _evaluate(_spec(lambda model, new, data, settings: check))
    assert "champion_error" not in record and record["baseline"]["low"] == 0.02
    inputs = gate_inputs("uplift", record, {}, True)
    assert inputs.baseline == check and decide(inputs, GateRule()).decision == PROMOTE


def test_a_baseline_that_cannot_be_measured_is_not_proven(registry):
    registry["version"] = None

    def failing(model, new, data, settings):
        raise RuntimeError("popularity could not be fitted")

    record = _evaluate(_spec(failing))
    assert "popularity could not be fitted" in record["baseline"]["note"]
    decision = decide(gate_inputs("uplift", record, {}, True), GateRule())
    assert decision.decision == REVIEW and "popularity could not be fitted" in decision.reasons[0]
