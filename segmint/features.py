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
more levels are left out. Category shares use the ``top_categories`` categories with the most
products (ties by name) so the columns depend on the catalogue, not on who bought what; when the
products table is absent there are no category columns.
"""

from __future__ import annotations

import re

import duckdb
import numpy as np
import pandas as pd

from segmint.contracts import Tables
from segmint.nlp import SentimentModel, fit_sentiment_model
from segmint.settings import FeatureSettings

_NS_PER_DAY = 86_400 * 1_000_000_000
_REQUIRED_CUSTOMER_COLUMNS = ("customer_id", "signup_ts", "country", "channel")


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


def _population(customers: pd.DataFrame, as_of_ns: int) -> pd.DataFrame:
    signup = _epoch_ns(customers["signup_ts"])
    # Missing signup dates are kept (treated as signed up before as_of) rather than dropped.
    known = signup != np.iinfo(np.int64).min
    keep = ~known | (signup < as_of_ns)
    pop = customers.loc[keep].drop_duplicates("customer_id").reset_index(drop=True)
    return pop


def _attribute_features(customers: pd.DataFrame, max_levels: int) -> pd.DataFrame:
    out: dict[str, np.ndarray] = {}
    for column in customers.columns:
        if column in ("customer_id", "signup_ts", "ts"):
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


def _orders_features(
    orders: pd.DataFrame,
    products: pd.DataFrame | None,
    pop_index: pd.Index,
    signup_ns: np.ndarray,
    as_of_ns: int,
    settings: FeatureSettings,
    categories: list[str],
    con: duckdb.DuckDBPyConnection,
) -> pd.DataFrame:
    ts = _epoch_ns(orders["ts"])
    code = pop_index.get_indexer(orders["customer_id"])
    keep = (code >= 0) & (ts < as_of_ns) & (ts != np.iinfo(np.int64).min)
    code, ts = code[keep], ts[keep]
    qty = np.abs(pd.to_numeric(orders["quantity"], errors="coerce").to_numpy(dtype=float, na_value=0.0)[keep])
    price = pd.to_numeric(orders["unit_price"], errors="coerce").to_numpy(dtype=float, na_value=0.0)[keep]
    if "is_return" in orders.columns:
        is_return = orders["is_return"].fillna(False).to_numpy(dtype=bool)[keep]
    else:
        is_return = (pd.to_numeric(orders["quantity"], errors="coerce").fillna(0).to_numpy() < 0)[keep]
    if "discount" in orders.columns:
        discounted = pd.to_numeric(orders["discount"], errors="coerce").fillna(0.0).to_numpy()[keep] > 0
    else:
        discounted = np.zeros(len(code), dtype=bool)
    order_code = pd.factorize(orders["order_id"].to_numpy()[keep])[0]
    if products is not None and categories:
        cat_of_product = (
            products.drop_duplicates("product_id").set_index("product_id")["category"].astype(str)
        )
        cat_index = pd.Index(categories)
        product_cat = cat_index.get_indexer(cat_of_product.to_numpy())
        cat = np.full(len(code), -1, dtype=np.int32)
        pcode = pd.Index(cat_of_product.index).get_indexer(orders["product_id"].to_numpy()[keep])
        known = pcode >= 0
        cat[known] = product_cat[pcode[known]]
    else:
        cat = np.full(len(code), -1, dtype=np.int32)
    lines = pd.DataFrame(
        {
            "c": code.astype(np.int32),
            "o": order_code.astype(np.int64),
            "ago": (as_of_ns - ts) / _NS_PER_DAY,
            "since_signup": np.where(
                signup_ns[code] == np.iinfo(np.int64).min, np.inf, (ts - signup_ns[code]) / _NS_PER_DAY
            ),
            "qty": qty,
            "value": qty * price,
            "price": price,
            "ret": is_return,
            "disc": discounted,
            "cat": cat,
        }
    )
    windows = settings.recency_windows_days
    win_sql = ",\n".join(
        f"count(DISTINCT o) FILTER (WHERE NOT ret AND ago <= {w}) AS orders_{w}d,\n"
        f"coalesce(sum(CASE WHEN ago <= {w} THEN CASE WHEN ret THEN -value ELSE value END END), 0)"
        f" AS revenue_{w}d"
        for w in windows
    )
    cat_sql = ",\n".join(
        f"coalesce(sum(value) FILTER (WHERE NOT ret AND cat = {i}), 0) AS cat_{i}"
        for i in range(len(categories))
    )
    con.register("lines", lines)
    agg = con.execute(
        f"""
        WITH per_order AS (
            SELECT c, o, sum(qty) AS oq, count(*) AS nl
            FROM lines WHERE NOT ret GROUP BY c, o
        ), order_stats AS (
            SELECT c, max(oq) AS max_order_quantity, max(nl) AS max_order_lines FROM per_order GROUP BY c
        ), line_stats AS (
            SELECT c,
                count(DISTINCT o) FILTER (WHERE NOT ret) AS frequency,
                count(*) FILTER (WHERE NOT ret) AS purchase_lines,
                coalesce(sum(qty) FILTER (WHERE NOT ret), 0) AS purchase_qty,
                coalesce(sum(value) FILTER (WHERE NOT ret), 0) AS gross,
                coalesce(sum(value) FILTER (WHERE ret), 0) AS returned,
                count(DISTINCT o) FILTER (WHERE ret) AS return_orders,
                avg(price) FILTER (WHERE NOT ret) AS mean_unit_price,
                min(ago) FILTER (WHERE NOT ret) AS recency,
                min(since_signup) FILTER (WHERE NOT ret) AS days_to_first,
                count(DISTINCT o) FILTER (WHERE NOT ret AND since_signup <= {settings.burst_days})
                    AS orders_first_days,
                count(*) FILTER (WHERE NOT ret AND disc) AS disc_lines
                {"," if windows else ""}
                {win_sql}
                {"," if categories else ""}
                {cat_sql}
            FROM lines GROUP BY c
        )
        SELECT l.*, s.max_order_quantity, s.max_order_lines
        FROM line_stats l LEFT JOIN order_stats s USING (c)
        """
    ).df()
    con.unregister("lines")
    return agg


def _event_categories(
    events: pd.DataFrame, products: pd.DataFrame | None, categories: list[str]
) -> np.ndarray:
    """Index in ``categories`` of each event's product category (-1: other or unknown)."""
    if products is None or not len(products) or not categories:
        return np.full(len(events), -1, dtype=np.int16)
    lookup = pd.Series(
        pd.Index(categories).get_indexer(products["category"].astype(str)),
        index=products["product_id"].astype(str).to_numpy(),
    )
    lookup = lookup[~lookup.index.duplicated()]
    codes = lookup.reindex(events["product_id"].astype(str).to_numpy()).to_numpy()
    return np.nan_to_num(codes, nan=-1).astype(np.int16)


def _events_features(
    events: pd.DataFrame,
    pop_index: pd.Index,
    as_of_ns: int,
    settings: FeatureSettings,
    con: duckdb.DuckDBPyConnection,
    event_categories: np.ndarray | None = None,
    n_categories: int = 0,
) -> pd.DataFrame:
    ts = _epoch_ns(events["ts"])
    code = pop_index.get_indexer(events["customer_id"])
    keep = (code >= 0) & (ts < as_of_ns) & (ts != np.iinfo(np.int64).min)
    kinds = events["event_type"].to_numpy()[keep]
    # Elementwise comparison is cheaper than hashing millions of short strings.
    etype = np.where(kinds == "view", 0, np.where(kinds == "cart", 1, np.where(kinds == "purchase", 2, -1)))
    frame = pd.DataFrame(
        {
            "c": code[keep].astype(np.int32),
            "s": pd.factorize(events["session_id"].to_numpy()[keep])[0].astype(np.int64),
            "e": etype.astype(np.int8),
            "ago": (as_of_ns - ts[keep]) / _NS_PER_DAY,
            "k": (event_categories[keep] if event_categories is not None else np.full(keep.sum(), -1)),
        }
    )
    # What a customer browses (not only what they buy) says which categories they care about.
    cat_sql = "".join(f", count(*) FILTER (WHERE k = {i}) AS vcat_{i}" for i in range(n_categories))
    win_sql = "".join(
        f", count(*) FILTER (WHERE ago <= {w}) AS events_{w}d" for w in settings.recency_windows_days
    )
    con.register("ev", frame)
    agg = con.execute(
        f"""
        SELECT c,
            count(*) FILTER (WHERE e = 0) AS views,
            count(*) FILTER (WHERE e = 1) AS carts,
            count(*) FILTER (WHERE e = 2) AS purchase_events,
            count(DISTINCT s) AS sessions,
            min(ago) AS days_since_last_event
            {win_sql}{cat_sql}
        FROM ev GROUP BY c
        """
    ).df()
    con.unregister("ev")
    return agg


def _review_features(
    reviews: pd.DataFrame,
    pop_index: pd.Index,
    as_of_ns: int,
    settings: FeatureSettings,
    sentiment: SentimentModel | None,
) -> pd.DataFrame:
    ts = _epoch_ns(reviews["ts"])
    code = pop_index.get_indexer(reviews["customer_id"])
    keep = (code >= 0) & (ts < as_of_ns) & (ts != np.iinfo(np.int64).min)
    past = reviews.loc[keep]
    rating = pd.to_numeric(past["rating"], errors="coerce").fillna(3.0).to_numpy(dtype=float)
    if "sentiment_score" in past.columns:  # scored once upstream (see ``customer_features``)
        score = past["sentiment_score"].to_numpy(dtype=float)
    else:
        if sentiment is None and len(past) >= settings.sentiment_min_reviews:
            classes = np.where(rating >= 4, 1, np.where(rating <= 2, -1, 0))
            if len(np.unique(classes)) >= 2:
                sentiment = fit_sentiment_model(past["text"], rating, seed=settings.seed)
        score = sentiment.score(past["text"]) if sentiment is not None and len(past) else np.zeros(len(past))
    frame = pd.DataFrame({"c": code[keep], "rating": rating, "sent": score})
    agg = frame.groupby("c").agg(
        review_count=("rating", "size"), mean_rating=("rating", "mean"), mean_sentiment=("sent", "mean")
    )
    return agg.reset_index()


def feature_columns(settings: FeatureSettings, categories: list[str]) -> list[str]:
    """The behavioural feature columns, in output order (attribute columns follow them)."""
    cols = [
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
    for w in settings.recency_windows_days:
        cols += [f"orders_{w}d", f"revenue_{w}d"]
    cols += [f"cat_share_{s}" for s in _unique_slugs(categories)]
    if categories:
        cols.append("cat_share_other")
    cols += ["views", "carts", "purchase_events", "sessions", "view_to_cart", "cart_to_purchase"]
    cols += ["views_per_session", "days_since_last_event"]
    for w in settings.recency_windows_days:
        cols.append(f"events_{w}d")
    cols += [f"view_share_{s}" for s in _unique_slugs(categories)]
    if categories:
        cols.append("view_share_other")
    cols += ["review_count", "mean_rating", "mean_sentiment"]
    return cols


def _with_str_ids(frame: pd.DataFrame) -> pd.DataFrame:
    if frame["customer_id"].dtype == object:
        return frame
    return frame.assign(customer_id=frame["customer_id"].astype(str))


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def _scatter(n: int, codes: pd.Series, values: pd.Series | np.ndarray, fill: float = 0.0) -> np.ndarray:
    out = np.full(n, fill, dtype=float)
    vals = np.asarray(values, dtype=float)
    out[np.asarray(codes, dtype=np.int64)] = np.where(np.isnan(vals), fill, vals)
    return out


def customer_features(
    tables: Tables,
    as_of: pd.Timestamp,
    settings: FeatureSettings,
    sentiment: SentimentModel | None = None,
) -> pd.DataFrame:
    """One row of point-in-time features per customer known before ``as_of``.

    Args:
        tables: The canonical tables; only ``customers`` is required.
        as_of: Cutoff; only records with ``ts < as_of`` count (naive means UTC).
        settings: The ``features`` settings section.
        sentiment: A fitted sentiment model for review texts; a ``sentiment_score`` column in
            ``tables.reviews`` (scores computed once for several cutoffs) takes precedence. When
            neither is given and there are at least ``sentiment_min_reviews`` reviews before
            ``as_of``, one is fitted on them (their own star ratings, so nothing after ``as_of``
            leaks in).

    Returns:
        ``customer_id`` plus float columns (see :func:`feature_columns` and the module notes), in
        the order of ``tables.customers``; no NaN.
    """
    cutoff = _utc(as_of)
    as_of_ns = int(cutoff.value)
    pop = _population(tables.customers, as_of_ns)
    n = len(pop)
    pop_index = pd.Index(pop["customer_id"].astype(str).to_numpy())
    signup_ns = _epoch_ns(pop["signup_ts"])
    no_signup = signup_ns == np.iinfo(np.int64).min
    categories = top_categories(tables.products, settings.top_categories)
    cat_slugs = _unique_slugs(categories)
    cols: dict[str, np.ndarray] = {}
    tenure = np.where(no_signup, 0.0, (as_of_ns - signup_ns) / _NS_PER_DAY)
    cols["tenure_days"] = np.maximum(tenure, 0.0)

    con = duckdb.connect()
    con.execute("SET threads TO 2")
    try:
        orders = tables.orders
        if orders is not None and len(orders):
            orders = _with_str_ids(orders)
            agg = _orders_features(
                orders, tables.products, pop_index, signup_ns, as_of_ns, settings, categories, con
            )
        else:
            agg = pd.DataFrame({"c": pd.Series(dtype=np.int64)})
        c = agg["c"]

        def col(name: str, fill: float = 0.0) -> np.ndarray:
            return _scatter(n, c, agg[name], fill) if name in agg else np.full(n, fill)

        frequency = col("frequency")
        gross = col("gross")
        returned = col("returned")
        cols["frequency"] = frequency
        cols["gross_revenue"] = gross
        cols["monetary"] = gross - returned
        recency = col("recency", np.nan)
        cols["recency_days"] = np.where(np.isnan(recency), cols["tenure_days"], recency)
        first = col("days_to_first", np.nan)
        cols["days_to_first_order"] = np.where(
            np.isnan(first) | ~np.isfinite(first), cols["tenure_days"], np.maximum(first, 0.0)
        )
        cols["avg_order_value"] = _ratio(gross, frequency)
        cols["lines_per_order"] = _ratio(col("purchase_lines"), frequency)
        cols["quantity_per_order"] = _ratio(col("purchase_qty"), frequency)
        cols["mean_unit_price"] = col("mean_unit_price")
        cols["max_order_quantity"] = col("max_order_quantity")
        cols["max_order_lines"] = col("max_order_lines")
        cols["orders_first_days"] = col("orders_first_days")
        cols["discount_share"] = _ratio(col("disc_lines"), col("purchase_lines"))
        cols["return_rate"] = np.clip(_ratio(returned, gross), 0.0, 1.0)
        cols["return_orders"] = col("return_orders")
        for w in settings.recency_windows_days:
            cols[f"orders_{w}d"] = col(f"orders_{w}d")
            cols[f"revenue_{w}d"] = col(f"revenue_{w}d")
        cat_spend = np.zeros(n)
        for i, s in enumerate(cat_slugs):
            spend = col(f"cat_{i}")
            cols[f"cat_share_{s}"] = _ratio(spend, gross)
            cat_spend += spend
        if categories:
            cols["cat_share_other"] = np.clip(_ratio(gross - cat_spend, gross), 0.0, 1.0)

        events = tables.events
        if events is not None and len(events):
            events = _with_str_ids(events)
            ev = _events_features(
                events,
                pop_index,
                as_of_ns,
                settings,
                con,
                _event_categories(events, tables.products, categories),
                len(categories),
            )
        else:
            ev = pd.DataFrame({"c": pd.Series(dtype=np.int64)})
    finally:
        con.close()

    def ecol(name: str, fill: float = 0.0) -> np.ndarray:
        return _scatter(n, ev["c"], ev[name], fill) if name in ev else np.full(n, fill)

    views, carts, purchases, sessions = (
        ecol("views"),
        ecol("carts"),
        ecol("purchase_events"),
        ecol("sessions"),
    )
    cols.update(views=views, carts=carts, purchase_events=purchases, sessions=sessions)
    cols["view_to_cart"] = np.clip(_ratio(carts, views), 0.0, 1.0)
    cols["cart_to_purchase"] = np.clip(_ratio(purchases, carts), 0.0, 1.0)
    cols["views_per_session"] = _ratio(views, sessions)
    last_event = ecol("days_since_last_event", np.nan)
    cols["days_since_last_event"] = np.where(np.isnan(last_event), cols["tenure_days"], last_event)
    for w in settings.recency_windows_days:
        cols[f"events_{w}d"] = ecol(f"events_{w}d")
    all_events = views + carts + purchases
    browsed = np.zeros(n)
    for i, s in enumerate(cat_slugs):
        count = ecol(f"vcat_{i}")
        cols[f"view_share_{s}"] = _ratio(count, all_events)
        browsed += count
    if categories:
        cols["view_share_other"] = np.clip(_ratio(all_events - browsed, all_events), 0.0, 1.0)

    reviews = tables.reviews
    if reviews is not None and len(reviews):
        reviews = _with_str_ids(reviews)
        rv = _review_features(reviews, pop_index, as_of_ns, settings, sentiment)
    else:
        rv = pd.DataFrame({"c": pd.Series(dtype=np.int64)})
    cols["review_count"] = _scatter(n, rv["c"], rv["review_count"]) if len(rv) else np.zeros(n)
    cols["mean_rating"] = _scatter(n, rv["c"], rv["mean_rating"], 3.0) if len(rv) else np.full(n, 3.0)
    cols["mean_sentiment"] = _scatter(n, rv["c"], rv["mean_sentiment"]) if len(rv) else np.zeros(n)

    ordered = feature_columns(settings, categories)
    out = pd.DataFrame({"customer_id": pop_index.to_numpy(dtype=object)})
    out = pd.concat([out, pd.DataFrame({k: cols[k] for k in ordered})], axis=1)
    attrs = _attribute_features(
        pop.drop(columns=[c for c in ("country", "channel") if c not in pop.columns]).reset_index(drop=True),
        settings.onehot_max_levels,
    )
    if len(attrs.columns):
        out = pd.concat([out, attrs.reset_index(drop=True)], axis=1)
    numeric = out.columns.drop("customer_id")
    out[numeric] = out[numeric].astype(float).replace([np.inf, -np.inf], np.nan).fillna(0.0)
    return out


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
    cutoff = _utc(as_of)
    start_ns = int(cutoff.value)
    end_ns = start_ns + int(window_days) * _NS_PER_DAY
    pop = _population(tables.customers, start_ns)
    pop_index = pd.Index(pop["customer_id"].astype(str).to_numpy())
    n = len(pop)
    revenue = np.zeros(n)
    n_orders = np.zeros(n)
    orders = tables.orders
    if orders is not None and len(orders):
        ts = _epoch_ns(orders["ts"])
        code = pop_index.get_indexer(orders["customer_id"].astype(str))
        keep = (code >= 0) & (ts >= start_ns) & (ts < end_ns)
        qty = np.abs(pd.to_numeric(orders["quantity"], errors="coerce").fillna(0).to_numpy(dtype=float))[keep]
        price = pd.to_numeric(orders["unit_price"], errors="coerce").fillna(0).to_numpy(dtype=float)[keep]
        if "is_return" in orders.columns:
            ret = orders["is_return"].fillna(False).to_numpy(dtype=bool)[keep]
        else:
            ret = (pd.to_numeric(orders["quantity"], errors="coerce").fillna(0).to_numpy() < 0)[keep]
        frame = pd.DataFrame(
            {
                "c": code[keep],
                "v": np.where(ret, -1.0, 1.0) * qty * price,
                "o": orders["order_id"].to_numpy()[keep],
            }
        )
        revenue = _scatter(n, *_grouped(frame.groupby("c")["v"].sum()))
        bought = frame.loc[~ret]
        n_orders = _scatter(n, *_grouped(bought.groupby("c")["o"].nunique()))
    return pd.DataFrame(
        {
            "customer_id": pop_index.to_numpy(dtype=object),
            "future_revenue": revenue,
            "future_orders": n_orders,
            "future_purchased": (n_orders > 0).astype(int),
        }
    )


def _grouped(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    return s.index.to_numpy(dtype=np.int64), s.to_numpy(dtype=float)
