"""Promotion rules: every decision has reasons; quality, stability and drift decide."""

import pandas as pd
import pytest

from segmint.gate import (
    KEEP_CHALLENGER,
    PROMOTE,
    REJECT,
    REVIEW,
    GateInputs,
    catalogue_coverage,
    decide,
    gate_record,
    retraining_needed,
    share_shift,
)
from segmint.settings import GateRule, GateSettings

RULE = GateRule(quality_tolerance=0.02, min_stability=0.7, promote_on_drift=False)


def _inputs(**kw):
    base = dict(quality_name="silhouette", challenger_quality=0.30, champion_quality=0.30, stability=0.9)
    return GateInputs(**{**base, **kw})


def test_first_model_becomes_champion():
    d = decide(_inputs(champion_quality=None, stability=None), RULE)
    assert d.decision == PROMOTE and d.promotes and "first model" in d.reasons[0]


def test_worse_challenger_is_kept_as_challenger_with_numbers_in_reasons():
    d = decide(_inputs(challenger_quality=0.20), RULE)
    assert d.decision == KEEP_CHALLENGER and not d.promotes
    assert "0.2000" in d.reasons[0] and "0.3000" in d.reasons[0]


def test_within_tolerance_and_stable_is_promoted():
    assert decide(_inputs(challenger_quality=0.29), RULE).decision == PROMOTE


def test_unstable_without_drift_is_kept():
    d = decide(_inputs(stability=0.4), RULE)
    assert d.decision == KEEP_CHALLENGER and any("did not drift" in r for r in d.reasons)


def test_unstable_with_drift_needs_review_unless_params_allow():
    assert decide(_inputs(stability=0.4, drift_detected=True), RULE).decision == REVIEW
    allow = GateRule(quality_tolerance=0.02, min_stability=0.7, promote_on_drift=True)
    assert decide(_inputs(stability=0.4, drift_detected=True), allow).decision == PROMOTE


def test_failed_validation_or_skipped_stage_rejects():
    assert decide(_inputs(validation_passed=False), RULE).decision == REJECT
    d = decide(_inputs(skipped="no orders"), RULE)
    assert d.decision == REJECT and "no orders" in d.reasons[0]
    assert decide(_inputs(challenger_quality=None), RULE).decision == REJECT


def test_drift_is_named_in_the_reasons_of_a_promotion():
    d = decide(_inputs(drift_detected=True), RULE)
    assert d.decision == PROMOTE and any("drifted" in r for r in d.reasons)


def test_gate_record_carries_the_inputs_of_the_decision():
    inputs = _inputs(stability=0.4, drift_detected=True)
    record = gate_record(inputs, decide(inputs, RULE))
    assert record["decision"] == REVIEW and record["reasons"]
    assert record["inputs"]["stability"] == 0.4 and record["inputs"]["drift_detected"] is True


def test_share_shift_is_zero_for_identical_shares_and_grows_with_the_move():
    same = share_shift(pd.Series(list("aabbc")), pd.Series(list("abcab")))
    assert same.psi == pytest.approx(0.0) and same.total_variation == pytest.approx(0.0)
    moved = share_shift(pd.Series(["a"] * 50 + ["b"] * 50), pd.Series(["a"] * 90 + ["c"] * 10))
    assert moved.psi > 0.2 and moved.total_variation == pytest.approx(0.5)
    shares = moved.shares.set_index("category")
    assert shares.loc["c", "reference_share"] == 0.0 and shares.loc["c", "current_share"] == pytest.approx(
        0.1
    )


def test_catalogue_coverage_counts_distinct_recommended_items():
    recs = pd.Series([["p1", "p2"], ["p2", "p3"], []])
    assert catalogue_coverage(recs, 10) == pytest.approx(0.3)
    assert catalogue_coverage(recs, 0) == 0.0


def test_retraining_needed_follows_thresholds_and_switch():
    settings = GateSettings(drift_share_threshold=0.3, prediction_psi_threshold=0.2)
    calm = {"drift_detected": False, "drifted_share": 0.1, "drifted_columns": ["recency_days"]}
    retrain, reasons = retraining_needed(calm, settings)
    assert not retrain and any("recency_days" in r for r in reasons) and "no retraining" in reasons[-1]
    drifted = {"drift_detected": True, "drifted_share": 0.5, "drifted_columns": ["monetary", "frequency"]}
    retrain, reasons = retraining_needed(drifted, settings)
    assert retrain and "monetary" in reasons[0] and "triggered" in reasons[-1]
    moved = {**calm, "predictions": {"segments": {"psi": 0.5}}}
    assert retraining_needed(moved, settings)[0]
    off = GateSettings(retrain_on_drift=False)
    retrain, reasons = retraining_needed(drifted, off)
    assert not retrain and "retrain_on_drift is off" in reasons[-1]
