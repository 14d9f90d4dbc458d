"""Promotion rules: every decision has reasons; quality, stability and drift decide."""

import pandas as pd
import pytest

from segmint.gate import (
    KEEP_CHALLENGER,
    PROMOTE,
    REJECT,
    REVIEW,
    BaselineCheck,
    GateInputs,
    catalogue_coverage,
    decide,
    gate_record,
    share_shift,
)
from segmint.settings import GateRule

RULE = GateRule(quality_tolerance=0.02, min_stability=0.7, promote_on_drift=False)


def _inputs(**kw):
    base = dict(quality_name="silhouette", challenger_quality=0.30, champion_quality=0.30, stability=0.9)
    return GateInputs(**{**base, **kw})


RANDOM = dict(baseline="random targeting", measure="qini_auc difference")


def _first(baseline):
    return _inputs(champion_quality=None, stability=None, baseline=baseline)


def test_first_model_becomes_champion_only_when_its_interval_beats_the_baseline():
    d = decide(_first(BaselineCheck(**RANDOM, estimate=0.04, low=0.01, high=0.07)), RULE)
    assert d.decision == PROMOTE and d.promotes and "first model" in d.reasons[0]
    assert "random targeting" in d.reasons[0] and "0.0100" in d.reasons[0]


def test_first_model_whose_interval_covers_zero_is_kept_with_the_baseline_named():
    d = decide(_first(BaselineCheck(**RANDOM, estimate=0.02, low=-0.01, high=0.05)), RULE)
    assert d.decision == KEEP_CHALLENGER and not d.promotes
    assert "random targeting" in d.reasons[0] and "-0.0100" in d.reasons[0] and "0.0500" in d.reasons[0]
    # a lower bound exactly at zero is not above zero
    assert decide(_first(BaselineCheck(**RANDOM, estimate=0.02, low=0.0, high=0.04)), RULE).decision == (
        KEEP_CHALLENGER
    )


def test_first_model_without_a_baseline_interval_is_not_proven():
    missing = BaselineCheck(**RANDOM, estimate=0.03, note="the evaluation gives no interval")
    d = decide(_first(missing), RULE)
    assert d.decision == REVIEW and "random targeting" in d.reasons[0] and "no interval" in d.reasons[0]
    assert decide(_first(BaselineCheck(**RANDOM, low=float("nan"))), RULE).decision == REVIEW
    d = decide(_first(None), RULE)
    assert d.decision == REVIEW and "not proven" in d.reasons[0]


def test_first_segmenter_needs_its_bootstrap_stability_at_the_minimum():
    def check(value):
        return BaselineCheck(
            baseline="segment.min_stability",
            measure="bootstrap stability",
            floor=0.8,
            low=value,
            inclusive=True,
        )

    assert decide(_first(check(0.8)), RULE).decision == PROMOTE
    d = decide(_first(check(0.79)), RULE)
    assert d.decision == KEEP_CHALLENGER and "0.7900" in d.reasons[0] and "≥ 0.8" in d.reasons[0]


def test_first_model_that_is_the_baseline_itself_is_promoted_and_says_so():
    same = BaselineCheck(baseline="popularity", measure="ndcg difference", identical=True)
    d = decide(_first(same), RULE)
    assert d.decision == PROMOTE and "popularity baseline itself" in d.reasons[0]


def test_a_champion_that_failed_is_never_replaced_and_its_error_is_named():
    error = "UnpicklingError: invalid load key, 'x'"
    better = _inputs(challenger_quality=0.9, champion_quality=None, champion_error=error)
    d = decide(better, RULE)
    assert d.decision == REVIEW and not d.promotes and d.needs_review
    assert "champion failed" in d.reasons[0] and error in d.reasons[0]
    # even with a champion quality on record, the failure wins
    assert decide(_inputs(champion_error="boom"), RULE).decision == REVIEW
    # the failure is told apart from "no champion yet"
    assert "no champion yet" not in " ".join(d.reasons)


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
    failed = _inputs(champion_error="boom", baseline=BaselineCheck(**RANDOM, low=0.1))
    record = gate_record(failed, decide(failed, RULE))
    assert record["inputs"]["champion_error"] == "boom" and record["inputs"]["baseline"]["low"] == 0.1


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
