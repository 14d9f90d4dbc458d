"""Gate: drift + quality + stability → a recorded promotion decision per model, applied atomically."""

from __future__ import annotations

from typing import Any

import mlflow

from segmint.gate import Decision, GateInputs, decide
from segmint.settings import Settings
from tasks import tracking
from tasks.drift import drift_report
from tasks.features import FEATURES
from tasks.io import read_json, read_parquet, write_json
from tasks.paths import ProjectPaths


def feature_drift(settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    """Drift of the current features against the data the champion segmenter was trained on."""
    version = tracking.alias_version(settings, "segmenter", tracking.CHAMPION)
    if version is None:
        return {
            "drift_detected": False,
            "drifted_share": 0.0,
            "drifted_columns": [],
            "columns": {},
            "note": "no champion yet: nothing to compare against",
        }
    run_id = tracking.version_run_id(settings, "segmenter", version)
    reference = tracking.load_run_frame(run_id, "reference/features.parquet")
    if reference is None:
        return {"drift_detected": False, "drifted_share": 0.0, "drifted_columns": [], "columns": {},
                "note": f"champion version {version} has no reference data"}
    current = read_parquet(paths.features / FEATURES)
    html = paths.reports / "drift" / "features.html"
    result = drift_report(reference, current, settings.gate.drift_share_threshold, html, settings.project.seed)
    result.update(reference_version=version, report=str(html.relative_to(paths.root)))
    return result


def gate_inputs(kind: str, evaluation: dict[str, Any], drift: dict[str, Any], validation_passed: bool) -> GateInputs:
    stability = evaluation.get("stability", {}).get("ari") if kind == "segmenter" else None
    return GateInputs(
        quality_name=evaluation.get("quality_name", "quality"),
        challenger_quality=evaluation.get("challenger_quality"),
        champion_quality=evaluation.get("champion_quality"),
        stability=stability,
        drift_detected=bool(drift.get("drift_detected", False)),
        validation_passed=validation_passed,
        skipped=evaluation.get("skipped"),
    )


def apply_decisions(settings: Settings, decisions: dict[str, tuple[Decision, dict[str, Any]]]) -> None:
    """Move the ``champion`` aliases; on any failure restore the ones already moved, then re-raise."""
    moved: list[tuple[str, str | None]] = []
    try:
        for kind, (decision, evaluation) in decisions.items():
            version = evaluation.get("challenger_version")
            if version is None:
                continue
            tracking.tag_version(
                settings, kind, version,
                {"gate.decision": decision.decision, "gate.reasons": " | ".join(decision.reasons)},
            )
            if decision.promotes:
                previous = tracking.alias_version(settings, kind, tracking.CHAMPION)
                tracking.set_alias(settings, kind, tracking.CHAMPION, version)
                moved.append((kind, previous))
    except Exception:
        client = mlflow.tracking.MlflowClient()
        for kind, previous in reversed(moved):
            name = tracking.registered_name(settings, kind)
            if previous is None:
                client.delete_registered_model_alias(name, tracking.CHAMPION)
            else:
                client.set_registered_model_alias(name, tracking.CHAMPION, previous)
        raise


def run_gate(settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    tracking.configure_mlflow(settings, paths)
    evaluation = read_json(paths.metric("evaluate"), {})
    validation = read_json(paths.metric("validation"), {})
    validation_passed = bool(validation.get("passed", False))
    drift = feature_drift(settings, paths)
    write_json(paths.metric("drift"), drift)
    if (paths.reports / "drift" / "features.html").exists():
        mlflow.log_artifact(str(paths.reports / "drift" / "features.html"), artifact_path="reports")
    decisions: dict[str, tuple[Decision, dict[str, Any]]] = {}
    for kind in tracking.MODEL_KINDS:
        ev = evaluation.get(kind, {"skipped": "not evaluated"})
        rule = getattr(settings.gate, kind)
        decisions[kind] = (decide(gate_inputs(kind, ev, drift, validation_passed), rule), ev)
    apply_decisions(settings, decisions)
    result = {
        kind: {
            "decision": d.decision,
            "reasons": d.reasons,
            "challenger_version": ev.get("challenger_version"),
            "champion_version_before": ev.get("champion_version"),
            "champion_version": tracking.alias_version(settings, kind, tracking.CHAMPION),
            "challenger_quality": ev.get("challenger_quality"),
            "champion_quality": ev.get("champion_quality"),
        }
        for kind, (d, ev) in decisions.items()
    }
    write_json(paths.metric("gate"), result)
    mlflow.set_tags({f"gate.{k}": v["decision"] for k, v in result.items()})
    return {
        "drift_detected": drift["drift_detected"],
        "drifted_share": drift["drifted_share"],
        **{f"promoted.{k}": v["decision"] == "promote" for k, v in result.items()},
    }
