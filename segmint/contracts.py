"""Canonical data contracts: the six tables every source is mapped into.

The schemas here are the single source of truth for column names and types. ``coerce_table``
turns any frame that carries the required columns into the canonical dtypes (timestamps in UTC;
naive input means UTC) or raises :class:`BadInputError` naming table, column and rule.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import pandas as pd

Kind = Literal["str", "timestamp", "float", "int", "bool"]

TABLE_NAMES: tuple[str, ...] = ("customers", "products", "events", "orders", "reviews", "campaigns")
EventType = Literal["view", "cart", "purchase"]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
CONTROL = "control"


@dataclass(frozen=True)
class TableSchema:
    """Required and optional columns of one canonical table, with their kinds."""

    name: str
    required: Mapping[str, Kind]
    optional: Mapping[str, Kind] = field(default_factory=dict)
    key: tuple[str, ...] = ()

    def kind_of(self, column: str) -> Kind | None:
        """The kind of ``column``, or ``None`` when the schema does not know it."""
        return self.required.get(column) or self.optional.get(column)


SCHEMAS: dict[str, TableSchema] = {
    "customers": TableSchema(
        "customers",
        {"customer_id": "str", "signup_ts": "timestamp", "country": "str", "channel": "str"},
        {"opted_out": "bool"},
        key=("customer_id",),
    ),
    "products": TableSchema(
        "products",
        {"product_id": "str", "category": "str", "price": "float"},
        {"name": "str"},
        key=("product_id",),
    ),
    "events": TableSchema(
        "events",
        {
            "customer_id": "str",
            "product_id": "str",
            "event_type": "str",
            "ts": "timestamp",
            "session_id": "str",
        },
    ),
    "orders": TableSchema(
        "orders",
        {
            "order_id": "str",
            "customer_id": "str",
            "product_id": "str",
            "quantity": "int",
            "unit_price": "float",
            "ts": "timestamp",
        },
        {"is_return": "bool", "discount": "float"},
    ),
    "reviews": TableSchema(
        "reviews",
        {
            "review_id": "str",
            "customer_id": "str",
            "product_id": "str",
            "rating": "int",
            "text": "str",
            "ts": "timestamp",
        },
        key=("review_id",),
    ),
    "campaigns": TableSchema(
        "campaigns",
        {
            "campaign_id": "str",
            "customer_id": "str",
            "treatment": "str",
            "sent_ts": "timestamp",
            "converted": "int",
            "revenue": "float",
        },
        key=("campaign_id", "customer_id"),
    ),
}


class BadInputError(ValueError):
    """Input that cannot be used: names the table, column, rule and how many rows broke it.

    The CLI turns it into exit code 2.
    """

    def __init__(
        self,
        table: str,
        rule: str,
        detail: str,
        column: str | None = None,
        count: int | None = None,
        report: str | None = None,
    ) -> None:
        self.table, self.column, self.rule, self.count, self.report = table, column, rule, count, report
        where = f"{table}.{column}" if column else table
        parts = [f"bad input in {where}: rule '{rule}' failed", detail]
        if count is not None:
            parts.append(f"{count} row(s)")
        if report:
            parts.append(f"report: {report}")
        super().__init__(" — ".join(parts))


class NothingToDoError(ValueError):
    """The inputs hold nothing a step can work on (e.g. no column that varies to cluster on).

    Not a failure of the run: the pipeline records the stage as skipped with this message.
    """


@dataclass(frozen=True)
class Tables:
    """The canonical tables of one shop; only ``customers`` is required."""

    customers: pd.DataFrame
    products: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    orders: pd.DataFrame | None = None
    reviews: pd.DataFrame | None = None
    campaigns: pd.DataFrame | None = None

    def get(self, name: str) -> pd.DataFrame | None:
        """The table called ``name`` (``None`` when absent).

        Raises:
            ValueError: ``name`` is not in :data:`TABLE_NAMES`.
        """
        if name not in TABLE_NAMES:
            raise ValueError(f"unknown table {name!r}; valid tables: {', '.join(TABLE_NAMES)}")
        return getattr(self, name)

    def present(self) -> tuple[str, ...]:
        """The names of the tables that are not ``None``, in :data:`TABLE_NAMES` order."""
        return tuple(name for name in TABLE_NAMES if getattr(self, name) is not None)

    def items(self) -> Iterator[tuple[str, pd.DataFrame]]:
        """``(name, frame)`` of every present table, in :data:`TABLE_NAMES` order."""
        for name in self.present():
            yield name, getattr(self, name)

    @classmethod
    def from_mapping(cls, frames: Mapping[str, pd.DataFrame]) -> Tables:
        """Tables from a ``name → frame`` mapping.

        Raises:
            ValueError: a name that is not in :data:`TABLE_NAMES`.
            BadInputError: the mapping has no ``customers`` table.
        """
        unknown = sorted(set(frames) - set(TABLE_NAMES))
        if unknown:
            raise ValueError(f"unknown tables {unknown}; valid tables: {', '.join(TABLE_NAMES)}")
        if "customers" not in frames:
            raise BadInputError("customers", "table_required", "the customers table is required")
        return cls(**dict(frames))


def to_utc(values: pd.Series, table: str, column: str) -> pd.Series:
    """Timestamps in any unit or zone as ``datetime64[ns, UTC]``; naive input means UTC.

    Integers and floats are read as epoch seconds, milliseconds, microseconds or nanoseconds by
    magnitude. Values that do not parse raise :class:`BadInputError` with their count.
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.dt.tz_localize("UTC").astype("datetime64[ns, UTC]")
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        num = pd.to_numeric(values, errors="coerce").astype("float64")
        finite = num[np.isfinite(num)]
        magnitude = float(np.nanmedian(np.abs(finite))) if len(finite) else 0.0
        unit = "s" if magnitude < 1e11 else "ms" if magnitude < 1e14 else "us" if magnitude < 1e17 else "ns"
        bad = ~np.isfinite(num) & values.notna()
        if bad.any():
            raise BadInputError(
                table, "timestamp_parseable", "non-finite epoch values", column, int(bad.sum())
            )
        out = pd.to_datetime(num, unit=unit, utc=True, errors="coerce")
        return out.astype("datetime64[ns, UTC]")
    text = values.astype("string")
    parsed = pd.to_datetime(text, utc=True, errors="coerce", format="mixed")
    bad = parsed.isna() & text.notna() & (text.str.strip() != "")
    if bad.any():
        raise BadInputError(
            table, "timestamp_parseable", "values that are not timestamps", column, int(bad.sum())
        )
    return parsed.astype("datetime64[ns, UTC]")


_BOOL_WORDS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


def _coerce_column(values: pd.Series, kind: Kind, table: str, column: str) -> pd.Series:
    if kind == "timestamp":
        return to_utc(values, table, column)
    if kind == "str":
        out = values.astype("string").astype(object)
        return out.where(values.notna(), None)
    if kind == "bool":
        if pd.api.types.is_bool_dtype(values.dtype):
            return values.astype(bool)
        mapped = values.map(
            lambda value: _BOOL_WORDS.get(str(value).strip().lower()) if pd.notna(value) else False
        )
        bad = mapped.isna()
        if bad.any():
            raise BadInputError(table, "type_bool", "values that are not booleans", column, int(bad.sum()))
        return mapped.astype(bool)
    num = pd.to_numeric(values, errors="coerce")
    bad = num.isna() & values.notna()
    if bad.any():
        raise BadInputError(table, f"type_{kind}", f"values that are not {kind}", column, int(bad.sum()))
    if kind == "int":
        finite = num.dropna()
        if len(finite) and not np.all(np.isfinite(finite)):
            raise BadInputError(
                table, "type_int", "non-finite values", column, int((~np.isfinite(finite)).sum())
            )
        if len(finite) and not np.all(finite == np.round(finite)):
            raise BadInputError(
                table, "type_int", "fractional values", column, int((finite != np.round(finite)).sum())
            )
        return num.astype("Int64") if num.isna().any() else num.astype("int64")
    return num.astype("float64")


def coerce_table(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with canonical dtypes; extra columns are kept unchanged.

    Raises:
        BadInputError: a required column is missing or a column cannot be coerced.
    """
    schema = SCHEMAS[name]
    missing = [column for column in schema.required if column not in df.columns]
    if missing:
        raise BadInputError(
            name,
            "column_required",
            f"missing required column(s) {missing}; found {list(df.columns)}",
            missing[0],
        )
    out = df.copy()
    for column in out.columns:
        kind = schema.kind_of(column)
        if kind is not None:
            out[column] = _coerce_column(out[column], kind, name, column)
    if name == "orders" and "is_return" not in out.columns:
        out["is_return"] = out["quantity"].fillna(0) < 0 if len(out) else pd.Series(dtype=bool)
    return out.reset_index(drop=True)


def latest_timestamp(tables: Tables) -> pd.Timestamp | None:
    """The latest timestamp over all behaviour tables (the end of the observed period)."""
    stamps = []
    for name, column in (("events", "ts"), ("orders", "ts"), ("reviews", "ts"), ("campaigns", "sent_ts")):
        frame = tables.get(name)
        if frame is not None and len(frame) and column in frame.columns:
            stamps.append(frame[column].max())
    if tables.customers is not None and len(tables.customers):
        stamps.append(tables.customers["signup_ts"].max())
    stamps = [stamp for stamp in stamps if pd.notna(stamp)]
    return max(stamps) if stamps else None
