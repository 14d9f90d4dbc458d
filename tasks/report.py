"""Report: one self-contained HTML page for reviewers.

The page opens with a summary (what was trained, what was promoted and why, what changed against the
champion, the plan at a glance), then everything a reviewer needs to accept or question a run:
segments and their profiles, how customers moved between the champion's and the challenger's
segments, Qini curves, recommender candidates, drift (with the drifted features named), the gate's
decisions and reasons, the campaign plan against the simpler strategies, one example message per
segment and offer (as plain text), the measured outcome of an executed plan, and the MLflow runs
behind it all. Every section is a Jinja2 template in ``tasks/templates/report`` rendered with
autoescape (see :mod:`tasks.pages`); plots are inline PNGs (no network, no external scripts or styles).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from markupsafe import Markup

from segmint.messages import message_examples
from segmint.settings import Settings
from tasks import tracking
from tasks.io import read_json, write_text
from tasks.messages import MESSAGES_FILE
from tasks.pages import figure, number, render, table
from tasks.paths import ProjectPaths
from tasks.report_summary import migration_frame, stayed_share, summary_section
from tasks.stages import STAGES

# Every stage's metrics file, in training order, but the gate's and drift's: they have sections of their own.
STAGE_METRICS = tuple(
    Path(metric).stem
    for stage in STAGES.values()
    for metric in stage.metrics
    if Path(metric).stem not in ("gate", "drift")
)
MLFLOW_UI = "http://127.0.0.1:5000"
FEATURE_COLUMNS = ("feature", "drifted", "method", "statistic", "threshold", "reference_mean", "current_mean")


@dataclass(frozen=True)
class Section:
    """One titled part of the report; ``body`` is rendered, escaped HTML."""

    title: str
    body: Markup


def html_table(frame: pd.DataFrame | None, max_rows: int = 50, empty: str = "none") -> Markup:
    """An escaped HTML table of ``frame`` (at most ``max_rows`` rows), numbers formatted for people."""
    return render("report/table.html.j2", t=table(frame, max_rows), empty=empty)


def _kv_frame(data: dict[str, Any]) -> pd.DataFrame:
    flat = _flat(data)
    return pd.DataFrame({"key": list(flat), "value": list(flat.values())})


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    # Like tracking.flat_params, but keeps the values' types so numbers can be formatted.
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _read_parquet(path: Path) -> pd.DataFrame | None:
    return pd.read_parquet(path) if path.exists() else None


def _bars(ax: Any, frame: pd.DataFrame, label: str, values: list[str], ylabel: str) -> None:
    x = np.arange(len(frame))
    width = 0.8 / max(len(values), 1)
    for i, column in enumerate(values):
        ax.bar(x + i * width, frame[column].astype(float), width, label=column.replace("_", " "))
    ax.set_xticks(
        x + width * (len(values) - 1) / 2, [str(v)[:24] for v in frame[label]], rotation=30, ha="right"
    )
    ax.set_ylabel(ylabel)
    if len(values) > 1:
        ax.legend()


# -- sections -------------------------------------------------------------------------------------


def _gate_row(kind: str, entry: dict[str, Any]) -> dict[str, str]:
    inputs = entry.get("inputs", {})
    name = inputs.get("quality_name", entry.get("quality_name")) or "quality"
    before = entry.get("champion_version_before") or "no champion yet"
    return {
        "model": kind,
        "decision": str(entry.get("decision") or "no decision recorded"),
        "review": "yes" if entry.get("review") else "no",
        "challenger version": str(entry.get("challenger_version") or "none trained"),
        "champion before → after": f"{before} → {entry.get('champion_version') or 'no champion'}",
        "quality": f"{name}: {number(entry.get('challenger_quality'), 'not measured')} vs "
        f"{number(entry.get('champion_quality'), 'no champion yet')}",
        "stability (ARI)": number(inputs.get("stability"), "not measured"),
    }


def gate_section(gate: dict[str, Any]) -> Markup:
    """Decisions per model with reasons and the inputs they were made from."""
    rows = pd.DataFrame([_gate_row(kind, entry) for kind, entry in gate.items()])
    decisions = [
        {
            "model": kind,
            "decision": str(entry.get("decision") or "no decision recorded"),
            "reasons": [str(r) for r in entry.get("reasons", [])],
        }
        for kind, entry in gate.items()
    ]
    return render("report/gate.html.j2", rows=table(rows), decisions=decisions)


def _per_feature(columns: dict[str, Any]) -> pd.DataFrame | None:
    if not columns:
        return None
    frame = pd.DataFrame([{"feature": c, **s} for c, s in columns.items()])
    first = [c for c in FEATURE_COLUMNS if c in frame.columns]
    frame = frame[first + [c for c in frame.columns if c not in first]]
    return frame.sort_values(["drifted", "feature"], ascending=[False, True])


def _segment_shares(segments: dict[str, Any]) -> dict[str, Any] | None:
    if not segments.get("shares"):
        return None
    shares = pd.DataFrame(segments["shares"])
    share_columns = [c for c in ("reference_share", "current_share", "change") if c in shares.columns]
    return {
        "psi": segments.get("psi"),
        "threshold": segments.get("threshold"),
        "total_variation": segments.get("total_variation"),
        "shares": table(shares, percent_columns=share_columns),
        "figure": figure(
            lambda ax: _bars(ax, shares, "category", ["reference_share", "current_share"], "share")
        ),
    }


def drift_section(drift: dict[str, Any], paths: ProjectPaths) -> Markup:
    """Drift summary: detected or not, drifted features named, prediction drift, links to Evidently."""
    predictions = drift.get("predictions", {})
    uplift = predictions.get("uplift", {})
    uplift_note = uplift.get("note") if isinstance(uplift.get("note"), str) else None
    uplift_frame = (
        pd.DataFrame([{"offer": k, **v} for k, v in uplift.items()]) if uplift and not uplift_note else None
    )
    recommendations = predictions.get("recommendations", {})
    return render(
        "report/drift.html.j2",
        detected=bool(drift.get("drift_detected")),
        share=float(drift.get("drifted_share") or 0.0),
        n_columns=drift.get("n_columns"),
        threshold=drift.get("share_threshold"),
        drifted=[str(c) for c in drift.get("drifted_columns", [])],
        note=drift.get("note"),
        columns=table(_per_feature(drift.get("columns", {})), 100),
        segments=_segment_shares(predictions.get("segments", {})),
        uplift_note=uplift_note,
        uplift=table(uplift_frame),
        recommendations=table(_kv_frame(recommendations) if recommendations else None, 300),
        links=[(_relative(name), name) for name in drift.get("reports", [])],
    )


def _relative(name: str) -> str:
    # The report lives in reports/; drift reports are under reports/drift/.
    return name.removeprefix("reports/")


def segments_section(paths: ProjectPaths) -> Markup:
    """Segment sizes and profiles (names, value tiers, keywords: all escaped)."""
    segments = _read_parquet(paths.segments / "segments.parquet")
    sizes = None
    if segments is not None and len(segments):
        sizes = segments.groupby("segment_name").size().rename("customers").reset_index()
        sizes = sizes.sort_values("customers", ascending=False)
        sizes["share"] = sizes["customers"] / sizes["customers"].sum()
    profiles = _read_parquet(paths.segments / "profiles.parquet")
    return render(
        "report/segments.html.j2",
        sizes=table(sizes),
        sizes_figure=(
            figure(lambda ax: _bars(ax, sizes, "segment_name", ["customers"], "customers"))
            if sizes is not None
            else ""
        ),
        profiles=table(profiles) if profiles is not None else None,
    )


def _migration_figure(frame: pd.DataFrame) -> str:
    def draw(ax: Any) -> None:
        ax.imshow(frame.to_numpy(), cmap="Blues")
        ax.grid(False)
        ax.set_xticks(
            range(len(frame.columns)), [str(c)[:20] for c in frame.columns], rotation=30, ha="right"
        )
        ax.set_yticks(range(len(frame.index)), [str(r)[:20] for r in frame.index])
        ax.set_xlabel("challenger")
        ax.set_ylabel("champion")

    return figure(draw, 6.0, 4.5)


def migration_section(evaluation: dict[str, Any]) -> Markup:
    """Customers by champion segment (rows) and challenger segment (columns), with ARI/NMI."""
    frame = migration_frame(evaluation)
    if frame is None:
        return render("report/migration.html.j2", matrix=None)
    seg = evaluation["segmenter"]
    stability = seg.get("stability", {})
    return render(
        "report/migration.html.j2",
        matrix=table(frame.rename_axis("champion \\ challenger").reset_index(), 60),
        matrix_figure=_migration_figure(frame),
        ari=stability.get("ari"),
        nmi=stability.get("nmi"),
        challenger=seg.get("challenger_quality"),
        champion=seg.get("champion_quality"),
        stayed=stayed_share(frame),
    )


def _qini_figures(paths: ProjectPaths) -> list[tuple[str, str]]:
    """One Qini figure per offer and learner (from plots/qini.csv)."""
    file = paths.plots / "qini.csv"
    qini = pd.read_csv(file) if file.exists() else pd.DataFrame()
    figures = []
    for offer, part in qini.groupby("offer") if len(qini) else ():

        def draw(ax: Any, part: pd.DataFrame = part, offer: Any = offer) -> None:
            for learner, curve in part.groupby("learner"):
                style = "--" if learner == "random" else "-"
                ax.plot(curve["fraction"], curve["qini"], style, label=str(learner))
            ax.set_title(f"Qini: {str(offer)[:40]}")
            ax.set_xlabel("share of customers targeted")
            ax.set_ylabel("incremental responders per customer")
            ax.legend()

        figures.append((str(offer), figure(draw, 6.0, 3.2)))
    return figures


def uplift_section(uplift: dict[str, Any], paths: ProjectPaths) -> Markup:
    """The selected uplift learner, the candidates' metrics, and the Qini curves."""
    candidates = pd.DataFrame(uplift["candidates"]) if uplift.get("candidates") else None
    return render(
        "report/uplift.html.j2",
        skipped=uplift.get("skipped"),
        winner=uplift.get("winner"),
        candidates=table(candidates),
        qini=_qini_figures(paths),
    )


def recommender_section(recommend: dict[str, Any]) -> Markup:
    """The candidates' metrics on the temporal split, and the winner."""
    frame = pd.DataFrame(recommend["candidates"]) if recommend.get("candidates") else None
    plot = ""
    if frame is not None:
        metric = next((m for m in ("ndcg", "ndcg_at_10", "recall") if m in frame.columns), None)
        name = next((c for c in ("name", "candidate", "model") if c in frame.columns), None)
        if metric and name:
            plot = figure(lambda ax: _bars(ax, frame, name, [metric], metric))
    metrics = recommend.get("metrics")
    return render(
        "report/recommender.html.j2",
        empty=not recommend,
        skipped=recommend.get("skipped"),
        winner=recommend.get("winner"),
        candidates=table(frame),
        candidates_figure=plot,
        metrics=table(_kv_frame(metrics) if metrics else None, 300),
    )


def _plan_by_group(paths: ProjectPaths) -> pd.DataFrame | None:
    plan = _read_parquet(paths.outputs / "campaign_plan.parquet")
    if plan is None or not len(plan):
        return None
    return (
        plan.assign(offer=plan["offer"].fillna("no offer"))
        .groupby(["group", "offer"])
        .agg(
            customers=("customer_id", "size"),
            expected_incremental_profit=("expected_incremental_profit", "sum"),
        )
        .reset_index()
    )


def campaign_section(campaign: dict[str, Any], paths: ProjectPaths) -> Markup:
    """The plan's kind, the plan by group and offer, and the same budget under the other strategies."""
    exploration = campaign.get("exploration", {})
    strategies = pd.DataFrame(campaign["strategies"]) if campaign.get("strategies") else None
    plot = ""
    if strategies is not None and "incremental_profit" in strategies.columns:
        plot = figure(
            lambda ax: _bars(ax, strategies, "strategy", ["incremental_profit"], "incremental profit")
        )
    plan = campaign.get("plan")
    return render(
        "report/campaign.html.j2",
        plan_kind=campaign.get("plan_kind"),
        exploration_holdout=exploration.get("holdout_share"),
        exploration_reason=exploration.get("reason") or "no uplift model is trusted",
        by_group=table(_plan_by_group(paths)),
        strategies=table(strategies),
        strategies_figure=plot,
        skipped=plan.get("skipped") if isinstance(plan, dict) else None,
    )


MEASURE_COLUMNS = (
    "segment_id",
    "segment_name",
    "offer",
    "n_treated",
    "n_holdout",
    "conversion_treated",
    "conversion_holdout",
    "uplift",
    "uplift_low",
    "uplift_high",
    "revenue_uplift",
)


MESSAGE_EXAMPLES = 60


def _message_text(value: Any) -> str:
    """A rendered message as the customer reads it: the message renderer's HTML escaping undone, so
    the report (which escapes everything) shows the text once, never as markup."""
    return html.unescape(str(value)) if value is not None and not pd.isna(value) else ""


def messages_section(paths: ProjectPaths) -> Markup:
    """One example message (subject and body) per segment and offer, from ``outputs/messages.parquet``."""
    messages = _read_parquet(paths.outputs / MESSAGES_FILE)
    examples = message_examples(messages) if messages is not None and len(messages) else pd.DataFrame()
    rows = [
        {
            "segment": _message_text(row.get("segment_name")) or "no segment",
            "offer": _message_text(row.get("offer")),
            "customers": row.get("customers"),
            "subject": _message_text(row.get("subject")),
            "body": _message_text(row.get("body")),
        }
        for row in examples.head(MESSAGE_EXAMPLES).to_dict(orient="records")
    ]
    return render(
        "report/messages.html.j2",
        examples=rows,
        total=0 if messages is None else len(messages),
        more=max(len(examples) - MESSAGE_EXAMPLES, 0),
    )


def measure_section(measure: dict[str, Any]) -> Markup:
    """Realised uplift of the executed plan (sent vs hold-out) with 95 % intervals."""
    per = pd.DataFrame(measure.get("per_segment", []))
    keep = [c for c in MEASURE_COLUMNS if c in per.columns]
    allocation = measure.get("next_wave_allocation")
    return render(
        "report/measure.html.j2",
        outcomes_file=measure.get("outcomes_file"),
        outcome_rows=measure.get("outcome_rows"),
        overall=measure.get("overall", {}),
        per_segment=table(per[keep] if len(per) else None, 100),
        allocation=table(pd.DataFrame(allocation) if allocation else None, 100),
    )


def mlflow_section(settings: Settings, paths: ProjectPaths, run_ids: dict[str, str | None]) -> Markup:
    """Where to find the MLflow runs behind this report."""
    runs = [(label, run_id, f"{MLFLOW_UI}/#/runs/{run_id}") for label, run_id in run_ids.items() if run_id]
    return render(
        "report/mlflow.html.j2",
        uri=tracking.masked_uri(tracking.tracking_uri(settings, paths)),
        experiment=settings.tracking.experiment,
        runs=runs,
    )


def _run_ids(gate: dict[str, Any], measure: dict[str, Any], paths: ProjectPaths) -> dict[str, str | None]:
    monitoring = read_json(paths.metric("monitoring"), {})
    return {
        "gate stage run": next((v.get("mlflow_run_id") for v in gate.values()), None),
        "measure run": measure.get("mlflow_run_id"),
        "monitoring flow run": monitoring.get("mlflow_run_id"),
    }


def report_sections(paths: ProjectPaths, settings: Settings | None = None) -> list[Section]:
    """The report's sections, the summary first, built from the stage metrics and outputs."""
    gate = read_json(paths.metric("gate"), {})
    drift = read_json(paths.metric("drift"), {})
    evaluation = read_json(paths.metric("evaluate"), {})
    measure = read_json(paths.metric("measure"), {})
    sections = [Section("Summary", summary_section(paths, settings))]
    if gate:
        sections.append(Section("Promotion decisions", gate_section(gate)))
    if drift:
        sections.append(Section("Drift", drift_section(drift, paths)))
    sections.append(Section("Segments", segments_section(paths)))
    sections.append(Section("Segment migration (champion → challenger)", migration_section(evaluation)))
    uplift = read_json(paths.metric("uplift"), {})
    sections.append(Section("Uplift: Qini curves", uplift_section(uplift, paths)))
    sections.append(Section("Recommender", recommender_section(read_json(paths.metric("recommend"), {}))))
    campaign = read_json(paths.metric("campaign"), {})
    sections.append(Section("Campaign plan", campaign_section(campaign, paths)))
    sections.append(Section("Messages: one example per segment and offer", messages_section(paths)))
    if measure:
        sections.append(Section("Measured outcome of the executed plan", measure_section(measure)))
    if settings is not None:
        sections.append(
            Section("MLflow runs", mlflow_section(settings, paths, _run_ids(gate, measure, paths)))
        )
    for stage in STAGE_METRICS:
        data = read_json(paths.metric(stage), None)
        if data:
            body = render("report/details.html.j2", t=table(_kv_frame(data), 300))
            sections.append(Section(f"Stage metrics: {stage}", body))
    return sections


def render_report(sections: list[Section], title: str) -> str:
    """The whole page: the summary (when the first section is one), a table of contents, the rest."""
    summary = sections[0] if sections and sections[0].title == "Summary" else None
    rest = sections[1:] if summary else sections
    return str(render("report.html.j2", title=title, summary=summary, sections=rest))


def run_report(settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    """Write ``reports/report.html`` and log it to the active MLflow run.

    Returns:
        The report's path relative to the project and its number of sections.
    """
    target = paths.reports / "report.html"
    sections = report_sections(paths, settings)
    write_text(target, render_report(sections, f"{settings.project.name} — review report"))
    if mlflow.active_run() is not None:
        mlflow.log_artifact(str(target), artifact_path="reports")
    return {"report": str(target.relative_to(paths.root)), "sections": len(sections)}
