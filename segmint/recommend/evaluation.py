"""The pinned evaluation protocol: two temporal splits, top-k metrics, bootstrap intervals.

Three parts of the purchase history, oldest first: the inner training part, the inner test periods
(where candidates are chosen and tuned: :func:`selection_splits`, rolling cuts as long as the
served horizon) and the outer test period, the latest one (where the chosen configuration, refit on
everything before it, is reported, gated and compared: :func:`temporal_split`). Nothing chooses on
the outer test period.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from segmint.contracts import Tables
from segmint.recommend.base import Recommender
from segmint.recommend.interactions import Interactions, interactions_from
from segmint.settings import RecommendSettings

METRICS: tuple[str, ...] = ("ndcg", "recall", "map")

SplitRole = Literal["report", "selection"]


@dataclass(frozen=True)
class Split:
    """A temporal train/test split.

    Attributes:
        train: interactions before ``cutoff``, items bought by ≥ ``min_item_customers`` customers.
        relevant: CSR aligned with ``train`` (rows = customers, cols = items): bought in the test
            period and not before.
        test_customers: customers with history and at least one relevant item.
        cutoff: where the test period starts (the training part is everything strictly before it).
        role: ``report`` (the outer split: its test period is the latest one, and nothing chooses on
            it) or ``selection`` (the inner split inside the outer training period).
        first_purchase: the earliest purchase the split reads.
        last_purchase: the latest purchase of its test period.
    """

    train: Interactions
    relevant: sp.csr_matrix
    test_customers: np.ndarray
    cutoff: pd.Timestamp
    role: SplitRole = "report"
    first_purchase: pd.Timestamp | None = None
    last_purchase: pd.Timestamp | None = None


def _purchases(tables: Tables) -> pd.DataFrame:
    if tables.orders is None or not len(tables.orders):
        raise ValueError("the recommender needs an orders table with purchases")
    o = tables.orders
    is_return = o["is_return"].astype(bool) if "is_return" in o else o["quantity"] < 0
    return o[~is_return & o["customer_id"].notna() & o["product_id"].notna()]


def popular_items_mask(interactions: Interactions, min_customers: int) -> np.ndarray:
    """True for items with at least ``min_customers`` distinct customers."""
    counts = np.diff((interactions.matrix > 0).tocsc().indptr)
    return counts >= min_customers


def report_cutoff(tables: Tables, settings: RecommendSettings) -> pd.Timestamp:
    """The start of the test period that is reported and gated: the ``split_quantile`` of purchase times.

    Raises:
        ValueError: no orders.
    """
    return _purchases(tables)["ts"].quantile(settings.split_quantile)


def temporal_split(tables: Tables, settings: RecommendSettings) -> Split:
    """The outer split: cut at the ``split_quantile`` of purchase times, score on what was new after it.

    Its test period is the latest one; it is what is reported, gated and compared, and no
    selection or tuning may look at it (they use :func:`selection_split`). Above
    ``split_max_customers`` customers with history before the cutoff, the split holds a seeded
    sample of that many (the items kept are still those of all customers).

    Raises:
        ValueError: no orders, or no items left after the ``min_item_customers`` filter.
    """
    return _split_at(tables, settings, report_cutoff(tables, settings), "report")


def selection_horizon(tables: Tables, settings: RecommendSettings) -> pd.Timedelta:
    """The length of each inner test period: ``horizon_days``, else the outer test period's length.

    Raises:
        ValueError: no orders, or (without ``horizon_days``) an empty outer test period.
    """
    if settings.horizon_days is not None:
        return pd.Timedelta(days=settings.horizon_days)
    outer = report_cutoff(tables, settings)
    horizon = _purchases(tables)["ts"].max() - outer
    if horizon <= pd.Timedelta(0):
        raise ValueError(f"no purchase after the outer cutoff {outer}: no test period to mirror")
    return horizon


def selection_splits(tables: Tables, settings: RecommendSettings) -> list[Split]:
    """The inner splits: ``selection_cuts`` rolling cuts of the outer training period, latest first.

    Only rows before the outer cutoff are read. Each inner test period is
    :func:`selection_horizon` long; the first ends at the outer cutoff and each next one ends where
    the one before starts, so the periods tile the end of the training period like the future the
    served model meets. The rest of the protocol (item filter, relevance, sample) is the outer
    one's. Cuts too early to leave items or test customers are dropped.

    Raises:
        ValueError: no orders, an empty outer test period, or not one usable cut.
    """
    outer = report_cutoff(tables, settings)
    horizon = selection_horizon(tables, settings)
    splits = []
    for i in range(settings.selection_cuts):
        end = outer - i * horizon
        try:
            split = _split_at(_tables_before(tables, end), settings, end - horizon, "selection")
        except ValueError:
            break
        if not len(split.test_customers):
            break
        splits.append(split)
    if not splits:
        raise ValueError(f"no inner cut of {horizon} before the outer cutoff {outer} has items and buyers")
    return splits


def selection_split(tables: Tables, settings: RecommendSettings) -> Split:
    """The latest inner split (the first of :func:`selection_splits`), for choosing and tuning.

    Raises:
        ValueError: no orders, an empty outer test period, or no items left before the inner cutoff.
    """
    outer = report_cutoff(tables, settings)
    horizon = selection_horizon(tables, settings)
    return _split_at(_tables_before(tables, outer), settings, outer - horizon, "selection")


def _tables_before(tables: Tables, end: pd.Timestamp) -> Tables:
    """``tables`` with only the orders and events strictly before ``end``."""
    orders = tables.orders
    events = tables.events
    return dataclasses.replace(
        tables,
        orders=None if orders is None else orders[orders["ts"] < end].reset_index(drop=True),
        events=None if events is None else events[events["ts"] < end].reset_index(drop=True),
    )


def _split_at(tables: Tables, settings: RecommendSettings, cutoff: pd.Timestamp, role: SplitRole) -> Split:
    """Train on everything before ``cutoff``; relevant: bought from ``cutoff`` on and never before."""
    buys = _purchases(tables)
    train = interactions_from(tables, settings, until=cutoff)
    train = train.restrict_items(popular_items_mask(train, settings.min_item_customers))
    if train.shape[1] == 0:
        raise ValueError(
            f"no item was bought by {settings.min_item_customers}+ customers before the {role} "
            f"cutoff {cutoff}"
        )
    if train.shape[0] > settings.split_max_customers:
        # Choosing needs a sample, not everyone: candidates are compared on a seeded sample of
        # customers (item filter from all of them); the chosen model is refit on all history.
        rng = np.random.default_rng(settings.seed)
        rows = np.sort(rng.choice(train.shape[0], settings.split_max_customers, replace=False))
        train = train.customers_at(rows)
    after = buys[buys["ts"] >= cutoff]
    rel = _relevant(train, after[["customer_id", "product_id"]].astype(str).drop_duplicates())
    test = train.customer_ids[np.diff(rel.indptr) > 0]
    last = after["ts"].max() if len(after) else None
    return Split(train, rel, test, cutoff, role, buys["ts"].min(), last)


def _relevant(train: Interactions, after: pd.DataFrame) -> sp.csr_matrix:
    """The (customer_id, product_id) pairs of ``after`` known to ``train`` and not in its history."""
    rows = train.customer_index.get_indexer(after["customer_id"])
    cols = train.item_index.get_indexer(after["product_id"])
    keep = (rows >= 0) & (cols >= 0)
    rel = sp.csr_matrix((np.ones(int(keep.sum()), np.float32), (rows[keep], cols[keep])), shape=train.shape)
    rel = rel - rel.multiply(train.matrix > 0)
    rel.eliminate_zeros()
    return rel.tocsr()


def describe_split(split: Split) -> dict:
    """Which rows a split's numbers come from: its role, periods (ISO dates) and counts.

    Returns:
        {"role", "train_from", "train_before", "test_from", "test_to", "train_customers",
        "items", "test_customers", "relevant_pairs"}; the training part is
        [train_from, train_before), the test period [test_from, test_to].
    """

    def iso(ts: pd.Timestamp | None) -> str | None:
        return None if ts is None or pd.isna(ts) else pd.Timestamp(ts).isoformat()

    return {
        "role": split.role,
        "train_from": iso(split.first_purchase),
        "train_before": iso(split.cutoff),
        "test_from": iso(split.cutoff),
        "test_to": iso(split.last_purchase),
        "train_customers": int(split.train.shape[0]),
        "items": int(split.train.shape[1]),
        "test_customers": len(split.test_customers),
        "relevant_pairs": int(split.relevant.nnz),
    }


def per_customer_metrics(recommended: pd.DataFrame, split: Split, k: int) -> pd.DataFrame:
    """NDCG@k, Recall@k (hits / min(k, relevant)) and AP@k for each test customer.

    Returns:
        DataFrame[customer_id, ndcg, recall, ap, n_relevant] in ``recommended`` order.
    """
    lists = recommended["recommended_product_ids"].tolist()
    lengths = np.array([min(len(x), k) for x in lists], dtype=np.int64)
    flat = [p for x in lists for p in x[:k]]
    cols = split.train.item_index.get_indexer(flat) if flat else np.empty(0, np.int64)
    grid = np.full((len(lists), k), -1, dtype=np.int64)
    mask = np.arange(k)[None, :] < lengths[:, None]
    grid[mask] = cols
    return _metrics_of_positions(recommended["customer_id"].to_numpy(), grid, split, k)


def _metrics_of_positions(customer_ids: np.ndarray, grid: np.ndarray, split: Split, k: int) -> pd.DataFrame:
    """:func:`per_customer_metrics` from each customer's top-``k`` item positions (-1 where none)."""
    n_items = split.train.shape[1]
    rows = split.train.customer_index.get_indexer(customer_ids)
    rel = split.relevant.tocoo()
    rel_keys = np.sort(rel.row.astype(np.int64) * n_items + rel.col)
    keys = rows[:, None].astype(np.int64) * n_items + grid
    hits = np.isin(keys, rel_keys) & (grid >= 0) & (rows[:, None] >= 0)
    n_rel = np.diff(split.relevant.indptr)[np.maximum(rows, 0)] * (rows >= 0)
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(disc)[np.clip(np.minimum(n_rel, k) - 1, 0, k - 1)]
    denom = np.maximum(np.minimum(n_rel, k), 1)
    ndcg = np.where(n_rel > 0, (hits * disc).sum(axis=1) / ideal, 0.0)
    recall = hits.sum(axis=1) / denom
    precision_at = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    ap = (precision_at * hits).sum(axis=1) / denom
    return pd.DataFrame(
        {
            "customer_id": customer_ids,
            "ndcg": ndcg,
            "recall": recall,
            "ap": ap,
            "n_relevant": n_rel,
        }
    )


def evaluate_on_split(model: Recommender, split: Split, k: int, segments: pd.DataFrame | None = None) -> dict:
    """Score ``model`` (fitted on ``split.train``) on the split's test customers.

    Returns:
        dict with ``ndcg``, ``recall``, ``map``, ``coverage`` (share of the training catalogue
        recommended to anyone), ``n_customers``, ``per_customer`` (DataFrame kept for paired
        bootstraps) and, when ``segments`` is given, ``per_segment`` (DataFrame).
    """
    ids = np.asarray(split.test_customers, dtype=object).astype(str)
    positions = model.top_positions(ids.tolist(), k, exclude_seen=True)
    grid = np.pad(positions, ((0, 0), (0, k - positions.shape[1])), constant_values=-1)
    per = _metrics_of_positions(ids, grid, split, k)
    out: dict = {
        "ndcg": float(per["ndcg"].mean()) if len(per) else float("nan"),
        "recall": float(per["recall"].mean()) if len(per) else float("nan"),
        "map": float(per["ap"].mean()) if len(per) else float("nan"),
        "coverage": len(np.unique(grid[grid >= 0])) / max(split.train.shape[1], 1),
        "n_customers": len(per),
        "per_customer": per,
    }
    if segments is not None:
        recs = model.recommend(ids.tolist(), k, exclude_seen=True)
        out["per_segment"] = per_segment_metrics(per, recs, segments, split)
    return out


def per_segment_metrics(
    per: pd.DataFrame, recs: pd.DataFrame, segments: pd.DataFrame, split: Split
) -> pd.DataFrame:
    """Mean NDCG/Recall/MAP, coverage and customer count per segment (unsegmented: "none")."""
    seg = segments[["customer_id", "segment_id"]].astype({"customer_id": str}).drop_duplicates("customer_id")
    merged = per.merge(seg, on="customer_id", how="left")
    merged["segment_id"] = merged["segment_id"].astype(object).where(merged["segment_id"].notna(), "none")
    merged["items"] = recs["recommended_product_ids"].to_numpy()
    rows = []
    for seg_id, g in merged.groupby("segment_id", sort=True):
        items = {p for x in g["items"] for p in x}
        rows.append(
            {
                "segment_id": seg_id,
                "n_customers": len(g),
                "ndcg": g["ndcg"].mean(),
                "recall": g["recall"].mean(),
                "map": g["ap"].mean(),
                "coverage": len(items) / max(split.train.shape[1], 1),
            }
        )
    return pd.DataFrame(rows, columns=["segment_id", "n_customers", "ndcg", "recall", "map", "coverage"])


def bootstrap_intervals(per: pd.DataFrame, rounds: int, seed: int, level: float = 0.95) -> dict:
    """Percentile bootstrap intervals over customers for NDCG, Recall and MAP.

    Returns:
        {"ndcg": (low, high), "recall": ..., "map": ...}; NaNs when ``rounds`` is 0 or no customers.
    """
    cols = {"ndcg": "ndcg", "recall": "recall", "map": "ap"}
    if rounds == 0 or not len(per):
        return {m: (float("nan"), float("nan")) for m in cols}
    rng = np.random.default_rng(seed)
    values = per[list(cols.values())].to_numpy(dtype=np.float64)
    n = len(values)
    means = np.empty((rounds, values.shape[1]))
    for r in range(rounds):
        # Resampling as multinomial counts keeps memory at O(customers) per round.
        counts = np.bincount(rng.integers(0, n, n), minlength=n)
        means[r] = counts @ values / n
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2], axis=0)
    return {m: (float(lo[j]), float(hi[j])) for j, m in enumerate(cols)}


def paired_bootstrap(
    a: pd.DataFrame, b: pd.DataFrame, rounds: int, seed: int, metric: str = "ndcg", level: float = 0.95
) -> dict:
    """Bootstrap of mean(a) − mean(b) resampling the same customers for both models.

    Args:
        a: per-customer metrics of model A (``evaluate_on_split(...)["per_customer"]``).
        b: the same for model B, on the same split.
        metric: "ndcg", "recall" or "ap".

    Returns:
        {"diff", "low", "high", "share_not_above_zero", "n_customers"}.
    """
    if metric not in ("ndcg", "recall", "ap"):
        raise ValueError(f"unknown metric {metric!r}; valid: ndcg, recall, ap")
    m = a[["customer_id", metric]].merge(b[["customer_id", metric]], on="customer_id", suffixes=("_a", "_b"))
    d = (m[f"{metric}_a"] - m[f"{metric}_b"]).to_numpy(dtype=np.float64)
    if not len(d) or rounds == 0:
        return {
            "diff": float(d.mean()) if len(d) else float("nan"),
            "low": float("nan"),
            "high": float("nan"),
            "share_not_above_zero": float("nan"),
            "n_customers": len(d),
        }
    rng = np.random.default_rng(seed)
    n = len(d)
    means = np.array([np.bincount(rng.integers(0, n, n), minlength=n) @ d / n for _ in range(rounds)])
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return {
        "diff": float(d.mean()),
        "low": float(lo),
        "high": float(hi),
        "share_not_above_zero": float((means <= 0).mean()),
        "n_customers": n,
    }


def evaluate_recommender(
    model: Recommender | Callable[[], Recommender],
    split: Split,
    settings: RecommendSettings,
    segments: pd.DataFrame | None = None,
) -> dict:
    """Evaluate a fitted model, or a factory whose product is fitted on ``split.train`` here.

    A fitted model must have been fitted on ``split.train`` (a champion refit on all history would
    have seen the test period).

    Returns:
        ``evaluate_on_split``'s dict plus ``intervals`` (bootstrap over customers) and ``fit_seconds``.
    """
    fit_seconds = 0.0
    if not isinstance(model, Recommender):
        started = time.perf_counter()
        model = model().fit(split.train, segments)
        fit_seconds = time.perf_counter() - started
    out = evaluate_on_split(model, split, settings.k, segments)
    out["intervals"] = bootstrap_intervals(out["per_customer"], settings.bootstrap_rounds, settings.seed)
    out["fit_seconds"] = fit_seconds
    return out
