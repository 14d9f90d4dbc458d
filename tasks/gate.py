"""Gate: drift + quality + stability → a recorded promotion decision per model, applied atomically.

Every decision is made first; only then are the versions tagged and the ``champion`` aliases moved,
and a failure while moving restores the aliases already moved, so the registry never holds a
half-applied promotion. A rejected promotion is a recorded outcome, not an error.
"""

from __future__ import annotations

import contextlib
from typing import Any

import mlflow

from segmint.gate import PROMOTE, REVIEW, BaselineCheck, Decision, GateInputs, decide, gate_record
from segmint.settings import Settings
from tasks import tracking
from tasks.drift import drift_summary, record_drift
from tasks.io import read_json, write_json
from tasks.paths import ProjectPaths


def gate_inputs(
    kind: str, evaluation: dict[str, Any], drift: dict[str, Any], validation_passed: bool
) -> GateInputs:
    """What the gate weighs for model ``kind``, from the evaluation and drift findings."""
    stability = evaluation.get("stability", {}).get("ari") if kind == "segmenter" else None
    baseline = evaluation.get("baseline")
    return GateInputs(
        quality_name=evaluation.get("quality_name", "quality"),
        challenger_quality=evaluation.get("challenger_quality"),
        champion_quality=evaluation.get("champion_quality"),
        stability=stability,
        drift_detected=bool(drift.get("drift_detected", False)),
        validation_passed=validation_passed,
        skipped=evaluation.get("skipped"),
        champion_error=evaluation.get("champion_error"),
        baseline=BaselineCheck(**baseline) if baseline else None,
    )


def version_tags(decision: Decision, inputs: GateInputs, run_id: str | None) -> dict[str, str]:
    """The tags a model version carries after the gate: decision, reasons, inputs, review flag."""
    tags = {
        "gate.decision": decision.decision,
        "gate.reasons": " | ".join(decision.reasons),
        "gate.review": str(decision.decision == REVIEW).lower(),
        "gate.quality": f"{inputs.quality_name}: challenger={inputs.challenger_quality} "
        f"champion={inputs.champion_quality}",
        "gate.stability": str(inputs.stability),
        "gate.drift_detected": str(inputs.drift_detected).lower(),
        "gate.validation_passed": str(inputs.validation_passed).lower(),
    }
    if inputs.champion_error is not None:
        tags["gate.champion_error"] = inputs.champion_error
    if inputs.baseline is not None:
        tags["gate.baseline"] = inputs.baseline.describe()
    if run_id:
        tags["gate.run_id"] = run_id
    return tags


def version_description(decision: Decision) -> str:
    """The description a model version carries after the gate: the decision and each reason."""
    return "\n".join([f"Gate decision: {decision.decision}", *(f"- {reason}" for reason in decision.reasons)])


def apply_decisions(
    settings: Settings,
    decisions: dict[str, tuple[Decision, dict[str, Any]]],
    tags: dict[str, dict[str, str]] | None = None,
) -> None:
    """Tag and describe the challenger versions, then move the ``champion`` aliases of the promoted ones.

    On any failure the aliases already moved are restored (or removed when there was no champion)
    before the error is re-raised, so the registry is never left half-promoted.
    """
    tags = tags or {}
    for kind, (decision, evaluation) in decisions.items():
        version = evaluation.get("challenger_version")
        if version is not None:
            tracking.tag_version(
                settings,
                kind,
                version,
                tags.get(
                    kind, {"gate.decision": decision.decision, "gate.reasons": " | ".join(decision.reasons)}
                ),
            )
            tracking.describe_version(settings, kind, version, version_description(decision))
    moved: list[tuple[str, str | None]] = []
    try:
        for kind, (decision, evaluation) in decisions.items():
            version = evaluation.get("challenger_version")
            if version is None or not decision.promotes:
                continue
            previous = tracking.alias_version(settings, kind, tracking.CHAMPION)
            moved.append((kind, previous))
            tracking.set_alias(settings, kind, tracking.CHAMPION, version)
    except Exception:
        client = mlflow.tracking.MlflowClient()
        for kind, previous in reversed(moved):
            name = tracking.registered_name(settings, kind)
            if previous is None:
                # The failed move may never have set it.
                with contextlib.suppress(mlflow.exceptions.MlflowException):
                    client.delete_registered_model_alias(name, tracking.CHAMPION)
            else:
                client.set_registered_model_alias(name, tracking.CHAMPION, previous)
        raise


def _gate_entry(
    settings: Settings,
    kind: str,
    inputs: GateInputs,
    decision: Decision,
    evaluation: dict[str, Any],
    drift: dict[str, Any],
    run_id: str | None,
) -> dict[str, Any]:
    """What ``metrics/gate.json`` records for model ``kind``: the decision, its inputs and the versions."""
    return {
        **gate_record(inputs, decision),
        "review": decision.decision == REVIEW,
        "rule": getattr(settings.gate, kind).model_dump(),
        "challenger_version": evaluation.get("challenger_version"),
        "champion_version_before": evaluation.get("champion_version"),
        "champion_version": tracking.alias_version(settings, kind, tracking.CHAMPION),
        "challenger_quality": evaluation.get("challenger_quality"),
        "champion_quality": evaluation.get("champion_quality"),
        "quality_name": evaluation.get("quality_name"),
        "stability": evaluation.get("stability"),
        "champion_error": evaluation.get("champion_error"),
        "baseline": evaluation.get("baseline"),
        "drift": drift,
        "mlflow_run_id": run_id,
    }


def run_gate(settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    """Decide and apply the promotion of each challenger; write ``metrics/gate.json`` and ``drift.json``."""
    tracking.configure_mlflow(settings, paths)
    evaluations = read_json(paths.metric("evaluate"), {})
    validation = read_json(paths.metric("validation"), {})
    validation_passed = bool(validation.get("passed", False))
    drift = record_drift(settings, paths)
    active = mlflow.active_run()
    run_id = active.info.run_id if active is not None else None
    decisions: dict[str, tuple[Decision, dict[str, Any]]] = {}
    inputs: dict[str, GateInputs] = {}
    for kind in tracking.MODEL_KINDS:
        evaluation = evaluations.get(kind, {"skipped": "not evaluated"})
        inputs[kind] = gate_inputs(kind, evaluation, drift, validation_passed)
        decisions[kind] = (decide(inputs[kind], getattr(settings.gate, kind)), evaluation)
    tags = {kind: version_tags(decision, inputs[kind], run_id) for kind, (decision, _) in decisions.items()}
    apply_decisions(settings, decisions, tags)
    summary = drift_summary(drift)
    result = {
        kind: _gate_entry(settings, kind, inputs[kind], decision, evaluation, summary, run_id)
        for kind, (decision, evaluation) in decisions.items()
    }
    write_json(paths.metric("gate"), result)
    if active is not None:
        mlflow.set_tags({f"gate.{kind}": entry["decision"] for kind, entry in result.items()})
    return {
        "drift_detected": drift["drift_detected"],
        "drifted_share": drift["drifted_share"],
        **{f"promoted.{kind}": entry["decision"] == PROMOTE for kind, entry in result.items()},
    }
