"""The report's opening summary: what was trained, what was promoted and why, what changed against the
champion, and the plan at a glance, from the stage metrics. The markup is ``report/summary.html.j2``."""

from __future__ import annotations

from typing import Any

import pandas as pd
from markupsafe import Markup

from segmint.settings import Settings
from tasks.io import read_json
from tasks.pages import MISSING, number, percent, render, signed, table
from tasks.paths import ProjectPaths

TOP_DRIFTED = 5
OFFER_COLUMNS = {
    "offer": "offer",
    "sent": "contacts",
    "holdout": "held out",
    "spend": "spend",
    "expected_incremental_conversions": "expected incremental conversions",
    "expected_incremental_profit": "expected incremental profit",
}
DATA_DOCS = "data_docs/index.html"  # relative to reports/, where the report lives


def decision_outcome(entry: dict[str, Any]) -> str:
    """A gate entry's outcome in words: who is champion now."""
    before, after = entry.get("champion_version_before"), entry.get("champion_version")
    if entry.get("decision") == "promote":
        was = f"replacing version {before}" if before else "the first champion"
        return f"version {entry.get('challenger_version') or MISSING} is champion, {was}"
    if after:
        return f"not promoted; version {after} stays champion"
    return "not promoted; there is no champion yet"


def migration_frame(evaluation: dict[str, Any]) -> pd.DataFrame | None:
    """Customers by champion segment (rows) and challenger segment (columns), when there is a champion."""
    migration = evaluation.get("segmenter", {}).get("migration")
    if not migration:
        return None
    return pd.DataFrame(migration["counts"], index=migration["rows"], columns=migration["columns"])


def stayed_share(frame: pd.DataFrame) -> float | None:
    """The share of customers whose challenger segment has the same name as their champion segment."""
    total = float(frame.to_numpy().sum())
    if not total:
        return None
    same = sum(float(frame.loc[name, name]) for name in frame.index if name in frame.columns)
    return same / total


def trained_frame(evaluation: dict[str, Any], metrics: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """One row per model trained this run: its version, what was selected, and its quality."""
    clv = metrics.get("uplift", {}).get("clv") or {}
    chosen = {
        "segmenter": _segmenter_choice(metrics.get("segment", {})),
        "recommender": metrics.get("recommend", {}).get("winner"),
        "uplift": metrics.get("uplift", {}).get("winner"),
        "clv": f"LightGBM Tweedie, seed {clv['seed']}" if "seed" in clv else None,
    }
    rows = []
    for kind, entry in evaluation.items():
        if not isinstance(entry, dict):
            continue
        skipped = entry.get("skipped")
        quality = number(entry.get("challenger_quality"), "not measured")
        rows.append(
            {
                "model": kind,
                "version": str(entry.get("challenger_version") or "none trained"),
                "selected": f"skipped: {skipped}" if skipped else str(chosen.get(kind) or MISSING),
                "quality": f"{entry.get('quality_name') or 'quality'} {quality}",
            }
        )
    return pd.DataFrame(rows)


def _segmenter_choice(segment: dict[str, Any]) -> str | None:
    selected = segment.get("selected") or {}
    if not selected:
        return None
    return f"{selected.get('algorithm', 'segmenter')}, {number(segment.get('n_segments'))} segments"


def delta_frame(gate: dict[str, Any]) -> pd.DataFrame:
    """Challenger against champion quality per model; "no champion yet" where there is none."""
    rows = []
    for kind, entry in gate.items():
        champion = entry.get("champion_quality")
        challenger = entry.get("challenger_quality")
        has_both = champion is not None and challenger is not None
        rows.append(
            {
                "model": kind,
                "measure": str(entry.get("quality_name") or "quality"),
                "challenger": number(challenger, "not measured"),
                "champion": number(champion, "no champion yet"),
                "change": signed(challenger - champion) if has_both else "not comparable",
            }
        )
    return pd.DataFrame(rows)


def migration_text(evaluation: dict[str, Any]) -> str:
    """How customers moved between the champion's and the challenger's segments, in a sentence."""
    frame = migration_frame(evaluation)
    if frame is None:
        return "no champion segmenter to compare with"
    stability = evaluation.get("segmenter", {}).get("stability", {})
    moves = [
        (int(frame.iloc[i, j]), str(frame.index[i]), str(frame.columns[j]))
        for i in range(frame.shape[0])
        for j in range(frame.shape[1])
        if str(frame.index[i]) != str(frame.columns[j]) and frame.iloc[i, j] > 0
    ]
    largest = sorted(moves, key=lambda move: -move[0])[:3]
    named = "; ".join(f"{number(n)} from {a} to {b}" for n, a, b in largest) or "none"
    return (
        f"{percent(stayed_share(frame), 'an unknown share')} of customers kept a segment of the same name "
        f"(ARI {number(stability.get('ari'), 'not measured')}); largest moves: {named}"
    )


def _exceedance(stats: dict[str, Any]) -> float:
    # How far past its threshold a feature drifted: p-values drift below it, distances above it.
    statistic, threshold = stats.get("statistic"), stats.get("threshold")
    if not statistic or not threshold:
        return 0.0
    if "p_value" in str(stats.get("method", "")):
        return float(threshold) / float(statistic)
    return float(statistic) / float(threshold)


def drift_overview(drift: dict[str, Any]) -> tuple[str, pd.DataFrame | None]:
    """A sentence on drift and the most drifted features (by how far past their threshold)."""
    if not drift:
        return "not measured in this run", None
    if drift.get("note") and not drift.get("columns"):
        return f"not measured: {drift['note']}", None
    detected = "detected" if drift.get("drift_detected") else "not detected"
    drifted = [(c, s) for c, s in drift.get("columns", {}).items() if s.get("drifted")]
    top = sorted(drifted, key=lambda item: -_exceedance(item[1]))[:TOP_DRIFTED]
    text = (
        f"{detected}; {percent(drift.get('drifted_share'), 'an unknown share')} of "
        f"{number(drift.get('n_columns'), 'the')} feature columns drifted"
    )
    if "drifted_models" in drift:
        models = ", ".join(str(m) for m in drift["drifted_models"]) or "none"
        text += f"; models whose own inputs drifted: {models}"
    if not top:
        return text, None
    frame = pd.DataFrame(
        [
            {
                "feature": column,
                "method": stats.get("method", MISSING),
                "statistic": stats.get("statistic"),
                "threshold": stats.get("threshold"),
                "reference mean": stats.get("reference_mean"),
                "current mean": stats.get("current_mean"),
            }
            for column, stats in top
        ]
    )
    return text, frame


def plan_overview(campaign: dict[str, Any], settings: Settings | None) -> tuple[str, pd.DataFrame | None]:
    """The plan in a sentence (kind, contacts, budget, hold-out) and the contacts per offer."""
    if not campaign:
        return "no campaign plan in this run", None
    plan = campaign.get("plan")
    if isinstance(plan, dict) and plan.get("skipped"):
        return f"no campaign plan: {plan['skipped']}", None
    offers = [row for row in plan or [] if isinstance(row, dict) and row.get("offer") != "total"]
    frame = pd.DataFrame(offers).rename(columns=OFFER_COLUMNS) if offers else None
    if frame is not None:
        frame = frame[[c for c in OFFER_COLUMNS.values() if c in frame.columns]]
    spend = sum(float(row.get("spend") or 0.0) for row in offers)
    contacted, holdout = campaign.get("contacted"), campaign.get("holdout")
    share = holdout / (holdout + contacted) if contacted is not None and holdout else None
    budget = number(settings.campaign.budget) if settings is not None else "not recorded"
    text = (
        f"{campaign.get('plan_kind') or 'a'} plan: {number(contacted, 'no')} customers contacted, "
        f"{number(holdout, 'none')} held out ({percent(share, 'no hold-out')}), "
        f"spend {number(spend)} of a budget of {budget}, expected incremental profit "
        f"{number(campaign.get('expected_incremental_profit'), 'not estimated')}"
    )
    return text, frame


def page_links(paths: ProjectPaths) -> tuple[list[tuple[str, str]], list[str]]:
    """Links to the other pages (relative to ``reports/``), and a note for each one not built."""
    pages = {
        DATA_DOCS: ("Great Expectations Data Docs", "no Data Docs built"),
        "validation/index.html": ("data validation page", "no validation page built"),
        "drift/index.html": ("drift reports", "no drift reports built"),
    }
    links, missing = [], []
    for href, (label, note) in pages.items():
        if (paths.reports / href).exists():
            links.append((href, label))
        else:
            missing.append(note)
    return links, missing


def summary_section(paths: ProjectPaths, settings: Settings | None = None) -> Markup:
    """The report's opening section, from the stage metrics under ``paths``."""
    metrics = {
        name: read_json(paths.metric(name), {}) or {}
        for name in ("gate", "evaluate", "drift", "campaign", "segment", "recommend", "uplift")
    }
    gate = metrics["gate"]
    drift_text, top_drifted = drift_overview(metrics["drift"])
    plan_text, offers = plan_overview(metrics["campaign"], settings)
    links, missing = page_links(paths)
    decisions = [
        {
            "model": kind,
            "decision": str(entry.get("decision") or "no decision recorded"),
            "outcome": decision_outcome(entry),
            "reasons": [str(r) for r in entry.get("reasons", [])],
        }
        for kind, entry in gate.items()
    ]
    return render(
        "report/summary.html.j2",
        trained=table(trained_frame(metrics["evaluate"], metrics)),
        decisions=decisions,
        deltas=table(delta_frame(gate) if gate else None),
        migration=migration_text(metrics["evaluate"]),
        drift=drift_text,
        top_drifted=table(top_drifted),
        plan=plan_text,
        offers=table(offers),
        links=links,
        missing_links=missing,
    )
