"""Report: one self-contained HTML page for reviewers.

Everything a reviewer needs to accept or question a run: segments and their profiles, how customers
moved between the champion's and the challenger's segments, Qini curves, recommender candidates,
drift (with the drifted features named), the gate's decisions and reasons, the campaign plan against
the simpler strategies, the measured outcome of an executed plan, and the MLflow runs behind it all.
Plots are inline PNGs (no network, no external scripts or styles). Every value that came from data
(segment names, keywords, ids, product names, reasons) is escaped.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from segmint.settings import Settings
from tasks import tracking
from tasks.io import read_json, write_text
from tasks.paths import ProjectPaths
from tasks.stages import STAGES

# Every stage's metrics file, in training order, but the gate's and drift's: they have sections of their own.
STAGE_METRICS = tuple(
    Path(metric).stem
    for stage in STAGES.values()
    for metric in stage.metrics
    if Path(metric).stem not in ("gate", "drift")
)
MLFLOW_UI = "http://127.0.0.1:5000"


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    return str(value)


def html_table(frame: pd.DataFrame | None, max_rows: int = 50) -> str:
    """An escaped HTML table of ``frame`` (at most ``max_rows`` rows)."""
    if frame is None or not len(frame):
        return "<p class='muted'>none</p>"
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    rows = []
    for row in frame.head(max_rows).itertuples(index=False):
        cells = "".join(f"<td>{_e(_fmt(v))}</td>" for v in row)
        rows.append(f"<tr>{cells}</tr>")
    more = (
        f"<p class='muted'>{len(frame) - max_rows} more rows not shown</p>" if len(frame) > max_rows else ""
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}"


def _kv(data: dict[str, Any]) -> str:
    flat = tracking.flat_params(data)
    return html_table(pd.DataFrame({"key": list(flat), "value": list(flat.values())}), max_rows=300)


def _p(text: str) -> str:
    return f"<p>{_e(text)}</p>"


def _figure(draw: Any, width: float = 7.0, height: float = 3.2) -> str:
    """An inline PNG drawn by ``draw(ax)``; empty when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        return ""
    fig, ax = plt.subplots(figsize=(width, height), dpi=90)
    try:
        draw(ax)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
    finally:
        plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"<img alt='plot' src='data:image/png;base64,{data}'>"


def _read_parquet(path: Path) -> pd.DataFrame | None:
    return pd.read_parquet(path) if path.exists() else None


# -- sections -------------------------------------------------------------------------------------


def gate_section(gate: dict[str, Any]) -> str:
    """Decisions per model with reasons and the inputs they were made from."""
    rows = []
    for kind, entry in gate.items():
        inputs = entry.get("inputs", {})
        rows.append(
            {
                "model": kind,
                "decision": entry.get("decision"),
                "review": "yes" if entry.get("review") else "",
                "challenger version": entry.get("challenger_version"),
                "champion before → after": f"{entry.get('champion_version_before')} → "
                f"{entry.get('champion_version')}",
                "quality": f"{inputs.get('quality_name', entry.get('quality_name'))}: "
                f"{_fmt(entry.get('challenger_quality'))} vs {_fmt(entry.get('champion_quality'))}",
                "stability (ARI)": _fmt(inputs.get("stability")),
            }
        )
    reasons = "".join(
        f"<li><b>{_e(kind)}</b> — {_e(entry.get('decision'))}<ul>"
        + "".join(f"<li>{_e(reason)}</li>" for reason in entry.get("reasons", []))
        + "</ul></li>"
        for kind, entry in gate.items()
    )
    return html_table(pd.DataFrame(rows)) + f"<h3>Reasons</h3><ul>{reasons}</ul>"


def drift_section(drift: dict[str, Any], paths: ProjectPaths) -> str:
    """Drift summary: detected or not, drifted features named, prediction drift, links to Evidently."""
    parts = []
    detected = "detected" if drift.get("drift_detected") else "not detected"
    named = ", ".join(drift.get("drifted_columns", [])) or "none"
    share = float(drift.get("drifted_share", 0.0) or 0.0)
    parts.append(
        f"<p><b>Drift {_e(detected)}</b>: {share:.0%} of "
        f"{_e(drift.get('n_columns', '?'))} feature columns drifted "
        f"(threshold {_e(drift.get('share_threshold', '?'))}). Drifted features: <b>{_e(named)}</b></p>"
    )
    if drift.get("note"):
        parts.append(_p(str(drift["note"])))
    columns = drift.get("columns", {})
    if columns:
        frame = pd.DataFrame(
            [{"feature": c, **{k: v for k, v in s.items()}} for c, s in columns.items()]
        ).sort_values(["drifted", "feature"], ascending=[False, True])
        parts.append(
            "<details open><summary>Per-feature statistics</summary>" + html_table(frame, 100) + "</details>"
        )
    predictions = drift.get("predictions", {})
    segments = predictions.get("segments", {})
    if segments.get("shares"):
        shares = pd.DataFrame(segments["shares"])
        parts.append(
            _p(
                "Segment shares (champion's assignment, reference vs current): "
                f"PSI {segments.get('psi', 0):.3f} (threshold {segments.get('threshold')}), "
                f"total variation {segments.get('total_variation', 0):.3f}"
            )
            + html_table(shares)
            + _figure(lambda ax: _bars(ax, shares, "category", ["reference_share", "current_share"], "share"))
        )
    uplift = predictions.get("uplift", {})
    if uplift:
        if "note" in uplift:
            parts.append(_p(f"Uplift score drift: {uplift['note']}"))
        else:
            frame = pd.DataFrame([{"offer": k, **v} for k, v in uplift.items()])
            parts.append("<h3>Uplift score distributions (champion)</h3>" + html_table(frame))
    recs = predictions.get("recommendations", {})
    if recs:
        parts.append("<h3>Recommendation coverage (champion)</h3>" + _kv(recs))
    links = "".join(
        f"<li><a href='{_e(_relative(name))}'>{_e(name)}</a></li>" for name in drift.get("reports", [])
    )
    if links:
        parts.append(f"<p>Evidently reports:</p><ul>{links}</ul>")
    return "".join(parts)


def _relative(name: str) -> str:
    # The report lives in reports/; drift reports are under reports/drift/.
    return name.removeprefix("reports/")


def _bars(ax: Any, frame: pd.DataFrame, label: str, values: list[str], ylabel: str) -> None:
    x = np.arange(len(frame))
    width = 0.8 / max(len(values), 1)
    for i, column in enumerate(values):
        ax.bar(x + i * width, frame[column].astype(float), width, label=column)
    ax.set_xticks(
        x + width * (len(values) - 1) / 2, [str(v)[:24] for v in frame[label]], rotation=30, ha="right"
    )
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)


def segments_section(paths: ProjectPaths) -> str:
    """Segment sizes and profiles (names, value tiers, keywords: all escaped)."""
    parts = []
    segments = _read_parquet(paths.segments / "segments.parquet")
    if segments is not None and len(segments):
        sizes = segments.groupby("segment_name").size().rename("customers").reset_index()
        sizes = sizes.sort_values("customers", ascending=False)
        sizes["share"] = sizes["customers"] / sizes["customers"].sum()
        parts.append(html_table(sizes))
        parts.append(_figure(lambda ax: _bars(ax, sizes, "segment_name", ["customers"], "customers")))
    profiles = _read_parquet(paths.segments / "profiles.parquet")
    if profiles is not None:
        parts.append("<h3>Profiles</h3>" + html_table(profiles))
    return "".join(parts) or "<p class='muted'>no segmentation in this run</p>"


def migration_section(evaluation: dict[str, Any]) -> str:
    """Customers by champion segment (rows) and challenger segment (columns), with ARI/NMI."""
    seg = evaluation.get("segmenter", {})
    migration = seg.get("migration")
    if not migration:
        return "<p class='muted'>no champion to compare with (first model, or segmenter skipped)</p>"
    frame = pd.DataFrame(migration["counts"], index=migration["rows"], columns=migration["columns"])
    stability = seg.get("stability", {})
    head = _p(
        f"Stability against the champion: ARI {_fmt(stability.get('ari'))}, "
        f"NMI {_fmt(stability.get('nmi'))}; "
        f"silhouette (common representation) challenger {_fmt(seg.get('challenger_quality'))} vs "
        f"champion {_fmt(seg.get('champion_quality'))}"
    )
    table = html_table(frame.rename_axis("champion \\ challenger").reset_index(), 60)

    def draw(ax: Any) -> None:
        ax.imshow(frame.to_numpy(), cmap="Blues")
        ax.set_xticks(
            range(len(frame.columns)), [str(c)[:20] for c in frame.columns], rotation=30, ha="right"
        )
        ax.set_yticks(range(len(frame.index)), [str(r)[:20] for r in frame.index])
        ax.set_xlabel("challenger")
        ax.set_ylabel("champion")

    return head + table + _figure(draw, 6.0, 4.5)


def qini_section(paths: ProjectPaths) -> str:
    """Qini curves per offer and learner (from plots/qini.csv)."""
    file = paths.plots / "qini.csv"
    if not file.exists():
        return "<p class='muted'>no uplift model in this run</p>"
    qini = pd.read_csv(file)
    if not len(qini):
        return "<p class='muted'>no uplift model in this run</p>"
    parts = []
    for offer, part in qini.groupby("offer"):

        def draw(ax: Any, part: pd.DataFrame = part, offer: Any = offer) -> None:
            for learner, curve in part.groupby("learner"):
                style = "--" if learner == "random" else "-"
                ax.plot(curve["fraction"], curve["qini"], style, label=str(learner))
            ax.set_title(f"Qini: {str(offer)[:40]}")
            ax.set_xlabel("share of customers targeted")
            ax.set_ylabel("incremental responders per customer")
            ax.legend(fontsize=7)

        parts.append(f"<h3>{_e(offer)}</h3>" + _figure(draw, 6.0, 3.2))
    return "".join(parts)


def uplift_section(uplift: dict[str, Any], paths: ProjectPaths) -> str:
    """The selected uplift learner, the candidates' metrics, and the Qini curves."""
    parts = []
    if uplift.get("skipped"):
        parts.append(_p(f"skipped: {uplift['skipped']}"))
    if uplift.get("winner"):
        parts.append(_p(f"selected learner: {uplift['winner']}"))
    if uplift.get("candidates"):
        parts.append(html_table(pd.DataFrame(uplift["candidates"])))
    return "".join(parts) + qini_section(paths)


def recommender_section(recommend: dict[str, Any]) -> str:
    """The candidates' metrics on the temporal split, and the winner."""
    if not recommend:
        return "<p class='muted'>no recommender in this run</p>"
    parts = []
    if recommend.get("skipped"):
        parts.append(_p(f"skipped: {recommend['skipped']}"))
    if recommend.get("winner"):
        parts.append(_p(f"selected: {recommend['winner']}"))
    candidates = recommend.get("candidates")
    if candidates:
        frame = pd.DataFrame(candidates)
        parts.append(html_table(frame))
        metric = next((m for m in ("ndcg", "ndcg_at_10", "recall") if m in frame.columns), None)
        name = next((c for c in ("name", "candidate", "model") if c in frame.columns), None)
        if metric and name:
            parts.append(_figure(lambda ax: _bars(ax, frame, name, [metric], metric)))
    if recommend.get("metrics"):
        parts.append("<h3>Winner</h3>" + _kv(recommend["metrics"]))
    return "".join(parts)


def _plan_kind(campaign: dict[str, Any]) -> str:
    """What kind of plan it is, and for an exploration plan why and with which hold-out."""
    kind = campaign.get("plan_kind")
    if kind != "exploration":
        return _p(f"plan_kind: {kind}") if kind else ""
    exploration = campaign.get("exploration", {})
    return _p(
        f"plan_kind: exploration — offers assigned at random within the budget, "
        f"{float(exploration.get('holdout_share', 0.0)):.0%} held back per segment and offer, "
        f"because {exploration.get('reason', 'no uplift model is trusted')}"
    )


def campaign_section(campaign: dict[str, Any], paths: ProjectPaths) -> str:
    """The plan's kind, the plan by group and offer, and the same budget under the other strategies."""
    parts = [_plan_kind(campaign)]
    plan = _read_parquet(paths.outputs / "campaign_plan.parquet")
    if plan is not None and len(plan):
        by = (
            plan.assign(offer=plan["offer"].fillna("(none)"))
            .groupby(["group", "offer"])
            .agg(
                customers=("customer_id", "size"),
                expected_incremental_profit=("expected_incremental_profit", "sum"),
            )
            .reset_index()
        )
        parts.append(html_table(by))
    strategies = campaign.get("strategies")
    if strategies:
        frame = pd.DataFrame(strategies)
        parts.append("<h3>Plan (uplift) vs highest response vs random, same budget</h3>" + html_table(frame))
        if "incremental_profit" in frame.columns:
            parts.append(
                _figure(lambda ax: _bars(ax, frame, "strategy", ["incremental_profit"], "incremental profit"))
            )
    if campaign.get("plan") and isinstance(campaign["plan"], dict) and campaign["plan"].get("skipped"):
        parts.append(_p(campaign["plan"]["skipped"]))
    return "".join(parts) or "<p class='muted'>no campaign plan</p>"


def measure_section(measure: dict[str, Any]) -> str:
    """Realised uplift of the executed plan (sent vs hold-out) with 95 % intervals."""
    overall = measure.get("overall", {})
    parts = [
        _p(
            f"Outcomes: {measure.get('outcomes_file')} ({measure.get('outcome_rows')} rows). "
            f"Overall realised uplift {_fmt(overall.get('uplift'))} [95% {_fmt(overall.get('uplift_low'))}, "
            f"{_fmt(overall.get('uplift_high'))}] on {overall.get('n_treated')} sent / "
            f"{overall.get('n_holdout')} held out"
        )
    ]
    per = pd.DataFrame(measure.get("per_segment", []))
    if len(per):
        keep = [
            c
            for c in (
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
            if c in per.columns
        ]
        parts.append(html_table(per[keep], 100))
    if measure.get("next_wave_allocation"):
        parts.append("<h3>Next wave allocation (Thompson sampling)</h3>")
        parts.append(html_table(pd.DataFrame(measure["next_wave_allocation"]), 100))
    return "".join(parts)


def mlflow_section(settings: Settings, paths: ProjectPaths, run_ids: dict[str, str | None]) -> str:
    """Where to find the MLflow runs behind this report."""
    uri = tracking.masked_uri(tracking.tracking_uri(settings, paths))
    items = "".join(
        f"<li>{_e(label)}: <code>{_e(run_id)}</code> — <a href='{_e(f'{MLFLOW_UI}/#/runs/{run_id}')}'>"
        f"{_e(f'{MLFLOW_UI}/#/runs/{run_id}')}</a></li>"
        for label, run_id in run_ids.items()
        if run_id
    )
    return (
        f"<p>Open the MLflow UI with <code>mlflow ui --backend-store-uri {_e(uri)} --host 127.0.0.1</code> "
        f"(experiment <code>{_e(settings.tracking.experiment)}</code>).</p><ul>{items}</ul>"
    )


def report_sections(paths: ProjectPaths, settings: Settings | None = None) -> list[tuple[str, str]]:
    """(title, html) sections built from the stage metrics and outputs."""
    sections: list[tuple[str, str]] = []
    gate = read_json(paths.metric("gate"), {})
    if gate:
        sections.append(("Promotion decisions", gate_section(gate)))
    drift = read_json(paths.metric("drift"), {})
    if drift:
        sections.append(("Drift", drift_section(drift, paths)))
    sections.append(("Segments", segments_section(paths)))
    evaluation = read_json(paths.metric("evaluate"), {})
    sections.append(("Segment migration (champion → challenger)", migration_section(evaluation)))
    sections.append(("Uplift: Qini curves", uplift_section(read_json(paths.metric("uplift"), {}), paths)))
    sections.append(("Recommender", recommender_section(read_json(paths.metric("recommend"), {}))))
    sections.append(("Campaign plan", campaign_section(read_json(paths.metric("campaign"), {}), paths)))
    measure = read_json(paths.metric("measure"), {})
    if measure:
        sections.append(("Measured outcome of the executed plan", measure_section(measure)))
    if settings is not None:
        run_ids = {"gate stage run": next((v.get("mlflow_run_id") for v in gate.values()), None)}
        run_ids["measure run"] = measure.get("mlflow_run_id")
        monitoring = read_json(paths.metric("monitoring"), {})
        run_ids["monitoring flow run"] = monitoring.get("mlflow_run_id")
        sections.append(("MLflow runs", mlflow_section(settings, paths, run_ids)))
    for stage in STAGE_METRICS:
        data = read_json(paths.metric(stage), None)
        if data:
            sections.append(
                (f"Stage metrics: {stage}", f"<details><summary>show</summary>{_kv(data)}</details>")
            )
    return sections


def render_report(sections: list[tuple[str, str]], title: str) -> str:
    """The whole page: a table of contents, then each section (contents are already escaped HTML)."""
    toc = "".join(f"<li><a href='#s{i}'>{_e(t)}</a></li>" for i, (t, _) in enumerate(sections))
    body = "".join(
        f"<section id='s{i}'><h2>{_e(t)}</h2>{content}</section>" for i, (t, content) in enumerate(sections)
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{_e(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:90rem}"
        "table{border-collapse:collapse;font-size:.8rem;margin:.5rem 0}"
        "td,th{border:1px solid #ccc;padding:.2rem .4rem;vertical-align:top}"
        "th{background:#f3f3f3}.muted{color:#777}img{max-width:100%}section{margin-bottom:2rem}</style></head>"
        f"<body><h1>{_e(title)}</h1><nav><ul>{toc}</ul></nav>{body}</body></html>"
    )


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
