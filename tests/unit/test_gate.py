"""Promotion rules: every decision has reasons; quality, stability and drift decide."""

from segmint.gate import KEEP_CHALLENGER, PROMOTE, REJECT, REVIEW, GateInputs, decide
from segmint.settings import GateRule

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
