"""Planted campaign effects and the simulated execution of a campaign plan.

Baseline conversion (a purchase within the outcome window without contact) follows the customer's
own purchase rate. True uplift depends on the archetype and, within it, on covariates that are
visible in behaviour before the send date, so an uplift model has something to learn:

* bargain hunters: ``discount_10`` uplift grows with their discount share;
* lapsing: ``discount_10`` uplift (and a third of it for ``free_shipping``) fades with days since
  their last activity;
* window shoppers: ``free_shipping`` uplift grows with their view→cart rate;
* new customers: negative uplift (do-not-disturb) that fades with tenure;
* bulk resellers: negative uplift for both offers, stronger for larger baskets;
* loyal (sure things) and casual (lost causes): uplift ≈ 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from segmint.contracts import CONTROL, coerce_table

OFFERS: tuple[str, ...] = ("discount_10", "free_shipping")
# Share of the order value the shop keeps when the offer is redeemed.
OFFER_VALUE_FACTOR: dict[str, float] = {"discount_10": 0.9, "free_shipping": 1.0}
PLAN_GROUPS: tuple[str, ...] = ("treatment", "holdout")
_REVENUE_SD = 0.5


def campaign_truth(
    latent: pd.DataFrame, window_days: int, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-customer baseline conversion and per-offer true effects.

    Args:
        latent: one row per customer with archetype and the latent behaviour parameters.
        window_days: outcome window of a campaign.
        rng: random generator for the per-customer effect noise.

    Returns:
        ``customers_truth`` (latent frame plus baseline_conversion) and ``effects`` (one row per
        customer × offer with true_uplift and true_incremental_revenue).
    """
    arch = latent["archetype"].to_numpy()
    n = len(latent)
    # Lapsed (or not yet signed-up) customers keep a trickle of natural purchases.
    activity = np.where(latent["active_at_send"].to_numpy(), 1.0, 0.05)
    rate = latent["sessions_per_year"].to_numpy() * latent["purchase_session_share"].to_numpy() * activity
    p0 = np.clip(1.0 - np.exp(-rate * window_days / 365.0), 0.005, 0.85)

    p_disc = latent["p_discount"].to_numpy()
    p_cart = latent["p_cart"].to_numpy()
    tenure = np.clip(latent["tenure_days_at_send"].to_numpy(), 0.0, None)
    since = latent["days_since_active_at_send"].to_numpy()
    qty = latent["quantity_mean"].to_numpy()

    d10 = np.zeros(n)
    fs = np.zeros(n)
    m = arch == "bargain_hunter"
    d10[m] = 0.05 + 0.45 * np.clip(p_disc[m] - 0.6, 0.0, None)
    fs[m] = 0.03
    m = arch == "lapsing"
    d10[m] = 0.35 * np.exp(-np.clip(since[m] - 100.0, 0.0, None) / 100.0)
    fs[m] = d10[m] / 3.0
    m = arch == "window_shopper"
    fs[m] = 0.03 + 1.6 * np.clip(p_cart[m], 0.0, 0.1)
    d10[m] = 0.02
    m = arch == "new"
    d10[m] = -0.13 + 0.0015 * np.minimum(tenure[m], 60.0)
    fs[m] = -0.10 + 0.001 * np.minimum(tenure[m], 60.0)
    m = arch == "bulk_reseller"
    d10[m] = -0.05 - 0.003 * np.clip(qty[m] - 1.0, 0.0, 25.0)
    fs[m] = d10[m]
    m = arch == "casual"
    d10[m] = 0.01
    fs[m] = 0.01
    d10 = d10 + rng.normal(0.0, 0.01, size=n)
    fs = fs + rng.normal(0.0, 0.01, size=n)

    eov = latent["expected_order_value"].to_numpy()
    frames = []
    for offer, raw in (("discount_10", d10), ("free_shipping", fs)):
        p1 = np.clip(p0 + raw, 0.0, 1.0)
        frames.append(
            pd.DataFrame(
                {
                    "customer_id": latent["customer_id"].to_numpy(),
                    "offer": offer,
                    "true_uplift": p1 - p0,
                    "true_incremental_revenue": p1 * eov * OFFER_VALUE_FACTOR[offer] - p0 * eov,
                }
            )
        )
    effects = pd.concat(frames, ignore_index=True)
    first = [
        "customer_id",
        "archetype",
        "is_anomalous",
        "anomaly_type",
        "baseline_conversion",
        "expected_order_value",
    ]
    truth = latent.assign(baseline_conversion=p0)
    truth = truth[first + [c for c in truth.columns if c not in first]]
    return truth, effects


def realised_outcomes(
    plan: pd.DataFrame,
    truth: dict[str, pd.DataFrame],
    rng: np.random.Generator,
    sent_ts: pd.Timestamp,
    campaign_id: str,
) -> pd.DataFrame:
    """Campaign rows drawn from the truth for ``plan`` (see :func:`simulate_outcomes`)."""
    missing = [c for c in ("customer_id", "offer", "group") if c not in plan.columns]
    if missing:
        raise ValueError(f"plan lacks column(s) {missing}; needs customer_id, offer, group")
    groups = plan["group"].astype(object).to_numpy()
    bad = sorted({str(g) for g in groups} - set(PLAN_GROUPS))
    if bad:
        raise ValueError(f"unknown plan group(s) {bad}; valid groups: {', '.join(PLAN_GROUPS)}")
    ct = truth["customers_truth"]
    effects = truth["effects"]
    valid_offers = tuple(pd.unique(effects["offer"]))
    offers = plan["offer"].astype(object).to_numpy()
    offers = np.where(pd.isna(offers), None, offers)
    holdout = groups == "holdout"
    contacted = holdout | (offers != None)  # noqa: E711 - elementwise comparison on object array
    bad_offers = sorted({str(o) for o in offers[contacted & ~holdout]} - set(valid_offers))
    if bad_offers:
        raise ValueError(f"unknown offer(s) {bad_offers}; valid offers: {', '.join(valid_offers)}")

    cust = plan["customer_id"].astype(object).to_numpy()[contacted]
    offers, holdout = offers[contacted], holdout[contacted]
    pos = pd.Index(ct["customer_id"]).get_indexer(cust)
    if (pos < 0).any():
        raise ValueError(f"{int((pos < 0).sum())} plan customer(s) are not in the truth")
    p0 = ct["baseline_conversion"].to_numpy()[pos]
    eov = ct["expected_order_value"].to_numpy()[pos]
    uplift = np.zeros(len(cust))
    value_factor = np.ones(len(cust))
    for offer in valid_offers:
        m = (offers == offer) & ~holdout
        if not m.any():
            continue
        eff = effects[effects["offer"] == offer]
        epos = pd.Index(eff["customer_id"]).get_indexer(cust[m])
        uplift[m] = eff["true_uplift"].to_numpy()[epos]
        value_factor[m] = OFFER_VALUE_FACTOR.get(str(offer), 1.0)
    p = np.clip(p0 + uplift, 0.0, 1.0)
    converted = (rng.random(len(cust)) < p).astype(np.int64)
    noise = rng.lognormal(-0.5 * _REVENUE_SD**2, _REVENUE_SD, size=len(cust))
    revenue = np.round(converted * eov * value_factor * noise, 2)
    out = pd.DataFrame(
        {
            "campaign_id": campaign_id,
            "customer_id": cust,
            "treatment": np.where(holdout, CONTROL, offers).astype(object),
            "sent_ts": pd.Timestamp(sent_ts),
            "converted": converted,
            "revenue": revenue,
        }
    )
    return out


def simulate_outcomes(
    plan: pd.DataFrame,
    truth: dict[str, pd.DataFrame],
    seed: int,
    sent_ts: pd.Timestamp | None = None,
    campaign_id: str = "wave-2",
) -> pd.DataFrame:
    """Canonical ``campaigns`` rows simulating the execution of a campaign plan from the truth.

    Treated customers get ``treatment = offer``; holdout customers appear as ``"control"``;
    customers with group ``treatment`` and no offer are not contacted and do not appear.
    ``converted ~ Bernoulli(baseline + true uplift of the offer)`` and revenue is the customer's
    expected order value (less the discount) with lognormal noise when converted, else 0.

    Args:
        plan: columns customer_id, offer (str or None), group ∈ {treatment, holdout}.
        truth: the generator's truth (``customers_truth`` and ``effects``).
        seed: seed of the outcome draws.
        sent_ts: send time; defaults to the end of the generated period.
        campaign_id: id written on every row.

    Raises:
        ValueError: unknown group or offer, customers missing from the truth, or no send time.
    """
    if sent_ts is None:
        sent_ts = truth["customers_truth"].attrs.get("period_end")
        if sent_ts is None:
            raise ValueError("sent_ts is required when the truth carries no period_end")
    out = realised_outcomes(plan, truth, np.random.default_rng(seed), pd.Timestamp(sent_ts), campaign_id)
    return coerce_table("campaigns", out)
