"""Small matplotlib figures of the stages' results, for their MLflow runs (built without pyplot)."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

_SIZE = (6.0, 3.5)


def segment_sizes_figure(sizes: pd.Series) -> Figure:
    """Customers per segment (``sizes``: count by segment name), largest first, as horizontal bars."""
    ordered = sizes.sort_values()
    figure = Figure(figsize=(_SIZE[0], max(_SIZE[1], 0.35 * len(ordered) + 1)), layout="constrained")
    ax = figure.subplots()
    ax.barh([str(name) for name in ordered.index], ordered.to_numpy())
    ax.set_xlabel("customers")
    ax.set_title("Segment sizes")
    return figure


def qini_figure(qini: pd.DataFrame) -> Figure:
    """Qini curves (``offer``, ``learner``, ``fraction``, ``qini``): one line per offer and learner."""
    figure = Figure(figsize=_SIZE, layout="constrained")
    ax = figure.subplots()
    for (offer, learner), curve in qini.groupby(["offer", "learner"], sort=True):
        ax.plot(curve["fraction"], curve["qini"], label=f"{offer} · {learner}")
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.set_xlabel("share of customers targeted")
    ax.set_ylabel("Qini (incremental responders)")
    ax.set_title("Qini curves")
    if len(qini):
        ax.legend(fontsize="x-small")
    return figure


def candidate_ndcg_figure(candidates: pd.DataFrame) -> Figure:
    """NDCG of each recommender candidate (``name``, ``ndcg``) on the selection split."""
    figure = Figure(figsize=_SIZE, layout="constrained")
    ax = figure.subplots()
    ax.bar(candidates["name"].astype(str), candidates["ndcg"].astype(float))
    ax.set_ylabel("NDCG")
    ax.set_title("Recommender candidates (selection split)")
    ax.tick_params(axis="x", labelrotation=30)
    return figure


def score_histogram_figure(scores: pd.Series, threshold: float | None) -> Figure:
    """Histogram of the anomaly scores, with the flag threshold as a vertical line."""
    figure = Figure(figsize=_SIZE, layout="constrained")
    ax = figure.subplots()
    ax.hist(scores.astype(float).dropna(), bins=50)
    if threshold is not None:
        ax.axvline(float(threshold), color="red", linestyle="--", label="flag threshold")
        ax.legend(fontsize="small")
    ax.set_xlabel("anomaly score")
    ax.set_ylabel("customers")
    ax.set_title("Anomaly scores")
    return figure
