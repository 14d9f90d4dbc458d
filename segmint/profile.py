"""Reasons in words for one customer's segment, offer and recommendations (the customer 360).

Pure helpers: the campaign stage writes :func:`segment_reasons` and :func:`offer_reasons` into
``customer_scores``, and ``segmint profile`` phrases the rest from a few rows read per customer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

# Readable words for the segmenter's columns; others are their names with spaces.
FEATURE_WORDS: dict[str, str] = {
    "recency_days": "days since the last order",
    "frequency": "number of orders",
    "monetary": "spend",
    "tenure_days": "time as a customer",
    "quantity_per_order": "items per order",
    "discount_share": "share of discounted purchases",
    "return_rate": "share of items returned",
    "view_to_cart": "share of viewed products put in the cart",
    "cart_to_purchase": "share of carts bought",
    "views_per_session": "product views per visit",
    "mean_rating": "mean star rating",
    "mean_sentiment": "review sentiment",
    "review_count": "number of reviews",
    "sessions": "number of visits",
}
# A column counts as setting a customer apart from |z| >= this; the strongest few are named.
REASON_MIN_Z = 1.0
REASON_FEATURES = 3
# Recommenders whose scores come from item-to-item similarity: their picks are explained by a co-purchase.
ITEM_BASED_MODELS: tuple[str, ...] = ("itemknn", "rp3beta", "ease")
# Exclusion rules of the campaign (segmint.campaign.eligible_customers) as words.
EXCLUSION_WORDS: dict[str, str] = {
    "opted_out": "opted out of marketing",
    "recently_contacted": "contacted within the last {days} days",
    "anomalous": "flagged for review by the anomaly rules",
}


def is_item_based(recommender: Any) -> bool:
    """Whether a recommender scores by item-to-item similarity (a blend: its heaviest member does)."""
    name = getattr(recommender, "name", None)
    if name != "blend":
        return name in ITEM_BASED_MODELS
    members = getattr(recommender, "members", None) or []
    weights = list(getattr(getattr(recommender, "settings", None), "blend_weights", []))
    if not members or len(weights) != len(members):
        return False
    return is_item_based(members[int(np.argmax(weights))])


def feature_words(column: str) -> str:
    """What a segmenter column measures, in words."""
    if column in FEATURE_WORDS:
        return FEATURE_WORDS[column]
    for prefix, words in (("view_share_", "share of views in "), ("cat_share_", "share of spend on ")):
        if column.startswith(prefix):
            return words + column.removeprefix(prefix).replace("_", " ")
    name, _, level = column.partition("__")
    if level:
        return f"{name} is {level}".replace("_", " ")
    return column.removeprefix("attr_").replace("_", " ")


def _joined(parts: list[pl.Series]) -> np.ndarray:
    """Per row, the non-null ``parts`` "; "-joined ("" when all are null), as an object array."""
    if not parts:
        return np.array([], dtype=object)
    frame = pl.DataFrame({str(i): part for i, part in enumerate(parts)})
    joined = frame.select(pl.concat_str(pl.all(), separator="; ", ignore_nulls=True).fill_null(""))
    return joined.to_series().to_numpy().astype(object)


def signed_tenths(values: np.ndarray) -> pl.Series:
    """``f"{v:+.1f}"`` of every value, vectorised: tenths by ``rint`` where that is exact, Python's
    own formatting for the rest (values within 1e-6 of a half tenth, where the decimal rounding of
    the binary value decides, and magnitudes of a million or more)."""
    values = np.asarray(values, dtype=float)
    small = np.abs(values) < 1e6
    scaled = np.where(small, np.abs(values), 0.0) * 10.0
    exact = small & (np.abs(scaled - np.floor(scaled) - 0.5) > 1e-6)
    whole = np.where(exact, np.rint(scaled), 0).astype(np.int64)
    frame = pl.DataFrame({"negative": np.signbit(values), "whole": whole // 10, "tenth": whole % 10})
    text = frame.select(
        pl.concat_str(
            pl.when(pl.col("negative")).then(pl.lit("-")).otherwise(pl.lit("+")),
            pl.col("whole").cast(pl.String),
            pl.lit("."),
            pl.col("tenth").cast(pl.String),
        )
    ).to_series()
    odd = np.flatnonzero(~exact)
    if len(odd):
        text = text.scatter(odd, [f"{v:+.1f}" for v in values[odd].tolist()])
    return text


def _phrases(words: list[str], column: np.ndarray, z: np.ndarray, min_z: float) -> pl.Series:
    """The phrase of one rank's column per row, null where ``|z| < min_z``."""
    frame = pl.DataFrame({"column": column.astype(np.int64), "z": z, "text": signed_tenths(z)})
    size = pl.when(pl.col("z").abs() >= 2).then(pl.lit(" much ")).otherwise(pl.lit(" "))
    side = pl.when(pl.col("z") > 0).then(pl.lit("higher")).otherwise(pl.lit("lower"))
    name = pl.col("column").replace_strict(dict(enumerate(words)), return_dtype=pl.String)
    phrase = pl.concat_str(name, size, side, pl.lit(" than most customers (z "), pl.col("text"), pl.lit(")"))
    return frame.select(pl.when(pl.col("z").abs() >= min_z).then(phrase)).to_series()


def segment_reasons(
    zscores: pd.DataFrame, n: int = REASON_FEATURES, min_z: float = REASON_MIN_Z
) -> list[str]:
    """Per customer (row), the ``n`` clustered columns that set them apart most, in words.

    Each is phrased "<column in words> [much ]higher|lower than most customers (z +1.2)", "much"
    from ``|z| >= 2``, strongest first. Built a rank at a time over all rows (polars strings), so
    a million customers take about a second.

    Args:
        zscores: Standard scores per customer and clustered column (``Segmenter.standard_scores``).
        n: At most this many columns per customer.
        min_z: Only columns with ``|z| >= min_z`` count.

    Returns:
        One "; "-joined phrase per row, or a sentence saying that no column stands out.
    """
    if zscores.shape[1] == 0:
        return ["no clustered column to compare"] * len(zscores)
    z = np.nan_to_num(zscores.to_numpy(dtype=float))
    order = np.argsort(-np.abs(z), axis=1, kind="stable")[:, :n]
    top = np.take_along_axis(z, order, axis=1)
    words = [feature_words(str(c)) for c in zscores.columns]
    ranks = range(order.shape[1])
    reasons = _joined([_phrases(words, order[:, rank], top[:, rank], min_z) for rank in ranks])
    typical = "close to the typical customer on every clustered column"
    return np.where(reasons == "", typical, reasons).tolist()


def exclusion_masks(
    customers: pd.DataFrame, min_days_between_contacts: int, as_of: pd.Timestamp | None
) -> dict[str, np.ndarray]:
    """Per exclusion rule of the campaign, which customers break it.

    Args:
        customers: ``is_anomalous``, ``opted_out`` and ``last_contact_ts`` (each optional).
        min_days_between_contacts: The campaign's contact spacing.
        as_of: The planning time (None: nobody counts as contacted recently).
    """
    n = len(customers)

    def flag(column: str) -> np.ndarray:
        if column not in customers.columns:
            return np.zeros(n, dtype=bool)
        return customers[column].fillna(False).astype(bool).to_numpy()

    recent = np.zeros(n, dtype=bool)
    if as_of is not None and "last_contact_ts" in customers.columns:
        last = pd.to_datetime(customers["last_contact_ts"], utc=True)
        days = (_utc(as_of) - last).dt.total_seconds().to_numpy() / 86_400.0
        recent = np.nan_to_num(days, nan=np.inf) < min_days_between_contacts
    return {"opted_out": flag("opted_out"), "recently_contacted": recent, "anomalous": flag("is_anomalous")}


def _utc(stamp: pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(stamp)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def exclusion_reasons(masks: Mapping[str, np.ndarray], min_days_between_contacts: int) -> list[list[str]]:
    """Per customer, the exclusion rules they break, in words (empty: eligible)."""
    n = len(next(iter(masks.values()))) if masks else 0
    words = {rule: text.format(days=min_days_between_contacts) for rule, text in EXCLUSION_WORDS.items()}
    return [[words[rule] for rule, mask in masks.items() if mask[i]] for i in range(n)]


def exclusion_text(masks: Mapping[str, np.ndarray], min_days_between_contacts: int) -> np.ndarray:
    """Per customer, the exclusion rules they break in words, "; "-joined ("" when eligible); the
    vectorised :func:`exclusion_reasons` for whole customer tables."""
    flags = pl.DataFrame({rule: np.asarray(mask, dtype=bool) for rule, mask in masks.items()})
    parts = [
        flags.select(
            pl.when(pl.col(rule)).then(pl.lit(EXCLUSION_WORDS[rule].format(days=min_days_between_contacts)))
        ).to_series()
        for rule in masks
    ]
    return _joined(parts)


def offer_reasons(
    plan: pd.DataFrame,
    uplift_scores: pd.DataFrame,
    exclusions: pd.Series,
    plan_kind: str | None,
) -> pd.Series:
    """Why each planned customer gets their offer, is held out, or gets nothing.

    Args:
        plan: ``customer_id``, ``offer``, ``group``, ``expected_incremental_profit``; one row per
            customer.
        uplift_scores: ``customer_id``, ``offer``, ``uplift`` (empty for an exploration plan).
        exclusions: The exclusion rules each customer breaks in words (:func:`exclusion_text`),
            indexed by customer id as text; customers missing from it break none.
        plan_kind: ``uplift`` or ``exploration``.

    Returns:
        The reason, indexed by the plan's customer ids as text.
    """
    customers = plan["customer_id"].astype(str).to_numpy()
    offer = plan["offer"].astype(object).where(plan["offer"].notna(), None)
    offered = offer.notna().to_numpy()
    holdout = (plan["group"] == "holdout").to_numpy() & offered
    text = offer.fillna("").astype(str).to_numpy().astype(object)
    exclusions = exclusions[~exclusions.index.duplicated(keep="last")]
    broken = exclusions.reindex(customers).fillna("").to_numpy().astype(object)
    if plan_kind == "uplift":
        nothing = "not contacted: no offer is expected to add profit within the budget"
    else:
        nothing = "not contacted: not drawn for this wave"
    reasons = np.where(broken == "", nothing, "not contacted: " + broken).astype(object)
    reasons[holdout] = (
        text[holdout] + " was chosen, but the customer is in the random hold-out that measures the campaign"
    )
    chosen = offered & ~holdout
    if plan_kind != "uplift":
        explored = " drawn at random: no uplift model is trusted yet, so this wave explores"
        reasons[chosen] = text[chosen] + explored
    elif chosen.any():
        reasons[chosen] = _uplift_reasons(plan[chosen], uplift_scores)
    found = pd.Series(reasons, index=pd.Index(customers, name="customer_id"), name="offer_reason")
    return found[~found.index.duplicated(keep="last")]


def _uplift_reasons(chosen: pd.DataFrame, uplift_scores: pd.DataFrame) -> np.ndarray:
    """The reason of each customer given the offer with the highest expected incremental profit."""
    keys = ["customer_id", "offer"]
    rows = chosen[[*keys, "expected_incremental_profit"]]
    if len(uplift_scores):
        lifts = uplift_scores[[*keys, "uplift"]].drop_duplicates(keys, keep="last")
        lift = rows.merge(lifts, on=keys, how="left")["uplift"].to_numpy(dtype=float)
    else:
        lift = np.full(len(rows), np.nan)
    profit = rows["expected_incremental_profit"].to_numpy(dtype=float)
    return np.array(
        [
            f"{o} has the highest expected incremental profit of the offers for this customer "
            f"({p:.2f}; predicted uplift {100 * u:+.1f} points)"
            for o, p, u in zip(rows["offer"].tolist(), profit.tolist(), lift.tolist(), strict=True)
        ],
        dtype=object,
    )


def recommendation_reasons(
    recommended: Iterable[str],
    co_purchases: pd.DataFrame,
    names: Mapping[str, str],
    item_based: bool,
) -> list[dict[str, str]]:
    """Each recommended product with a reason.

    Args:
        recommended: Product ids, best first.
        co_purchases: ``product_id`` (recommended), ``bought_id`` (one of the customer's own
            purchases) and ``customers`` (how many others bought both).
        names: Product id → name.
        item_based: Whether the recommender scores by item-to-item similarity.

    Returns:
        ``{"product_id", "name", "reason"}`` per product: "bought together with X" when the model
        is item-based and another customer bought both, else "popular in your segment".
    """
    best: dict[str, str] = {}
    if item_based and len(co_purchases):
        ranked = co_purchases.sort_values(["customers", "bought_id"], ascending=[False, True], kind="stable")
        best = ranked.drop_duplicates("product_id").set_index("product_id")["bought_id"].astype(str).to_dict()
    rows = []
    for product in recommended:
        pid = str(product)
        partner = best.get(pid)
        reason = (
            f"bought together with {names.get(partner, partner)}" if partner else "popular in your segment"
        )
        rows.append({"product_id": pid, "name": names.get(pid, pid), "reason": reason})
    return rows


def co_purchase_counts(lines: pd.DataFrame, customer_id: str, recommended: Iterable[str]) -> pd.DataFrame:
    """How many other customers bought each recommended product together with one the customer bought.

    Args:
        lines: ``customer_id``, ``product_id`` purchase lines of (at least) the recommended products
            and the customer's own products.
        customer_id: The customer.
        recommended: The recommended product ids.

    Returns:
        ``product_id`` (recommended), ``bought_id``, ``customers``.
    """
    pairs = lines[["customer_id", "product_id"]].astype(str).drop_duplicates()
    own = set(pairs.loc[pairs["customer_id"] == customer_id, "product_id"])
    others = pairs[pairs["customer_id"] != customer_id]
    recs = others[others["product_id"].isin(set(map(str, recommended)))]
    bought = others[others["product_id"].isin(own)].rename(columns={"product_id": "bought_id"})
    both = recs.merge(bought, on="customer_id")
    return both.groupby(["product_id", "bought_id"]).size().rename("customers").reset_index()


def describe_anomaly(row: Mapping[str, Any], threshold: float | None = None) -> str:
    """The anomaly flag, its score (and the flag threshold) and the rules that raised it, in words."""
    score = float(row.get("anomaly_score") or 0.0)
    against = f", threshold {threshold:.2f}" if threshold is not None else ""
    rules = [r for r in str(row.get("anomaly_reasons") or "").split(";") if r]
    if not bool(row.get("is_anomalous")):
        return f"not flagged (score {score:.2f}{against})"
    return f"flagged (score {score:.2f}{against}) by: {', '.join(rules) if rules else 'the overall score'}"


def _money(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):,.2f}"


def profile_lines(profile: Mapping[str, Any]) -> list[str]:
    """A customer 360 (as ``tasks.profile.customer_profiles`` builds it) as lines of plain text."""
    seg, value, anomaly = profile["segment"], profile["value"], profile["anomaly"]
    offer, eligibility = profile["offer"], profile["eligibility"]
    orders, reviews = profile["orders"], profile["reviews"]
    clv = f", CLV {_money(value['clv'])}" if "clv" in value else ""
    basis = f" (by {value['tier_basis']})" if value.get("tier_basis") else ""
    lines = [
        f"customer {profile['customer_id']}",
        f"  segment:     {seg['name']} (id {seg['id']})",
        f"    why:       {seg['reason'] or 'n/a'}",
        f"  value tier:  {value['tier']}{basis}{clv}",
        f"  anomaly:     {anomaly['summary']}",
        f"  offer:       {offer['best_offer'] or 'none'} (group {offer['group'] or 'n/a'}, "
        f"expected incremental value {_money(offer['expected_incremental_value'])})",
        f"    why:       {offer['reason'] or 'n/a'}",
        f"  eligible:    {'yes' if eligibility['eligible'] else 'no: ' + '; '.join(eligibility['reasons'])}"
        f" (last contact {eligibility['last_contact'] or 'never'})",
        "  recommended:",
        *[f"    - {r['name']} ({r['product_id']}): {r['reason']}" for r in profile["recommendations"]],
        f"  orders:      {orders['count']}, last {len(orders['last'])}:",
        *[
            f"    - {o['order_id']} {o['ts']}: {o['items']} item(s), {_money(o['total'])}"
            for o in orders["last"]
        ],
        f"  reviews:     {reviews['count']}, mean rating {reviews['mean_rating'] or 'n/a'}, "
        f"mean sentiment {reviews['mean_sentiment'] if reviews['mean_sentiment'] is not None else 'n/a'}",
    ]
    return lines
