"""Implicit feedback as a sparse customers × items matrix with its id maps."""

from __future__ import annotations

import dataclasses
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
        raw: each stored entry's undecayed value (float64, aligned with ``matrix.data``), or None.
        ages: each stored entry's days from its last interaction to ``end`` (aligned likewise), or
            None. With ``raw``, :meth:`with_half_life` redecays the same pairs without reading the
            orders again.
    """

    matrix: sp.csr_matrix
    customer_ids: np.ndarray
    item_ids: np.ndarray
    end: pd.Timestamp | None = None
    raw: np.ndarray | None = None
    ages: np.ndarray | None = None

    @property
    def customer_index(self) -> pd.Index:
        """The customer ids as an index, to look rows up by id."""
        return pd.Index(self.customer_ids)

    @property
    def item_index(self) -> pd.Index:
        """The product ids as an index, to look columns up by id."""
        return pd.Index(self.item_ids)

    @property
    def shape(self) -> tuple[int, int]:
        """(customers, items)."""
        return self.matrix.shape

    def restrict_items(self, keep: np.ndarray) -> Interactions:
        """A copy holding only the columns where ``keep`` is True (customers left empty are dropped)."""
        positions = _positions(self.matrix)[:, np.flatnonzero(keep)].tocsr()
        rows = np.flatnonzero(np.diff(positions.indptr) > 0)
        return self._taken(positions[rows].tocsr(), self.customer_ids[rows], self.item_ids[keep])

    def customers_at(self, rows: np.ndarray) -> Interactions:
        """A copy holding only the customers (rows) at ``rows``, every item kept."""
        return self._taken(_positions(self.matrix)[rows].tocsr(), self.customer_ids[rows], self.item_ids)

    def with_half_life(self, half_life_days: float | None) -> Interactions:
        """The same pairs, each raw value times 0.5 ** (age / ``half_life_days``) (None: undecayed).

        Raises:
            ValueError: the interactions keep no raw values and ages.
        """
        if self.raw is None or self.ages is None:
            raise ValueError("these interactions keep no raw values and ages to decay")
        values = self.raw if half_life_days is None else self.raw * np.power(0.5, self.ages / half_life_days)
        matrix = sp.csr_matrix(
            (values.astype(np.float32), self.matrix.indices, self.matrix.indptr), shape=self.matrix.shape
        )
        return dataclasses.replace(self, matrix=matrix)

    def _taken(
        self, positions: sp.csr_matrix, customer_ids: np.ndarray, item_ids: np.ndarray
    ) -> Interactions:
        """The entries ``positions`` (a slice of :func:`_positions`) holds, raw values and ages kept."""
        order = positions.data.astype(np.int64) - 1

        def taken(values: np.ndarray | None) -> np.ndarray | None:
            return None if values is None else values[order]

        matrix = sp.csr_matrix(
            (self.matrix.data[order], positions.indices, positions.indptr), shape=positions.shape
        )
        return Interactions(matrix, customer_ids, item_ids, self.end, taken(self.raw), taken(self.ages))


def _positions(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """``matrix``'s pattern holding each stored entry's position plus one (float64, exact), to slice by."""
    return sp.csr_matrix(
        (np.arange(1, matrix.nnz + 1, dtype=np.float64), matrix.indices, matrix.indptr), shape=matrix.shape
    )


def _pairs_from_orders(orders: pd.DataFrame, until: pd.Timestamp | None) -> pd.DataFrame:
    """Bought (customer_id, product_id) pairs not returned in full, with their orders and last time."""
    lines = orders[["order_id", "customer_id", "product_id", "quantity", "ts"]].copy()
    lines["is_return"] = orders["is_return"].astype(bool) if "is_return" in orders else lines["quantity"] < 0
    lines = lines[lines["customer_id"].notna() & lines["product_id"].notna()]
    if until is not None:
        lines = lines[lines["ts"] < until]
    qty = lines["quantity"].astype("float64").abs()
    returned = lines["is_return"].to_numpy()
    # One pass: orders and last time count bought lines only, the net quantity every line.
    lines = lines.assign(
        signed=np.where(returned, -qty, qty),
        bought_order=lines["order_id"].where(~returned),
        bought_ts=lines["ts"].where(~returned),
    )
    pairs = lines.groupby(["customer_id", "product_id"], sort=False).agg(
        orders=("bought_order", "nunique"), last_ts=("bought_ts", "max"), net=("signed", "sum")
    )
    # A pair whose returned quantity reaches what was bought is no evidence of liking the item.
    pairs = pairs[(pairs["orders"] > 0) & (pairs["net"] > 0)]
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
    _check_value_names(settings)
    parts = _purchase_values(tables, settings, until) + _event_values(tables, settings, until)
    if not parts:
        return Interactions(
            sp.csr_matrix((0, 0), dtype=np.float32),
            np.array([], dtype=object),
            np.array([], dtype=object),
            until,
        )
    pairs = _strongest_per_pair(parts)
    end = until if until is not None else pairs["last_ts"].max()
    return _sparse_interactions(pairs, end).with_half_life(settings.recency_half_life_days)


def _check_value_names(settings: RecommendSettings) -> None:
    """Raise when ``interaction_value`` or an ``event_weights`` key is not an allowed name."""
    if settings.interaction_value not in INTERACTION_VALUES:
        raise ValueError(
            f"unknown interaction_value {settings.interaction_value!r}; "
            f"valid: {', '.join(INTERACTION_VALUES)}"
        )
    unknown = sorted(set(settings.event_weights) - set(EVENT_TYPES))
    if unknown:
        raise ValueError(f"unknown event types {unknown} in event_weights; valid: {', '.join(EVENT_TYPES)}")


def _purchase_values(
    tables: Tables, settings: RecommendSettings, until: pd.Timestamp | None
) -> list[pd.DataFrame]:
    """The purchased pairs with their weighted value (none when orders are absent or weigh nothing)."""
    weight = float(settings.event_weights.get("purchase", 1.0))
    if tables.orders is not None and len(tables.orders) and weight > 0:
        pairs = _pairs_from_orders(tables.orders, until)
        counts = pairs["orders"].to_numpy(dtype="float64")
        value = {"binary": np.ones_like(counts), "count": counts, "log": np.log1p(counts)}[
            settings.interaction_value
        ]
        return [pairs.assign(value=weight * value)[["customer_id", "product_id", "value", "last_ts"]]]
    return []


def _event_values(
    tables: Tables, settings: RecommendSettings, until: pd.Timestamp | None
) -> list[pd.DataFrame]:
    """For each event type that weighs in, its pairs with their last time and the type's weight."""
    if tables.events is None or not len(tables.events):
        return []
    events = tables.events
    if until is not None:
        events = events[events["ts"] < until]
    parts = []
    for kind, weight in settings.event_weights.items():
        # Purchases come from orders, which carry returns; the events log would double count them.
        if (kind == "purchase" and tables.orders is not None) or weight <= 0:
            continue
        of_kind = events[events["event_type"] == kind]
        if len(of_kind):
            last = of_kind.groupby(["customer_id", "product_id"], sort=False)["ts"].max().rename("last_ts")
            parts.append(last.reset_index().assign(value=float(weight)))
    return parts


def _strongest_per_pair(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """One row per (customer_id, product_id): the largest value and the latest time of any part."""
    return (
        pd.concat(parts, ignore_index=True)
        .groupby(["customer_id", "product_id"], sort=False)
        .agg(value=("value", "max"), last_ts=("last_ts", "max"))
        .reset_index()
    )


def _sparse_interactions(pairs: pd.DataFrame, end: pd.Timestamp) -> Interactions:
    """The pairs' raw values as a customers × items CSR matrix (with their ages at ``end``), ids sorted."""
    customers = pd.Index(np.sort(pairs["customer_id"].astype(str).unique()))
    items = pd.Index(np.sort(pairs["product_id"].astype(str).unique()))
    rows = customers.get_indexer(pairs["customer_id"].astype(str))
    cols = items.get_indexer(pairs["product_id"].astype(str))
    positions = sp.csr_matrix(
        (np.arange(1, len(pairs) + 1, dtype=np.float64), (rows, cols)), shape=(len(customers), len(items))
    )
    positions.sort_indices()
    order = positions.data.astype(np.int64) - 1
    raw = pairs["value"].to_numpy(dtype=np.float64)[order]
    age_days = (end - pairs["last_ts"]).dt.total_seconds().to_numpy() / 86_400.0
    matrix = sp.csr_matrix(
        (raw.astype(np.float32), positions.indices, positions.indptr), shape=positions.shape
    )
    return Interactions(
        matrix,
        customers.to_numpy(dtype=object),
        items.to_numpy(dtype=object),
        end,
        raw,
        np.clip(age_days, 0, None)[order],
    )


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
