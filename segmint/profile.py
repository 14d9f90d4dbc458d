"""Reasons in words for one customer's segment, offer and recommendations (the customer 360).

Pure helpers: the campaign stage writes :func:`segment_reasons` and :func:`offer_reasons` into
``customer_scores``, and ``segmint profile`` phrases the rest from a few rows read per customer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

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


def _phrase(column: str, z: float) -> str:
    size = "much " if abs(z) >= 2 else ""
    side = "higher" if z > 0 else "lower"
    return f"{feature_words(column)} {size}{side} than most customers (z {z:+.1f})"


def segment_reasons(
    zscores: pd.DataFrame, n: int = REASON_FEATURES, min_z: float = REASON_MIN_Z
) -> list[str]:
    """Per customer (row), the ``n`` clustered columns that set them apart most, in words.

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
    columns = [str(c) for c in zscores.columns]
    reasons = []
    for row, top in zip(z, order, strict=True):
        parts = [_phrase(columns[j], float(row[j])) for j in top if abs(row[j]) >= min_z]
        reasons.append(
            "; ".join(parts) if parts else "close to the typical customer on every clustered column"
        )
    return reasons


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


def offer_reasons(
    plan: pd.DataFrame,
    uplift_scores: pd.DataFrame,
    exclusions: Mapping[str, list[str]],
    plan_kind: str | None,
) -> dict[str, str]:
    """Why each planned customer gets their offer, is held out, or gets nothing.

    Args:
        plan: ``customer_id``, ``offer``, ``group``, ``expected_incremental_profit``.
        uplift_scores: ``customer_id``, ``offer``, ``uplift`` (empty for an exploration plan).
        exclusions: Customer id → the exclusion rules they break, in words.
        plan_kind: ``uplift`` or ``exploration``.

    Returns:
        Customer id → the reason.
    """
    uplift = (
        uplift_scores.set_index(["customer_id", "offer"])["uplift"].to_dict() if len(uplift_scores) else {}
    )
    reasons = {}
    for row in plan.itertuples(index=False):
        customer, offer = str(row.customer_id), row.offer
        if offer is None or (isinstance(offer, float) and np.isnan(offer)):
            reasons[customer] = _not_contacted(exclusions.get(customer, []), plan_kind)
        elif row.group == "holdout":
            reasons[customer] = (
                f"{offer} was chosen, but the customer is in the random hold-out that measures the campaign"
            )
        elif plan_kind != "uplift":
            reasons[customer] = (
                f"{offer} drawn at random: no uplift model is trusted yet, so this wave explores"
            )
        else:
            lift = uplift.get((row.customer_id, offer), np.nan)
            reasons[customer] = (
                f"{offer} has the highest expected incremental profit of the offers for this customer "
                f"({float(row.expected_incremental_profit):.2f}; "
                f"predicted uplift {100 * float(lift):+.1f} points)"
            )
    return reasons


def _not_contacted(broken: list[str], plan_kind: str | None) -> str:
    if broken:
        return "not contacted: " + "; ".join(broken)
    if plan_kind == "uplift":
        return "not contacted: no offer is expected to add profit within the budget"
    return "not contacted: not drawn for this wave"


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
