"""The training DAG: one entry per stage with its inputs, outputs and params sections.

This registry is the single description of the graph: the Prefect training flow runs the stages in
``TRAINING_ORDER`` as tasks, ``segmint stage NAME`` (what ``dvc repro`` calls) runs one of them, and a
test checks that ``dvc.yaml`` declares exactly these deps, outs, params and metrics.
"""

from __future__ import annotations

import copy
import importlib
import os
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from segmint.contracts import NothingToDoError
from segmint.settings import Settings, SettingsError, StageName
from tasks import tracking
from tasks.io import BEFORE_REPLACE_HOOKS, remove_temporaries, write_json, write_text
from tasks.masking import masked_uri
from tasks.paths import ProjectPaths
from tasks.retry import call_with_retries, work_not_redone
from tasks.runlog import run_logger

LOGGER = "segmint.stages"

StageFn = Callable[[Settings, ProjectPaths], dict[str, Any]]


@dataclass(frozen=True)
class Stage:
    """One stage of the DAG: the module holding ``run_<name>``, what it reads and writes, its params."""

    name: str
    module: str
    deps: tuple[str, ...]
    outs: tuple[str, ...]
    params: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    plots: tuple[str, ...] = ()
    retries: int = 0  # only stages that touch the registry or other services retry, and only on a
    # service error before their work begins (tasks.retry.retry_on_service_error)

    def function(self) -> StageFn:
        """The stage's ``run_<name>(settings, paths)`` function, imported when first needed."""
        return getattr(importlib.import_module(self.module), f"run_{self.name}")


STAGES: dict[str, Stage] = {
    stage.name: stage
    for stage in (
        Stage(
            "validate",
            "tasks.validate",
            deps=(
                "data/raw",
                "tasks/validate.py",
                "tasks/gx_checkpoint.py",
                "tasks/validation_page.py",
                "tasks/pages.py",
                "tasks/templates",
                "segmint/validation.py",
                "tasks/expectations",
            ),
            outs=("data/validated", "data/quarantine", "reports/validation", "reports/data_docs"),
            params=("validate",),
            metrics=("metrics/validation.json",),
        ),
        Stage(
            "features",
            "tasks.features",
            deps=("data/validated", "tasks/features.py", "segmint/features.py", "segmint/nlp.py"),
            outs=("data/features", "models/features"),
            params=("features",),
            metrics=("metrics/features.json",),
        ),
        Stage(
            "segment",
            "tasks.segment",
            deps=("data/features", "tasks/segment.py", "segmint/segmentation.py"),
            outs=("data/segments", "models/segmenter"),
            params=("segment",),
            metrics=("metrics/segment.json",),
            retries=2,
        ),
        Stage(
            "anomaly",
            "tasks.anomaly",
            deps=("data/features", "tasks/anomaly.py", "segmint/anomaly.py"),
            outs=("data/anomaly", "models/anomaly"),
            params=("anomaly",),
            metrics=("metrics/anomaly.json",),
        ),
        Stage(
            "recommend",
            "tasks.recommend",
            deps=("data/validated", "data/segments", "tasks/recommend.py", "segmint/recommend"),
            outs=("models/recommender",),
            params=("recommend",),
            metrics=("metrics/recommend.json",),
            plots=("plots/recommend_ndcg.csv",),
            retries=2,
        ),
        Stage(
            "uplift",
            "tasks.uplift",
            deps=("data/validated", "data/features", "tasks/uplift.py", "segmint/uplift", "segmint/clv.py"),
            outs=("models/uplift", "models/clv"),
            params=("uplift", "clv.seed", "clv.fit_max_customers"),
            metrics=("metrics/uplift.json",),
            plots=(
                "plots/qini.csv",
                "plots/qini_by_offer",
                "plots/clv_calibration.csv",
                "plots/clv_gain.csv",
            ),
            retries=2,
        ),
        Stage(
            "evaluate",
            "tasks.evaluate",
            deps=(
                "data/features",
                "data/segments",
                "models/segmenter",
                "models/recommender",
                "models/uplift",
                "models/clv",
                "data/validated",
                "models/features",
                "tasks/evaluate.py",
                "segmint/clv.py",
            ),
            outs=(),
            params=("recommend", "uplift", "clv", "features.label_window_days"),
            metrics=("metrics/evaluate.json",),
            retries=2,
        ),
        Stage(
            "gate",
            "tasks.gate",
            deps=(
                "metrics/evaluate.json",
                "metrics/validation.json",
                "data/features",
                "tasks/gate.py",
                "tasks/drift.py",
                "segmint/gate.py",
                "segmint/drift.py",
            ),
            outs=("reports/drift",),
            params=("gate", "monitor"),
            metrics=("metrics/gate.json", "metrics/drift.json"),
            retries=2,
        ),
        Stage(
            "campaign",
            "tasks.campaign",
            deps=(
                "metrics/gate.json",
                "data/features",
                "data/anomaly",
                "data/validated",
                "models/uplift",
                "tasks/campaign.py",
                "tasks/messages.py",
                "tasks/message_templates",
                "segmint/campaign.py",
                "segmint/messages.py",
                "segmint/profile.py",
                "segmint/value.py",
            ),
            outs=("outputs",),
            params=("campaign", "recommend.top_n"),
            metrics=("metrics/campaign.json",),
            retries=2,
        ),
        Stage(
            "report",
            "tasks.report",
            deps=(
                "outputs",
                "data/segments",
                "metrics/gate.json",
                "metrics/drift.json",
                "metrics/evaluate.json",
                "metrics/uplift.json",
                "metrics/recommend.json",
                "metrics/campaign.json",
                "plots/qini.csv",
                "tasks/report.py",
                "tasks/report_summary.py",
                "tasks/pages.py",
                "tasks/templates",
            ),
            outs=("reports/report.html",),
        ),
    )
}

TRAINING_ORDER: tuple[str, ...] = tuple(STAGES)


def stage_spec(name: str) -> Stage:
    """The registry entry of stage ``name``; an unknown name is a ``ValueError`` listing the valid ones."""
    if name not in STAGES:
        raise ValueError(f"unknown stage {name!r}; valid stages: {', '.join(STAGES)}")
    return STAGES[name]


def run_stage(name: str, settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    """Run one stage inside its own MLflow run: params, lineage of inputs, result metrics.

    This undecorated function is what ``segmint stage NAME`` and ``dvc repro`` call; the Prefect
    tasks in ``flows.prefect_tasks.PREFECT_TASKS`` wrap it.
    """
    spec = stage_spec(name)
    unknown = sorted(set(settings.runtime.stage_budget_seconds) - set(STAGES))
    if unknown:
        raise SettingsError(
            f"runtime.stage_budget_seconds: unknown stage(s) {', '.join(unknown)}; valid: {', '.join(STAGES)}"
        )
    fn = spec.function()
    section_params = {}
    dump = settings.model_dump(by_alias=True)
    for section in spec.params:
        head, _, tail = section.partition(".")
        value = dump.get(head, {})
        section_params[section] = value.get(tail) if tail else value
    hashes = tracking.lineage(paths, spec.deps)
    for out in (*spec.outs, *spec.metrics, *spec.plots):
        remove_temporaries(paths.root / out)
    started = time.perf_counter()
    # Opening the stage's MLflow run may fail on a service error, and the stage task retries then;
    # once the work has begun, a service error is not retried: the models would be fitted again.
    with (
        work_not_redone(f"stage {name}") as work_begins,
        tracking.stage_run(name, settings, paths, section_params),
    ):
        work_begins()
        kill_at_end = _arm_fault_injection(name)
        result = _result_or_skip(spec, fn, settings, paths)
        if kill_at_end:
            _kill_self()
        result = {**result, **_timing(name, time.perf_counter() - started, settings)}
        server = f"MLflow tracking server at {masked_uri(tracking.tracking_uri(settings, paths))}"
        call_with_retries(lambda: tracking.log_stage_result(result, hashes), server)
    run_logger(LOGGER).info("stage %s done in %.1fs", name, result["stage_seconds"])
    return result


SKIPPED_MARKER = "SKIPPED.json"


def _result_or_skip(spec: Stage, fn: StageFn, settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    """The stage's result, or its skip when the inputs hold nothing for it (``NothingToDoError``):
    a stage with nothing to work on never takes the rest of the run down."""
    try:
        return fn(settings, paths)
    except NothingToDoError as exc:
        return skipped_stage(spec, paths, str(exc) or "nothing to do")


def skipped_stage(spec: Stage, paths: ProjectPaths, reason: str) -> dict[str, Any]:
    """Record stage ``spec`` as skipped for ``reason`` and return ``{"skipped": reason}``.

    Each output folder is emptied (an earlier run's models or tables must not pass for this run's)
    and holds only a ``SKIPPED.json`` marker with the reason, as do the metrics files; a file
    output holds the reason as text. Every declared output exists afterwards, so ``dvc repro``
    and the later stages see a skip rather than a missing path.
    """
    result = {"skipped": reason}
    for out in spec.outs:
        target = paths.root / out
        if target.suffix:
            write_text(target, f"skipped: {reason}\n")
            continue
        if target.is_dir():
            shutil.rmtree(target)
        write_json(target / SKIPPED_MARKER, result)
    for metric in spec.metrics:
        write_json(paths.root / metric, result)
    run_logger(LOGGER).warning("stage %s skipped: %s", spec.name, reason)
    return result


def _timing(name: str, seconds: float, settings: Settings) -> dict[str, Any]:
    """The stage's wall time, its budget (``runtime.stage_budget_seconds``) and whether it overran."""
    out: dict[str, Any] = {"stage_seconds": round(seconds, 3)}
    # The budgets' keys are typed stage names; a name outside them simply has no budget.
    budget = settings.runtime.stage_budget_seconds.get(cast(StageName, name))
    if budget is not None:
        out.update(stage_budget_seconds=budget, over_budget=seconds > budget)
        if seconds > budget:
            run_logger(LOGGER).warning("stage %s took %.1fs, over its budget of %.0fs", name, seconds, budget)
    return out


FAULT_KILL_ENV = "SEGMINT_FAULT_KILL_STAGE"


def _kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _arm_fault_injection(name: str) -> bool:
    """Test hook, inert unless ``$SEGMINT_FAULT_KILL_STAGE`` names this stage.

    When it does, the process SIGKILLs itself in the middle of the stage's writes: just before its
    second output file is renamed into place (one output already replaced, the next one's temporary
    written). A stage that writes fewer files is killed when its computation returns, before its
    MLflow run ends. tests/reliability/faults.py uses it to prove that a rerun heals.

    Returns:
        Whether the caller must kill the process after the stage's computation.
    """
    if os.environ.get(FAULT_KILL_ENV) != name:
        return False
    seen: list[Path] = []

    def on_replace(target: Path) -> None:
        seen.append(target)
        if len(seen) == 2:
            _kill_self()

    BEFORE_REPLACE_HOOKS.append(on_replace)
    return True


def dvc_stages() -> dict[str, Any]:
    """The ``stages`` mapping of dvc.yaml that mirrors :data:`STAGES` (``make dvc.yaml`` writes it)."""
    out: dict[str, Any] = {}
    for name in TRAINING_ORDER:
        spec = STAGES[name]
        entry: dict[str, Any] = {"cmd": f"segmint stage {name}", "deps": list(spec.deps)}
        if spec.params:
            entry["params"] = list(spec.params)
        # Plot data is a small uncached output: the top-level ``plots`` (PLOTS) say how each is drawn.
        outs: list[Any] = [*spec.outs, *({p: {"cache": False}} for p in spec.plots)]
        if outs:
            entry["outs"] = outs
        if spec.metrics:
            entry["metrics"] = [{m: {"cache": False}} for m in spec.metrics]
        out[name] = entry
    return out


# How ``dvc plots show`` / ``dvc plots diff`` draw the stages' plot data: the top-level ``plots`` of
# dvc.yaml. A folder is one plot per file in it (one per offer); every y column is a line.
PLOTS: tuple[dict[str, dict[str, Any]], ...] = (
    {
        "plots/qini_by_offer": {
            "title": "Qini curve per offer, test part: the chosen learner (model) against random targeting",
            "x": "share_targeted",
            "y": ["model", "random"],
            "x_label": "share of customers targeted",
            "y_label": "incremental responders per customer",
        }
    },
    {
        "plots/clv_gain.csv": {
            "title": "Cumulative gain of targeting by predicted CLV (training rows)",
            "x": "share_targeted",
            "y": ["model", "random", "perfect"],
            "x_label": "share of customers targeted",
            "y_label": "share of next-period spend captured",
        }
    },
    {
        "plots/clv_calibration.csv": {
            "title": "CLV calibration: predicted and actual spend per decile (training rows)",
            "x": "decile",
            "y": ["predicted", "actual"],
            "x_label": "decile of predicted CLV",
            "y_label": "next-period spend",
        }
    },
    {
        "plots/recommend_ndcg.csv": {
            "title": "Recommender candidates: NDCG on the inner split",
            "template": "bar_horizontal_sorted",
            "x": "ndcg",
            "y": "candidate",
            "x_label": "NDCG",
            "y_label": "candidate",
        }
    },
)


def dvc_plots() -> list[dict[str, Any]]:
    """The top-level ``plots`` of dvc.yaml (``make dvc.yaml`` writes it): how each plot output is drawn."""
    return copy.deepcopy(list(PLOTS))
