"""Customer 360: one customer's segment, value, flag, recommendations, offer and history, with reasons.

Everything is read per customer from the project's parquet files with a row filter on
``customer_id`` (or on the few product ids involved) and only the columns needed, so a profile of a
customer of a large project reads a few rows, never whole tables into pandas.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from segmint.contracts import CONTROL, BadInputError
from segmint.profile import (
    co_purchase_counts,
    describe_anomaly,
    exclusion_masks,
    exclusion_reasons,
    recommendation_reasons,
)
from segmint.settings import Settings
from tasks.io import read_json
from tasks.paths import ProjectPaths

# The files the campaign and features stages write (tasks.campaign.SCORES_FILE and PLAN_FILE,
# tasks.features.FEATURES), named here because importing those modules loads MLflow, DuckDB and
# scikit-learn: seconds of start-up that a one-customer look-up does not need.
SCORES_FILE = "customer_scores.parquet"
PLAN_FILE = "campaign_plan.parquet"
FEATURES = "features.parquet"

LAST_ORDERS = 5
ORDER_COLUMNS: tuple[str, ...] = (
    "order_id",
    "customer_id",
    "product_id",
    "quantity",
    "unit_price",
    "ts",
    "is_return",
)
# Columns a scores table may carry with a customer lifetime value, by preference.
CLV_COLUMNS: tuple[str, ...] = ("clv", "predicted_clv", "expected_clv")
# The timestamp column of each table that marks the end of the observed period.
_STAMPS: tuple[tuple[str, str], ...] = (
    ("events", "ts"),
    ("orders", "ts"),
    ("reviews", "ts"),
    ("campaigns", "sent_ts"),
    ("customers", "signup_ts"),
)


def read_rows(
    path: Path, column: str, values: Iterable[str], columns: list[str] | None = None
) -> pd.DataFrame:
    """The rows of the parquet file at ``path`` whose ``column`` is one of ``values`` (empty: no file).

    Only ``columns`` (those the file has; all when None) are read, and the filter is pushed into the
    parquet reader, so the other rows never become a frame.
    """
    if not path.exists():
        return pd.DataFrame(columns=columns or [column])
    present = pq.read_schema(path).names
    wanted = None if columns is None else [c for c in columns if c in present]
    table = pq.read_table(path, columns=wanted, filters=[(column, "in", sorted({str(v) for v in values}))])
    return table.to_pandas()


def _latest_stamp(paths: ProjectPaths) -> pd.Timestamp | None:
    """The end of the observed period from the parquet statistics of the validated tables' timestamps."""
    latest: list[pd.Timestamp] = []
    for name, column in _STAMPS:
        file = paths.table(paths.validated, name)
        if not file.exists():
            continue
        meta = pq.ParquetFile(file).metadata
        names = [meta.schema.column(i).name for i in range(meta.num_columns)]
        if column not in names:
            continue
        index = names.index(column)
        for group in range(meta.num_row_groups):
            stats = meta.row_group(group).column(index).statistics
            if stats is not None and stats.has_min_max:
                latest.append(pd.Timestamp(stats.max))
    stamps = [s.tz_localize("UTC") if s.tzinfo is None else s.tz_convert("UTC") for s in latest]
    return max(stamps) if stamps else None


def _scores(paths: ProjectPaths, ids: list[str]) -> pd.DataFrame:
    file = paths.outputs / SCORES_FILE
    if not file.exists():
        raise BadInputError(
            "customer_scores",
            "scores_present",
            f"{file} is missing: run `segmint train` or `segmint campaign`",
        )
    scores = read_rows(file, "customer_id", ids)
    unknown = [i for i in ids if i not in set(scores["customer_id"].astype(str))]
    if unknown:
        shown = ", ".join(unknown[:10])
        raise BadInputError(
            "customer_scores", "known_customer", f"{len(unknown)} unknown customer id(s): {shown}"
        )
    return scores.set_index(scores["customer_id"].astype(str))


def _value(row: pd.Series) -> dict[str, Any]:
    value: dict[str, Any] = {"tier": _plain(row.get("value_tier"))}
    for column in CLV_COLUMNS:
        if column in row.index:
            value["clv"] = _plain(row[column])
            break
    # The campaign stage tiers by predicted CLV where the champion CLV model scored, else by RFM.
    value["tier_basis"] = "predicted CLV" if value.get("clv") is not None else "RFM score"
    return value


def _plain(value: Any) -> Any:
    """A JSON-ready scalar: None for missing values, Python numbers, ISO timestamps."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def _eligibility(
    row: pd.Series,
    customer: pd.DataFrame,
    contacts: pd.DataFrame,
    settings: Settings,
    as_of: pd.Timestamp | None,
) -> dict[str, Any]:
    treated = contacts[contacts["treatment"].astype(str) != CONTROL] if len(contacts) else contacts
    last = pd.to_datetime(treated["sent_ts"], utc=True).max() if len(treated) else pd.NaT
    opted_out = bool(customer["opted_out"].fillna(False).any()) if "opted_out" in customer else False
    info = pd.DataFrame(
        {"is_anomalous": [bool(row.get("is_anomalous"))], "opted_out": [opted_out], "last_contact_ts": [last]}
    )
    days = settings.campaign.min_days_between_contacts
    masks = exclusion_masks(info, days, as_of)
    return {
        "eligible": not any(bool(mask[0]) for mask in masks.values()),
        "opted_out": opted_out,
        "last_contact": _plain(last),
        "contacted_recently": bool(masks["recently_contacted"][0]),
        "flagged": bool(masks["anomalous"][0]),
        "reasons": exclusion_reasons(masks, days)[0],
    }


def _orders(lines: pd.DataFrame) -> dict[str, Any]:
    if not len(lines):
        return {"count": 0, "last": []}
    lines = lines.assign(amount=lines["quantity"].astype(float) * lines["unit_price"].astype(float))
    returns = lines["is_return"].fillna(False).astype(bool) if "is_return" in lines else False
    bought = lines[~returns] if isinstance(returns, pd.Series) else lines
    orders = bought.groupby("order_id").agg(
        ts=("ts", "max"), items=("quantity", "sum"), total=("amount", "sum")
    )
    last = orders.sort_values("ts", ascending=False).head(LAST_ORDERS).reset_index()
    last = last.assign(ts=pd.to_datetime(last["ts"], utc=True).dt.floor("s"), total=last["total"].round(2))
    rows = [
        {key: _plain(value) for key, value in record.items()} for record in last.to_dict(orient="records")
    ]
    return {"count": int(len(orders)), "last": rows}


def _reviews(reviews: pd.DataFrame, features: pd.DataFrame) -> dict[str, Any]:
    sentiment = features["mean_sentiment"].iloc[0] if len(features) and "mean_sentiment" in features else None
    return {
        "count": int(len(reviews)),
        "mean_rating": _plain(round(reviews["rating"].astype(float).mean(), 2)) if len(reviews) else None,
        "mean_sentiment": _plain(round(float(sentiment), 3))
        if len(reviews) and sentiment is not None
        else None,
    }


def _recommendations(
    paths: ProjectPaths, scores: pd.DataFrame, own: pd.DataFrame, item_based: bool
) -> dict[str, list[dict[str, str]]]:
    """Customer id → their recommended products, each with a name and a reason."""
    lists = {
        cid: [str(p) for p in (ids if ids is not None else [])]
        for cid, ids in scores["recommended_product_ids"].items()
    }
    recommended = {p for products in lists.values() for p in products}
    bought = set(own["product_id"].astype(str)) if len(own) else set()
    products = read_rows(paths.table(paths.validated, "products"), "product_id", recommended | bought)
    label = "name" if "name" in products.columns else "category"
    names = (
        dict(zip(products["product_id"].astype(str), products[label].astype(str), strict=True))
        if len(products)
        else {}
    )
    lines = pd.DataFrame(columns=["customer_id", "product_id"])
    if item_based and recommended and bought:
        orders = paths.table(paths.validated, "orders")
        lines = read_rows(
            orders, "product_id", recommended | bought, ["customer_id", "product_id", "is_return"]
        )
        if "is_return" in lines:
            lines = lines[~lines["is_return"].fillna(False).astype(bool)]
        lines = pd.concat([lines, own[["customer_id", "product_id"]]], ignore_index=True)
    return {
        cid: recommendation_reasons(products_, co_purchase_counts(lines, cid, products_), names, item_based)
        for cid, products_ in lists.items()
    }


def _offer(row: pd.Series, plan: pd.DataFrame) -> dict[str, Any]:
    group = plan["group"].iloc[0] if len(plan) else None
    return {
        "best_offer": _plain(row.get("best_offer")),
        "expected_incremental_value": _plain(row.get("expected_incremental_value")),
        "group": _plain(group),
        "reason": _plain(row.get("offer_reason")),
    }


@dataclass(frozen=True)
class _Context:
    """What every profile of one call shares: the rows read for its customers and the project state.

    Attributes:
        frames: Table name → the rows of the requested customers (orders, customers, contacts,
            reviews, features, plan).
        recommended: Customer id → recommended products with reasons.
        as_of: The end of the observed period.
        threshold: The anomaly flag threshold, when the anomaly stage recorded it.
    """

    frames: dict[str, pd.DataFrame]
    recommended: dict[str, list[dict[str, str]]]
    as_of: pd.Timestamp | None
    threshold: float | None


def _customer_rows(paths: ProjectPaths, ids: list[str]) -> dict[str, pd.DataFrame]:
    """The requested customers' rows of every table a profile reads (only the columns it needs)."""
    validated = paths.validated
    return {
        "orders": read_rows(paths.table(validated, "orders"), "customer_id", ids, list(ORDER_COLUMNS)),
        "customers": read_rows(
            paths.table(validated, "customers"), "customer_id", ids, ["customer_id", "opted_out"]
        ),
        "contacts": read_rows(
            paths.table(validated, "campaigns"), "customer_id", ids, ["customer_id", "treatment", "sent_ts"]
        ),
        "reviews": read_rows(
            paths.table(validated, "reviews"), "customer_id", ids, ["customer_id", "rating"]
        ),
        "features": read_rows(
            paths.features / FEATURES, "customer_id", ids, ["customer_id", "mean_sentiment"]
        ),
        "plan": read_rows(paths.outputs / PLAN_FILE, "customer_id", ids, ["customer_id", "group"]),
    }


def _metrics(paths: ProjectPaths, stage: str) -> dict[str, Any]:
    file = paths.metric(stage)
    return read_json(file) if file.exists() else {}


def customer_profiles(settings: Settings, paths: ProjectPaths, ids: list[str]) -> list[dict[str, Any]]:
    """The customer 360 of each id, in the order given (repeated ids once).

    Raises:
        BadInputError: no ``customer_scores`` yet, or an id it does not hold.
    """
    ids = list(dict.fromkeys(str(i) for i in ids))
    scores = _scores(paths, ids)
    frames = _customer_rows(paths, ids)
    item_based = bool(_metrics(paths, "campaign").get("recommendations", {}).get("item_based", False))
    context = _Context(
        frames=frames,
        recommended=_recommendations(paths, scores, frames["orders"], item_based),
        as_of=_latest_stamp(paths),
        threshold=_metrics(paths, "anomaly").get("threshold"),
    )
    return [_profile(cid, scores.loc[cid], context, settings) for cid in ids]


def _profile(cid: str, row: pd.Series, context: _Context, settings: Settings) -> dict[str, Any]:
    mine = {name: frame[frame["customer_id"].astype(str) == cid] for name, frame in context.frames.items()}
    return {
        "customer_id": cid,
        "segment": {
            "id": _plain(row.get("segment_id")),
            "name": _plain(row.get("segment_name")),
            "reason": _plain(row.get("segment_reason")),
        },
        "value": _value(row),
        "anomaly": {
            "flagged": bool(row.get("is_anomalous")),
            "score": _plain(row.get("anomaly_score")),
            "threshold": _plain(context.threshold),
            "rules": [r for r in str(row.get("anomaly_reasons") or "").split(";") if r],
            "summary": describe_anomaly(row.to_dict(), context.threshold),
        },
        "recommendations": context.recommended.get(cid, []),
        "offer": _offer(row, mine["plan"]),
        "eligibility": _eligibility(row, mine["customers"], mine["contacts"], settings, context.as_of),
        "orders": _orders(mine["orders"]),
        "reviews": _reviews(mine["reviews"], mine["features"]),
    }
