"""Point-in-time customer features and the labels of the window that follows.

Every feature is computed only from records strictly before ``as_of``; customers who signed up at
or after ``as_of`` are left out. Heavy aggregation runs in DuckDB on integer-coded frames, so the
string ids are hashed once and never grouped on.

Defaults for customers without history: counts, sums, rates and shares are 0; ``recency_days`` and
``days_to_first_order`` equal the tenure (no purchase since signup); ``mean_rating`` is 3.0 (the
scale midpoint) and ``mean_sentiment`` 0.0 (neutral).

Customer attributes: numeric extra columns pass through as floats, booleans as 0/1, and string
columns with at most ``onehot_max_levels`` distinct values (``channel`` included, ``country`` when it
is that small) become one-hot columns ``<column>__<level>`` with levels sorted by name. Columns with
more levels are left out, and so are consent (``opted_out``) and personal data
(:mod:`segmint.privacy`). Category shares use the ``top_categories`` categories with the most
products (ties by name) so the columns depend on the catalogue, not on who bought what; when the
products table is absent there are no category columns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from segmint.contracts import Tables
from segmint.nlp import SentimentModel, fit_sentiment_model, sentiment_classes
from segmint.privacy import NEVER_FEATURES, personal_by_content, personal_by_name
from segmint.settings import FeatureSettings

_NS_PER_DAY = 86_400 * 1_000_000_000
# What :func:`_epoch_ns` gives for a missing timestamp.
_MISSING_NS = np.iinfo(np.int64).min

_Columns = dict[str, np.ndarray]


def _utc(as_of: pd.Timestamp | str) -> pd.Timestamp:
    ts = pd.Timestamp(as_of)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _epoch_ns(values: pd.Series) -> np.ndarray:
    """Timestamps as int64 UTC nanoseconds; NaT becomes the int64 minimum."""
    s = pd.to_datetime(values, utc=True)
    return s.dt.as_unit("ns").array.asi8


def slug(text: object) -> str:
    """A lower-case identifier fragment for a name (``"Home & Garden"`` → ``home_garden``)."""
    out = re.sub(r"[^0-9a-z]+", "_", str(text).strip().lower()).strip("_")
    return out or "blank"


def _unique_slugs(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        base = slug(name)
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}_{seen[base]}")
    return out


def top_categories(products: pd.DataFrame | None, n: int) -> list[str]:
    """The ``n`` categories with the most products (ties by name): the stable category columns."""
    if products is None or products.empty or "category" not in products.columns:
        return []
    counts = products["category"].dropna().astype(str).value_counts()
    frame = pd.DataFrame({"category": counts.index, "n": counts.to_numpy()})
    frame = frame.sort_values(["n", "category"], ascending=[False, True], kind="stable")
    return frame["category"].head(n).tolist()


@dataclass(frozen=True)
class _Population:
    """The customers known before the cutoff; a customer's position is its integer code.

    Attributes:
        customers: Their rows of the customers table (first row per id), indexed from 0.
        ids: Their ids as strings.
        as_of_ns: The cutoff in UTC nanoseconds.
        signup_ns: Signup time per customer in UTC nanoseconds (:data:`_MISSING_NS` when unknown).
        tenure_days: Days from signup to the cutoff (0 when the signup is unknown).
    """

    customers: pd.DataFrame
    ids: pd.Index
    as_of_ns: int
    signup_ns: np.ndarray
    tenure_days: np.ndarray

    @property
    def size(self) -> int:
        """Number of customers."""
        return len(self.ids)


def _population(customers: pd.DataFrame, as_of_ns: int) -> _Population:
    signup = _epoch_ns(customers["signup_ts"])
    # Missing signup dates are kept (treated as signed up before as_of) rather than dropped.
    known = signup != _MISSING_NS
    keep = ~known | (signup < as_of_ns)
    members = customers.loc[keep].drop_duplicates("customer_id").reset_index(drop=True)
    signup_ns = _epoch_ns(members["signup_ts"])
    tenure = np.where(signup_ns == _MISSING_NS, 0.0, (as_of_ns - signup_ns) / _NS_PER_DAY)
    return _Population(
        customers=members,
        ids=pd.Index(members["customer_id"].astype(str).to_numpy()),
        as_of_ns=as_of_ns,
        signup_ns=signup_ns,
        tenure_days=np.maximum(tenure, 0.0),
    )


def _as_str_ids(ids: pd.Series) -> pd.Series:
    """``ids`` as text: Python objects and Arrow-held text (pandas' ``str`` dtype) as they are."""
    return ids if ids.dtype == object or isinstance(ids.dtype, pd.StringDtype) else ids.astype(str)


@dataclass(frozen=True)
class _CodedTable:
    """The rows of one activity table, coded without reference to any cutoff.

    Attributes:
        rows: ``customer_key`` (position in ``customers``; -1 without an id), ``ts_ns`` (UTC
            nanoseconds, :data:`_MISSING_NS` when missing) and the table's own integer codes.
        customers: The distinct customer ids of the table, as strings.
    """

    rows: pd.DataFrame
    customers: pd.Index


@dataclass(frozen=True)
class ActivityCodes:
    """What :func:`customer_features` computes from the activity tables before it looks at a cutoff:
    timestamps, customer keys, event kinds, session, order and category codes. Computed once by
    :func:`activity_codes`, it serves every cutoff of the same tables, which then only filter rows
    (string ids are hashed once, not once per cutoff).

    Attributes:
        categories: The category columns' categories (:func:`top_categories`).
        tables: The coded rows per activity table (``orders``, ``events``); absent or empty tables
            are left out.
    """

    categories: list[str]
    tables: dict[str, _CodedTable]


def _coded_table(frame: pd.DataFrame, own: dict[str, np.ndarray]) -> _CodedTable:
    """``frame``'s customer keys and timestamps, with the table's ``own`` codes."""
    keys, customers = pd.factorize(_as_str_ids(frame["customer_id"]))
    rows = pd.DataFrame({"customer_key": keys.astype(np.int64), "ts_ns": _epoch_ns(frame["ts"]), **own})
    return _CodedTable(rows=rows, customers=pd.Index(customers))


@dataclass(frozen=True)
class _PastRows:
    """The rows of an activity table that belong to the population and precede the cutoff.

    Attributes:
        keep: Row mask over the whole table.
        customer: Customer code of each kept row.
        ts_ns: Timestamp of each kept row in UTC nanoseconds.
    """

    keep: np.ndarray
    customer: np.ndarray
    ts_ns: np.ndarray


def _past_rows(coded: _CodedTable, population: _Population) -> _PastRows:
    # position of each distinct id in the population, -1 for none; the appended -1 serves key -1
    position = np.append(population.ids.get_indexer(coded.customers), -1)
    customer = position[coded.rows["customer_key"].to_numpy()]
    ts = coded.rows["ts_ns"].to_numpy()
    keep = (customer >= 0) & (ts < population.as_of_ns) & (ts != _MISSING_NS)
    return _PastRows(keep=keep, customer=customer[keep], ts_ns=ts[keep])


@dataclass(frozen=True)
class _OrderLines:
    """Numeric fields of every order line.

    Attributes:
        quantity: Units, always non-negative (returns are marked by ``is_return``, not the sign).
        unit_price: Price per unit (0 when missing).
        is_return: Whether the line is a return.
    """

    quantity: np.ndarray
    unit_price: np.ndarray
    is_return: np.ndarray


def _order_lines(orders: pd.DataFrame) -> _OrderLines:
    quantity = pd.to_numeric(orders["quantity"], errors="coerce")
    if "is_return" in orders.columns:
        is_return = orders["is_return"].fillna(False).to_numpy(dtype=bool)
    else:
        # Without the flag, a negative quantity is the only mark of a return.
        is_return = quantity.fillna(0).to_numpy() < 0
    return _OrderLines(
        quantity=np.abs(quantity.to_numpy(dtype=float, na_value=0.0)),
        unit_price=pd.to_numeric(orders["unit_price"], errors="coerce").to_numpy(dtype=float, na_value=0.0),
        is_return=is_return,
    )


def _category_codes(
    product_ids: pd.Series, products: pd.DataFrame | None, categories: list[str]
) -> np.ndarray:
    """Index in ``categories`` of each product's category (-1: other or unknown)."""
    if products is None or not len(products) or not categories:
        return np.full(len(product_ids), -1, dtype=np.int16)
    catalogue_ids = products["product_id"].astype(str)
    first = ~catalogue_ids.duplicated().to_numpy()
    category_of_product = pd.Index(categories).get_indexer(products["category"].astype(str).to_numpy()[first])
    # Each distinct id is looked up once: an event-sized column is hashed, never turned into strings.
    keys, distinct = pd.factorize(product_ids)
    position = pd.Index(catalogue_ids.to_numpy()[first]).get_indexer(
        np.asarray(distinct, dtype=object).astype(str)
    )
    category_of_key = np.append(np.where(position >= 0, category_of_product[position], -1), -1)
    return category_of_key[keys].astype(np.int16)


def _may_be_feature(values: pd.Series) -> bool:
    """False for consent (``opted_out``) and for personal data, which no model may use."""
    column = str(values.name)
    return column not in NEVER_FEATURES and not personal_by_name(column) and not personal_by_content(values)


def _attribute_features(customers: pd.DataFrame, max_levels: int) -> pd.DataFrame:
    out: dict[str, np.ndarray] = {}
    for column in customers.columns:
        if column in ("customer_id", "signup_ts", "ts") or not _may_be_feature(customers[column]):
            continue
        values = customers[column]
        if pd.api.types.is_bool_dtype(values.dtype):
            out[f"attr_{slug(column)}"] = values.fillna(False).astype(float).to_numpy()
        elif pd.api.types.is_numeric_dtype(values.dtype):
            out[f"attr_{slug(column)}"] = (
                pd.to_numeric(values, errors="coerce").fillna(0.0).astype(float).to_numpy()
            )
        elif pd.api.types.is_datetime64_any_dtype(values.dtype):
            continue
        else:
            levels = sorted(values.dropna().astype(str).unique())
            if not levels or len(levels) > max_levels:
                continue
            text = values.astype(str).to_numpy()
            for level, name in zip(levels, _unique_slugs(levels), strict=True):
                out[f"{slug(column)}__{name}"] = (text == level).astype(float)
    return pd.DataFrame(out, index=customers.index)


@contextmanager
def _duckdb() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    try:
        yield con
    finally:
        con.close()


def _query(
    con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame | pa.Table, sql: str
) -> pd.DataFrame:
    """The result of ``sql`` run against ``frame`` registered as the view ``name``."""
    con.register(name, frame)
    try:
        return con.execute(sql).df()
    finally:
        con.unregister(name)


def _no_aggregates() -> pd.DataFrame:
    return pd.DataFrame({"customer": pd.Series(dtype=np.int64)})


@dataclass(frozen=True)
class _Aggregates:
    """Per-customer aggregates (one row per customer code in ``customer``) and the population size."""

    table: pd.DataFrame
    size: int

    def column(self, name: str, fill: float = 0.0) -> np.ndarray:
        """One value per customer of the population; ``fill`` for customers without a row."""
        if name not in self.table:
            return np.full(self.size, fill)
        return _scatter(self.size, self.table["customer"], self.table[name], fill)


def _share_columns(prefix: str, slugs: list[str], amounts: list[np.ndarray], total: np.ndarray) -> _Columns:
    """Each category's share of ``total``, plus ``<prefix>_other`` for the rest (when any categories)."""
    columns: _Columns = {}
    covered = np.zeros(len(total))
    for name, amount in zip(slugs, amounts, strict=True):
        columns[f"{prefix}_{name}"] = _ratio(amount, total)
        covered += amount
    if slugs:
        columns[f"{prefix}_other"] = np.clip(_ratio(total - covered, total), 0.0, 1.0)
    return columns


def _order_codes(orders: pd.DataFrame, products: pd.DataFrame | None, categories: list[str]) -> _CodedTable:
    """Order lines coded once: order code, quantity, unit price, return and discount flags, category."""
    lines = _order_lines(orders)
    if "discount" in orders.columns:
        discounted = pd.to_numeric(orders["discount"], errors="coerce").fillna(0.0).to_numpy() > 0
    else:
        discounted = np.zeros(len(orders), dtype=bool)
    return _coded_table(
        orders,
        {
            "order_code": pd.factorize(orders["order_id"].to_numpy())[0].astype(np.int64),
            "quantity": lines.quantity,
            "unit_price": lines.unit_price,
            "is_return": lines.is_return,
            "discounted": discounted,
            "category": _category_codes(orders["product_id"], products, categories),
        },
    )


def _order_line_table(coded: _CodedTable, population: _Population) -> pa.Table:
    """One row per past order line of the population, integer-coded for DuckDB (Arrow: no block copies)."""
    past = _past_rows(coded, population)
    keep, customer, ts = past.keep, past.customer, past.ts_ns
    rows = coded.rows
    quantity, unit_price = rows["quantity"].to_numpy()[keep], rows["unit_price"].to_numpy()[keep]
    signup = population.signup_ns[customer]
    return pa.table(
        {
            "customer": customer.astype(np.int32),
            "order_code": rows["order_code"].to_numpy()[keep],
            "days_ago": (population.as_of_ns - ts) / _NS_PER_DAY,
            "days_since_signup": np.where(signup == _MISSING_NS, np.inf, (ts - signup) / _NS_PER_DAY),
            "quantity": quantity,
            "value": quantity * unit_price,
            "unit_price": unit_price,
            "is_return": rows["is_return"].to_numpy()[keep],
            "discounted": rows["discounted"].to_numpy()[keep],
            "category": rows["category"].to_numpy()[keep],
        }
    )


def _order_sql(settings: FeatureSettings, n_categories: int) -> str:
    """Per-customer order aggregates over the ``orders`` view (see :func:`_order_line_table`)."""
    signed_value = "CASE WHEN is_return THEN -value ELSE value END"
    windows = "".join(
        f", count(DISTINCT order_code) FILTER (WHERE NOT is_return AND days_ago <= {days}) AS orders_{days}d"
        f", coalesce(sum(CASE WHEN days_ago <= {days} THEN {signed_value} END), 0) AS revenue_{days}d"
        for days in settings.recency_windows_days
    )
    category_spend = "".join(
        f", coalesce(sum(value) FILTER (WHERE NOT is_return AND category = {i}), 0) AS spend_category_{i}"
        for i in range(n_categories)
    )
    # Money is summed (and prices averaged) as DECIMAL: exact, so the same whatever rows each of
    # DuckDB's threads took. A sum of doubles depends on that order, and a customer's features then
    # changed in their last bits from run to run (a CLV refit on them scored 0.67028 or 0.67040).
    # A value that is not a finite number counts as missing.
    return f"""
        WITH lines AS (
            SELECT * REPLACE (
                TRY_CAST(value AS DECIMAL(18, 6)) AS value,
                TRY_CAST(unit_price AS DECIMAL(18, 6)) AS unit_price
            ) FROM orders
        ), per_order AS (
            SELECT customer, order_code, sum(quantity) AS order_quantity, count(*) AS order_lines
            FROM lines WHERE NOT is_return GROUP BY customer, order_code
        ), order_stats AS (
            SELECT customer, max(order_quantity) AS max_order_quantity, max(order_lines) AS max_order_lines
            FROM per_order GROUP BY customer
        ), line_stats AS (
            SELECT customer,
                count(DISTINCT order_code) FILTER (WHERE NOT is_return) AS frequency,
                count(*) FILTER (WHERE NOT is_return) AS purchase_lines,
                coalesce(sum(quantity) FILTER (WHERE NOT is_return), 0) AS purchase_quantity,
                coalesce(sum(value) FILTER (WHERE NOT is_return), 0) AS gross_revenue,
                coalesce(sum(value) FILTER (WHERE is_return), 0) AS returned_value,
                count(DISTINCT order_code) FILTER (WHERE is_return) AS return_orders,
                avg(unit_price) FILTER (WHERE NOT is_return) AS mean_unit_price,
                min(days_ago) FILTER (WHERE NOT is_return) AS days_since_last_order,
                min(days_since_signup) FILTER (WHERE NOT is_return) AS days_to_first_order,
                count(DISTINCT order_code)
                    FILTER (WHERE NOT is_return AND days_since_signup <= {settings.burst_days})
                    AS orders_first_days,
                count(*) FILTER (WHERE NOT is_return AND discounted) AS discounted_lines
                {windows}{category_spend}
            FROM lines GROUP BY customer
        )
        SELECT l.*, s.max_order_quantity, s.max_order_lines
        FROM line_stats l LEFT JOIN order_stats s USING (customer)
        """


def _order_columns(
    orders: _Aggregates, tenure_days: np.ndarray, settings: FeatureSettings, categories: list[str]
) -> _Columns:
    """The order feature columns from the per-customer order aggregates."""
    frequency = orders.column("frequency")
    gross = orders.column("gross_revenue")
    returned = orders.column("returned_value")
    purchase_lines = orders.column("purchase_lines")
    recency = orders.column("days_since_last_order", np.nan)
    first = orders.column("days_to_first_order", np.nan)
    columns: _Columns = {
        "frequency": frequency,
        "gross_revenue": gross,
        "monetary": gross - returned,
        "recency_days": np.where(np.isnan(recency), tenure_days, recency),
        # An infinite first order means no signup date: the tenure (0) stands in.
        "days_to_first_order": np.where(
            np.isnan(first) | ~np.isfinite(first), tenure_days, np.maximum(first, 0.0)
        ),
        "avg_order_value": _ratio(gross, frequency),
        "lines_per_order": _ratio(purchase_lines, frequency),
        "quantity_per_order": _ratio(orders.column("purchase_quantity"), frequency),
        "discount_share": _ratio(orders.column("discounted_lines"), purchase_lines),
        "return_rate": np.clip(_ratio(returned, gross), 0.0, 1.0),
    }
    for name in ("mean_unit_price", "max_order_quantity", "max_order_lines", "orders_first_days"):
        columns[name] = orders.column(name)
    columns["return_orders"] = orders.column("return_orders")
    for days in settings.recency_windows_days:
        columns[f"orders_{days}d"] = orders.column(f"orders_{days}d")
        columns[f"revenue_{days}d"] = orders.column(f"revenue_{days}d")
    spend = [orders.column(f"spend_category_{i}") for i in range(len(categories))]
    return columns | _share_columns("cat_share", _unique_slugs(categories), spend, gross)


def _event_codes(events: pd.DataFrame, products: pd.DataFrame | None, categories: list[str]) -> _CodedTable:
    """Events coded once: kind (0 view, 1 cart, 2 purchase, -1 other), session code, category.

    The text columns may be Python objects or Arrow-held (pandas' ``str`` dtype); both are compared
    and hashed in place, never copied into new strings.
    """
    kind = np.full(len(events), -1, dtype=np.int8)
    # Elementwise comparison is cheaper than hashing millions of short strings.
    for code, name in enumerate(("view", "cart", "purchase")):
        kind[(events["event_type"] == name).to_numpy(dtype=bool, na_value=False)] = code
    return _coded_table(
        events,
        {
            "session_code": pd.factorize(events["session_id"])[0].astype(np.int64),
            "event_kind": kind,
            "category": _category_codes(events["product_id"], products, categories),
        },
    )


def _event_table(coded: _CodedTable, population: _Population) -> pa.Table:
    """One row per past event of the population, integer-coded for DuckDB (Arrow: no block copies)."""
    past = _past_rows(coded, population)
    keep, rows = past.keep, coded.rows
    return pa.table(
        {
            "customer": past.customer.astype(np.int32),
            "session_code": rows["session_code"].to_numpy()[keep],
            "event_kind": rows["event_kind"].to_numpy()[keep],
            "days_ago": (population.as_of_ns - past.ts_ns) / _NS_PER_DAY,
            "category": rows["category"].to_numpy()[keep],
        }
    )


def _event_sql(settings: FeatureSettings, n_categories: int) -> str:
    """Per-customer event aggregates over the ``events`` view (see :func:`_event_table`)."""
    windows = "".join(
        f", count(*) FILTER (WHERE days_ago <= {days}) AS events_{days}d"
        for days in settings.recency_windows_days
    )
    # What a customer browses (not only what they buy) says which categories they care about.
    category_events = "".join(
        f", count(*) FILTER (WHERE category = {i}) AS events_category_{i}" for i in range(n_categories)
    )
    return f"""
        SELECT customer,
            count(*) FILTER (WHERE event_kind = 0) AS views,
            count(*) FILTER (WHERE event_kind = 1) AS carts,
            count(*) FILTER (WHERE event_kind = 2) AS purchase_events,
            count(DISTINCT session_code) AS sessions,
            min(days_ago) AS days_since_last_event
            {windows}{category_events}
        FROM events GROUP BY customer
        """


def _event_columns(
    events: _Aggregates, tenure_days: np.ndarray, settings: FeatureSettings, categories: list[str]
) -> _Columns:
    """The event feature columns from the per-customer event aggregates."""
    views, carts = events.column("views"), events.column("carts")
    purchases, sessions = events.column("purchase_events"), events.column("sessions")
    last_event = events.column("days_since_last_event", np.nan)
    columns: _Columns = {
        "views": views,
        "carts": carts,
        "purchase_events": purchases,
        "sessions": sessions,
        "view_to_cart": np.clip(_ratio(carts, views), 0.0, 1.0),
        "cart_to_purchase": np.clip(_ratio(purchases, carts), 0.0, 1.0),
        "views_per_session": _ratio(views, sessions),
        "days_since_last_event": np.where(np.isnan(last_event), tenure_days, last_event),
    }
    for days in settings.recency_windows_days:
        columns[f"events_{days}d"] = events.column(f"events_{days}d")
    browsed = [events.column(f"events_category_{i}") for i in range(len(categories))]
    all_events = views + carts + purchases
    return columns | _share_columns("view_share", _unique_slugs(categories), browsed, all_events)


@dataclass(frozen=True)
class _Activity:
    """How one activity table becomes feature columns: codes → past rows → DuckDB aggregates → columns.

    Attributes:
        table: Name of the table in :class:`~segmint.contracts.Tables`.
        codes: The table coded once, whatever the cutoff (products and categories given).
        past: The coded table's past rows of the population, for DuckDB.
        sql: The per-customer aggregation query over the past rows, registered as ``table``.
        columns: The feature columns from the aggregates.
    """

    table: str
    codes: Callable[[pd.DataFrame, pd.DataFrame | None, list[str]], _CodedTable]
    past: Callable[[_CodedTable, _Population], pa.Table]
    sql: Callable[[FeatureSettings, int], str]
    columns: Callable[[_Aggregates, np.ndarray, FeatureSettings, list[str]], _Columns]


# Recency, frequency, monetary value, baskets, returns, discounts and category spend shares.
_ORDERS = _Activity("orders", _order_codes, _order_line_table, _order_sql, _order_columns)
# Funnel counts and rates, sessions, event recency and category view shares.
_EVENTS = _Activity("events", _event_codes, _event_table, _event_sql, _event_columns)


def activity_codes(tables: Tables, settings: FeatureSettings) -> ActivityCodes:
    """The orders and events of ``tables`` coded once, for :func:`customer_features` at several cutoffs."""
    categories = top_categories(tables.products, settings.top_categories)
    coded = {}
    for activity in (_ORDERS, _EVENTS):
        frame = tables.get(activity.table)
        if frame is not None and len(frame):
            coded[activity.table] = activity.codes(frame, tables.products, categories)
    return ActivityCodes(categories=categories, tables=coded)


def _activity_features(
    activity: _Activity,
    codes: ActivityCodes,
    population: _Population,
    settings: FeatureSettings,
    con: duckdb.DuckDBPyConnection,
) -> _Columns:
    """The feature columns of one activity table (defaults for everyone when it is absent or empty)."""
    coded = codes.tables.get(activity.table)
    if coded is None:
        aggregates = _no_aggregates()
    else:
        past = activity.past(coded, population)
        aggregates = _query(con, activity.table, past, activity.sql(settings, len(codes.categories)))
    per_customer = _Aggregates(aggregates, population.size)
    return activity.columns(per_customer, population.tenure_days, settings, codes.categories)


def _own_sentiment_model(
    texts: pd.Series, ratings: np.ndarray, settings: FeatureSettings
) -> SentimentModel | None:
    """A model fitted on the past reviews themselves, when there are enough of two kinds or more."""
    if len(texts) < settings.sentiment_min_reviews:
        return None
    if len(np.unique(sentiment_classes(ratings))) < 2:
        return None
    return fit_sentiment_model(texts, ratings, seed=settings.seed)


def _review_sentiment(
    past: pd.DataFrame, ratings: np.ndarray, settings: FeatureSettings, sentiment: SentimentModel | None
) -> np.ndarray:
    """The sentiment score of each past review (0 when there is no model)."""
    if "sentiment_score" in past.columns:  # scored once upstream (see ``customer_features``)
        return past["sentiment_score"].to_numpy(dtype=float)
    model = sentiment if sentiment is not None else _own_sentiment_model(past["text"], ratings, settings)
    if model is None or not len(past):
        return np.zeros(len(past))
    return model.score(past["text"])


def _review_aggregates(
    reviews: pd.DataFrame,
    population: _Population,
    settings: FeatureSettings,
    sentiment: SentimentModel | None,
) -> pd.DataFrame:
    past_rows = _past_rows(_coded_table(reviews, {}), population)  # few rows: coded per cutoff
    past = reviews.loc[past_rows.keep]
    ratings = pd.to_numeric(past["rating"], errors="coerce").fillna(3.0).to_numpy(dtype=float)
    scores = _review_sentiment(past, ratings, settings, sentiment)
    frame = pd.DataFrame({"customer": past_rows.customer, "rating": ratings, "sentiment": scores})
    aggregates = frame.groupby("customer").agg(
        review_count=("rating", "size"), mean_rating=("rating", "mean"), mean_sentiment=("sentiment", "mean")
    )
    return aggregates.reset_index()


def _review_features(
    reviews: pd.DataFrame | None,
    population: _Population,
    settings: FeatureSettings,
    sentiment: SentimentModel | None,
) -> _Columns:
    """Review count, mean star rating and mean sentiment."""
    if reviews is None or not len(reviews):
        aggregates = _no_aggregates()
    else:
        aggregates = _review_aggregates(reviews, population, settings, sentiment)
    per_customer = _Aggregates(aggregates, population.size)
    return {
        "review_count": per_customer.column("review_count"),
        "mean_rating": per_customer.column("mean_rating", 3.0),
        "mean_sentiment": per_customer.column("mean_sentiment"),
    }


def feature_columns(settings: FeatureSettings, categories: list[str]) -> list[str]:
    """The behavioural feature columns, in output order (attribute columns follow them)."""
    columns = [
        "recency_days",
        "frequency",
        "monetary",
        "gross_revenue",
        "tenure_days",
        "days_to_first_order",
        "avg_order_value",
        "lines_per_order",
        "quantity_per_order",
        "mean_unit_price",
        "max_order_quantity",
        "max_order_lines",
        "orders_first_days",
        "discount_share",
        "return_rate",
        "return_orders",
    ]
    for days in settings.recency_windows_days:
        columns += [f"orders_{days}d", f"revenue_{days}d"]
    columns += [f"cat_share_{name}" for name in _unique_slugs(categories)]
    if categories:
        columns.append("cat_share_other")
    columns += ["views", "carts", "purchase_events", "sessions", "view_to_cart", "cart_to_purchase"]
    columns += ["views_per_session", "days_since_last_event"]
    for days in settings.recency_windows_days:
        columns.append(f"events_{days}d")
    columns += [f"view_share_{name}" for name in _unique_slugs(categories)]
    if categories:
        columns.append("view_share_other")
    columns += ["review_count", "mean_rating", "mean_sentiment"]
    return columns


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def _scatter(n: int, codes: pd.Series, values: pd.Series | np.ndarray, fill: float = 0.0) -> np.ndarray:
    out = np.full(n, fill, dtype=float)
    vals = np.asarray(values, dtype=float)
    out[np.asarray(codes, dtype=np.int64)] = np.where(np.isnan(vals), fill, vals)
    return out


def _joined(
    population: _Population, behaviour: _Columns, settings: FeatureSettings, categories: list[str]
) -> pd.DataFrame:
    """Customer ids, the behavioural columns in :func:`feature_columns` order, then the attributes."""
    # A category slugged like a fixed share column ("other") names that column twice: it is kept once.
    ordered = list(dict.fromkeys(feature_columns(settings, categories)))
    # Only customer_id and signup_ts are needed here: country, channel and the rest are attributes
    # when present, and a table without them simply has fewer attribute columns.
    attributes = _attribute_features(population.customers.reset_index(drop=True), settings.onehot_max_levels)
    # One float matrix filled column by column and cleaned in place: at 1M customers every
    # whole-frame concat, astype, replace or fillna held another 0.6 GB copy.
    # (columns × customers) in memory, as pandas holds a block: each column is one contiguous run
    values = np.empty((len(ordered) + len(attributes.columns), len(population.ids)), dtype=float).T
    for position, name in enumerate(ordered):
        values[:, position] = behaviour[name]
    if len(attributes.columns):
        values[:, len(ordered) :] = attributes.to_numpy(dtype=float)
    values[~np.isfinite(values)] = 0.0
    out = pd.DataFrame(values, columns=[*ordered, *attributes.columns], copy=False)
    out.insert(0, "customer_id", population.ids.to_numpy(dtype=object))
    return out


def customer_features(
    tables: Tables,
    as_of: pd.Timestamp,
    settings: FeatureSettings,
    sentiment: SentimentModel | None = None,
    codes: ActivityCodes | None = None,
) -> pd.DataFrame:
    """One row of point-in-time features per customer known before ``as_of``.

    Order, event and review features are computed separately and joined on the customer.

    Args:
        tables: The canonical tables; only ``customers`` is required.
        as_of: Cutoff; only records with ``ts < as_of`` count (naive means UTC).
        settings: The ``features`` settings section.
        sentiment: A fitted sentiment model for review texts; a ``sentiment_score`` column in
            ``tables.reviews`` (scores computed once for several cutoffs) takes precedence. When
            neither is given and there are at least ``sentiment_min_reviews`` reviews before
            ``as_of``, one is fitted on them (their own star ratings, so nothing after ``as_of``
            leaks in).
        codes: :func:`activity_codes` of these same ``tables`` and ``settings``, when the features
            are wanted at several cutoffs (computed here when None).

    Returns:
        ``customer_id`` plus float columns (see :func:`feature_columns` and the module notes), in
        the order of ``tables.customers``; no NaN.
    """
    population = _population(tables.customers, int(_utc(as_of).value))
    codes = activity_codes(tables, settings) if codes is None else codes
    categories = codes.categories
    with _duckdb() as con:
        orders = _activity_features(_ORDERS, codes, population, settings, con)
        events = _activity_features(_EVENTS, codes, population, settings, con)
    reviews = _review_features(tables.reviews, population, settings, sentiment)
    behaviour = {"tenure_days": population.tenure_days} | orders | events | reviews
    return _joined(population, behaviour, settings, categories)


@dataclass(frozen=True)
class _FutureTotals:
    """Per-customer totals over the label window.

    Attributes:
        revenue: Revenue net of returns.
        orders: Distinct purchase orders.
    """

    revenue: np.ndarray
    orders: np.ndarray


def _future_totals(orders: pd.DataFrame, population: _Population, end_ns: int) -> _FutureTotals:
    """Totals of the order lines in ``[population.as_of_ns, end_ns)``."""
    ts = _epoch_ns(orders["ts"])
    customer = population.ids.get_indexer(orders["customer_id"].astype(str))
    keep = (customer >= 0) & (ts >= population.as_of_ns) & (ts < end_ns)
    lines = _order_lines(orders)
    is_return = lines.is_return[keep]
    frame = pd.DataFrame(
        {
            "customer": customer[keep],
            "value": np.where(is_return, -1.0, 1.0) * lines.quantity[keep] * lines.unit_price[keep],
            "order_id": orders["order_id"].to_numpy()[keep],
        }
    )
    bought = frame.loc[~is_return]
    return _FutureTotals(
        revenue=_scatter(population.size, *_grouped(frame.groupby("customer")["value"].sum())),
        orders=_scatter(population.size, *_grouped(bought.groupby("customer")["order_id"].nunique())),
    )


def future_labels(tables: Tables, as_of: pd.Timestamp, window_days: int) -> pd.DataFrame:
    """What each customer known before ``as_of`` bought in ``[as_of, as_of + window_days)``.

    Args:
        tables: The canonical tables.
        as_of: Start of the label window (naive means UTC).
        window_days: Window length in days.

    Returns:
        ``[customer_id, future_revenue, future_orders, future_purchased]``: revenue net of returns
        (float), distinct purchase orders (float) and 1/0 whether any purchase happened (int), one
        row per customer in the same population and order as :func:`customer_features`.
    """
    start_ns = int(_utc(as_of).value)
    population = _population(tables.customers, start_ns)
    orders = tables.orders
    if orders is not None and len(orders):
        totals = _future_totals(orders, population, start_ns + int(window_days) * _NS_PER_DAY)
    else:
        totals = _FutureTotals(revenue=np.zeros(population.size), orders=np.zeros(population.size))
    return pd.DataFrame(
        {
            "customer_id": population.ids.to_numpy(dtype=object),
            "future_revenue": totals.revenue,
            "future_orders": totals.orders,
            "future_purchased": (totals.orders > 0).astype(int),
        }
    )


def _grouped(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    return s.index.to_numpy(dtype=np.int64), s.to_numpy(dtype=float)
