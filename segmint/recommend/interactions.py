"""Implicit feedback as a sparse customers × items matrix with its id maps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from segmint.contracts import EVENT_TYPES, Tables
from segmint.settings import RecommendSettings

INTERACTION_VALUES: tuple[str, ...] = ("binary", "count", "log")


@dataclass(frozen=True)
class Interactions:
    """Customers × items implicit feedback.

    Attributes:
        matrix: CSR float32, one row per customer, one column per item; never densified.
        customer_ids: customer id of each row.
        item_ids: product id of each column.
        end: the latest timestamp the feedback was read up to (``until`` or the data end).
    """

    matrix: sp.csr_matrix
    customer_ids: np.ndarray
    item_ids: np.ndarray
    end: pd.Timestamp | None = None

    @property
    def customer_index(self) -> pd.Index:
        return pd.Index(self.customer_ids)

    @property
    def item_index(self) -> pd.Index:
        return pd.Index(self.item_ids)

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape

    def restrict_items(self, keep: np.ndarray) -> Interactions:
        """A copy holding only the columns where ``keep`` is True (customers left empty are dropped)."""
        m = self.matrix[:, np.flatnonzero(keep)].tocsr()
        rows = np.flatnonzero(np.diff(m.indptr) > 0)
        return Interactions(m[rows].tocsr(), self.customer_ids[rows], self.item_ids[keep], self.end)


def _pairs_from_orders(orders: pd.DataFrame, until: pd.Timestamp | None) -> pd.DataFrame:
    o = orders[["order_id", "customer_id", "product_id", "quantity", "ts"]].copy()
    o["is_return"] = orders["is_return"].astype(bool) if "is_return" in orders else o["quantity"] < 0
    o = o[o["customer_id"].notna() & o["product_id"].notna()]
    if until is not None:
        o = o[o["ts"] < until]
    qty = o["quantity"].astype("float64").abs()
    o = o.assign(signed=np.where(o["is_return"], -qty, qty))
    bought = o[~o["is_return"]]
    pairs = bought.groupby(["customer_id", "product_id"], sort=False).agg(
        orders=("order_id", "nunique"), last_ts=("ts", "max")
    )
    # A pair whose returned quantity reaches what was bought is no evidence of liking the item.
    net = o.groupby(["customer_id", "product_id"], sort=False)["signed"].sum()
    pairs = pairs.join(net.rename("net"), how="left")
    pairs = pairs[pairs["net"] > 0]
    return pairs.reset_index()[["customer_id", "product_id", "orders", "last_ts"]]


def interaction_tables(settings: RecommendSettings) -> tuple[str, ...]:
    """The tables ``interactions_from`` reads under ``settings``: events only when they weigh in."""
    uses_events = any(w > 0 for kind, w in settings.event_weights.items() if kind != "purchase")
    return ("orders", "events") if uses_events else ("orders",)


def interactions_from(
    tables: Tables, settings: RecommendSettings, until: pd.Timestamp | None = None
) -> Interactions:
    """Implicit feedback from orders (net of returns) and, optionally, weighted events.

    A purchased pair is worth ``event_weights["purchase"]`` times its value (``interaction_value``:
    binary, number of orders, or log1p of it); a viewed or carted pair is worth its event weight; a
    pair seen several ways keeps the largest value. With ``recency_half_life_days`` every value is
    multiplied by 0.5 ** (days since the pair's last interaction / half life).

    Args:
        tables: canonical tables; ``orders`` and/or ``events`` are read.
        settings: the recommend section.
        until: only rows strictly before this timestamp are used (None: all).

    Returns:
        The sparse matrix and its id maps, rows and columns in sorted id order.

    Raises:
        ValueError: unknown ``interaction_value`` or event type in ``event_weights``.
    """
    if settings.interaction_value not in INTERACTION_VALUES:
        raise ValueError(
            f"unknown interaction_value {settings.interaction_value!r}; "
            f"valid: {', '.join(INTERACTION_VALUES)}"
        )
    unknown = sorted(set(settings.event_weights) - set(EVENT_TYPES))
    if unknown:
        raise ValueError(f"unknown event types {unknown} in event_weights; valid: {', '.join(EVENT_TYPES)}")
    parts: list[pd.DataFrame] = []
    purchase_w = float(settings.event_weights.get("purchase", 1.0))
    if tables.orders is not None and len(tables.orders) and purchase_w > 0:
        p = _pairs_from_orders(tables.orders, until)
        counts = p["orders"].to_numpy(dtype="float64")
        value = {"binary": np.ones_like(counts), "count": counts, "log": np.log1p(counts)}[
            settings.interaction_value
        ]
        parts.append(p.assign(value=purchase_w * value)[["customer_id", "product_id", "value", "last_ts"]])
    if tables.events is not None and len(tables.events):
        ev = tables.events
        if until is not None:
            ev = ev[ev["ts"] < until]
        for kind, weight in settings.event_weights.items():
            # Purchases come from orders, which carry returns; the events log would double count them.
            if (kind == "purchase" and tables.orders is not None) or weight <= 0:
                continue
            e = ev[ev["event_type"] == kind]
            if len(e):
                g = e.groupby(["customer_id", "product_id"], sort=False)["ts"].max().rename("last_ts")
                parts.append(g.reset_index().assign(value=float(weight)))
    if not parts:
        return Interactions(
            sp.csr_matrix((0, 0), dtype=np.float32),
            np.array([], dtype=object),
            np.array([], dtype=object),
            until,
        )
    pairs = pd.concat(parts, ignore_index=True)
    pairs = (
        pairs.groupby(["customer_id", "product_id"], sort=False)
        .agg(value=("value", "max"), last_ts=("last_ts", "max"))
        .reset_index()
    )
    end = until if until is not None else pairs["last_ts"].max()
    if settings.recency_half_life_days is not None:
        age_days = (end - pairs["last_ts"]).dt.total_seconds().to_numpy() / 86_400.0
        pairs["value"] = pairs["value"].to_numpy() * np.power(
            0.5, np.clip(age_days, 0, None) / settings.recency_half_life_days
        )
    cust = pd.Index(np.sort(pairs["customer_id"].astype(str).unique()))
    items = pd.Index(np.sort(pairs["product_id"].astype(str).unique()))
    rows = cust.get_indexer(pairs["customer_id"].astype(str))
    cols = items.get_indexer(pairs["product_id"].astype(str))
    m = sp.csr_matrix(
        (pairs["value"].to_numpy(dtype=np.float32), (rows, cols)), shape=(len(cust), len(items))
    )
    m.sort_indices()
    return Interactions(m, cust.to_numpy(dtype=object), items.to_numpy(dtype=object), end)


def purchased_pairs(orders: pd.DataFrame | None) -> pd.DataFrame:
    """Every (customer_id, product_id) a customer ever bought (returned ones included), as strings.

    The exclusion list of batch scoring: the interaction matrix is net of returns, so a
    bought-then-returned product is not "seen" by a model; a shop still should not recommend it to
    the customer again.
    """
    if orders is None or not len(orders):
        return pd.DataFrame({"customer_id": pd.Series(dtype=object), "product_id": pd.Series(dtype=object)})
    bought = orders.loc[~orders["is_return"].astype(bool), ["customer_id", "product_id"]]
    return bought.astype(str).drop_duplicates().reset_index(drop=True)
