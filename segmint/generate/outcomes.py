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

from dataclasses import dataclass

import numpy as np
import pandas as pd

from segmint.contracts import CONTROL, coerce_table
from segmint.settings import TrapSettings

OFFERS: tuple[str, ...] = ("discount_10", "free_shipping")
# Share of the order value the shop keeps when the offer is redeemed.
OFFER_VALUE_FACTOR: dict[str, float] = {"discount_10": 0.9, "free_shipping": 1.0}
PLAN_GROUPS: tuple[str, ...] = ("treatment", "holdout")
_REVENUE_SD = 0.5
# customers_truth leads with these; the latent parameters follow in their own order.
_TRUTH_FIRST_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "archetype",
    "is_anomalous",
    "anomaly_type",
    "baseline_conversion",
    "expected_order_value",
)


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
    baseline = _baseline_conversion(latent, window_days)
    uplift = _planted_uplift(latent, rng)
    truth = latent.assign(baseline_conversion=baseline)
    first = list(_TRUTH_FIRST_COLUMNS)
    truth = truth[first + [col for col in truth.columns if col not in first]]
    return truth, _effects(latent, baseline, uplift)


def _baseline_conversion(latent: pd.DataFrame, window_days: int) -> np.ndarray:
    """P(purchase within the window) without contact, from the customer's own purchase rate."""
    # Lapsed (or not yet signed-up) customers keep a trickle of natural purchases.
    activity = np.where(latent["active_at_send"].to_numpy(), 1.0, 0.05)
    rate = latent["sessions_per_year"].to_numpy() * latent["purchase_session_share"].to_numpy() * activity
    return np.clip(1.0 - np.exp(-rate * window_days / 365.0), 0.005, 0.85)


def _planted_uplift(latent: pd.DataFrame, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Uplift per offer before clipping: the archetype's rule plus per-customer noise."""
    archetype = latent["archetype"].to_numpy()
    p_discount = latent["p_discount"].to_numpy()
    p_cart = latent["p_cart"].to_numpy()
    tenure = np.clip(latent["tenure_days_at_send"].to_numpy(), 0.0, None)
    since_active = latent["days_since_active_at_send"].to_numpy()
    quantity = latent["quantity_mean"].to_numpy()

    discount = np.zeros(len(latent))
    shipping = np.zeros(len(latent))
    rows = archetype == "bargain_hunter"
    discount[rows] = 0.05 + 0.45 * np.clip(p_discount[rows] - 0.6, 0.0, None)
    shipping[rows] = 0.03
    rows = archetype == "lapsing"
    discount[rows] = 0.35 * np.exp(-np.clip(since_active[rows] - 100.0, 0.0, None) / 100.0)
    shipping[rows] = discount[rows] / 3.0
    rows = archetype == "window_shopper"
    shipping[rows] = 0.03 + 1.6 * np.clip(p_cart[rows], 0.0, 0.1)
    discount[rows] = 0.02
    rows = archetype == "new"
    discount[rows] = -0.13 + 0.0015 * np.minimum(tenure[rows], 60.0)
    shipping[rows] = -0.10 + 0.001 * np.minimum(tenure[rows], 60.0)
    rows = archetype == "bulk_reseller"
    discount[rows] = -0.05 - 0.003 * np.clip(quantity[rows] - 1.0, 0.0, 25.0)
    shipping[rows] = discount[rows]
    rows = archetype == "casual"
    discount[rows] = 0.01
    shipping[rows] = 0.01
    discount = discount + rng.normal(0.0, 0.01, size=len(latent))
    shipping = shipping + rng.normal(0.0, 0.01, size=len(latent))
    return {"discount_10": discount, "free_shipping": shipping}


def _effects(latent: pd.DataFrame, baseline: np.ndarray, uplift: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per customer × offer: true uplift and incremental revenue, both after clipping."""
    order_value = latent["expected_order_value"].to_numpy()
    frames = []
    for offer, raw in uplift.items():
        treated = np.clip(baseline + raw, 0.0, 1.0)
        frames.append(
            pd.DataFrame(
                {
                    "customer_id": latent["customer_id"].to_numpy(),
                    "offer": offer,
                    "true_uplift": treated - baseline,
                    "true_incremental_revenue": treated * order_value * OFFER_VALUE_FACTOR[offer]
                    - baseline * order_value,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def trapped_truth(truth: dict[str, pd.DataFrame], trap: TrapSettings | None) -> dict[str, pd.DataFrame]:
    """The truth of new waves when a trap is planted: ``effects`` of the trap's archetype × offer
    moved to the trap's uplift (clipped to a valid treated rate), every other row and table as given.

    The generated history (the waves' outcomes and ``wave_effects``) keeps the archetype's usual
    effect, so a model trained on it rates the pair as before while new waves realise the trap.
    """
    if trap is None:
        return truth
    customers_truth = truth["customers_truth"]
    effects = truth["effects"]
    by_customer = customers_truth.set_index("customer_id")
    archetype = effects["customer_id"].map(by_customer["archetype"]).to_numpy()
    rows = (archetype == trap.archetype) & (effects["offer"] == trap.offer).to_numpy()
    baseline = effects["customer_id"].map(by_customer["baseline_conversion"]).to_numpy()[rows]
    order_value = effects["customer_id"].map(by_customer["expected_order_value"]).to_numpy()[rows]
    treated = np.clip(baseline + trap.uplift, 0.0, 1.0)
    uplift = effects["true_uplift"].to_numpy(dtype=np.float64).copy()
    revenue = effects["true_incremental_revenue"].to_numpy(dtype=np.float64).copy()
    uplift[rows] = treated - baseline
    factor = OFFER_VALUE_FACTOR[trap.offer]
    revenue[rows] = treated * order_value * factor - baseline * order_value
    trapped = effects.assign(true_uplift=uplift, true_incremental_revenue=revenue)
    trapped.attrs = {**effects.attrs, "trap": trap.model_dump()}
    return {**truth, "effects": trapped}


@dataclass(frozen=True)
class _Contacts:
    """The contacted rows of a plan: treated customers with an offer, and the holdout."""

    customer_id: np.ndarray
    offer: np.ndarray  # None for the holdout
    holdout: np.ndarray


def _plan_groups(plan: pd.DataFrame) -> np.ndarray:
    """The plan's group column, after checking the plan's columns and groups."""
    missing = [col for col in ("customer_id", "offer", "group") if col not in plan.columns]
    if missing:
        raise ValueError(f"plan lacks column(s) {missing}; needs customer_id, offer, group")
    groups = plan["group"].astype(object).to_numpy()
    bad = sorted({str(group) for group in groups} - set(PLAN_GROUPS))
    if bad:
        raise ValueError(f"unknown plan group(s) {bad}; valid groups: {', '.join(PLAN_GROUPS)}")
    return groups


def _contacts(plan: pd.DataFrame, groups: np.ndarray, valid_offers: tuple[str, ...]) -> _Contacts:
    """The plan's contacted rows; treatment rows without an offer are not contacted."""
    offers = plan["offer"].astype(object).to_numpy()
    offers = np.where(pd.isna(offers), None, offers)
    holdout = groups == "holdout"
    contacted = holdout | (offers != None)  # noqa: E711 - elementwise comparison on object array
    bad_offers = sorted({str(offer) for offer in offers[contacted & ~holdout]} - set(valid_offers))
    if bad_offers:
        raise ValueError(f"unknown offer(s) {bad_offers}; valid offers: {', '.join(valid_offers)}")
    return _Contacts(
        customer_id=plan["customer_id"].astype(object).to_numpy()[contacted],
        offer=offers[contacted],
        holdout=holdout[contacted],
    )


def _contact_effects(
    contacts: _Contacts, effects: pd.DataFrame, valid_offers: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """True uplift and kept share of the order value per contact (0 and 1 for the holdout)."""
    uplift = np.zeros(len(contacts.customer_id))
    value_factor = np.ones(len(contacts.customer_id))
    for offer in valid_offers:
        rows = (contacts.offer == offer) & ~contacts.holdout
        if not rows.any():
            continue
        offer_effects = effects[effects["offer"] == offer]
        positions = pd.Index(offer_effects["customer_id"]).get_indexer(contacts.customer_id[rows])
        uplift[rows] = offer_effects["true_uplift"].to_numpy()[positions]
        value_factor[rows] = OFFER_VALUE_FACTOR.get(str(offer), 1.0)
    return uplift, value_factor


def realised_outcomes(
    plan: pd.DataFrame,
    truth: dict[str, pd.DataFrame],
    rng: np.random.Generator,
    sent_ts: pd.Timestamp,
    campaign_id: str,
) -> pd.DataFrame:
    """Campaign rows drawn from the truth for ``plan``, not yet coerced (see :func:`simulate_outcomes`).

    Args:
        plan: columns customer_id, offer (str or None), group ∈ {treatment, holdout}.
        truth: the generator's truth (``customers_truth`` and ``effects``).
        rng: random generator of the conversion and revenue draws.
        sent_ts: send time written on every row.
        campaign_id: id written on every row.

    Returns:
        One row per contacted customer: campaign_id, customer_id, treatment, sent_ts, converted,
        revenue.

    Raises:
        ValueError: missing plan columns, unknown group or offer, or customers missing from the truth.
    """
    groups = _plan_groups(plan)
    customers_truth = truth["customers_truth"]
    effects = truth["effects"]
    valid_offers = tuple(pd.unique(effects["offer"]))
    contacts = _contacts(plan, groups, valid_offers)
    positions = pd.Index(customers_truth["customer_id"]).get_indexer(contacts.customer_id)
    if (positions < 0).any():
        raise ValueError(f"{int((positions < 0).sum())} plan customer(s) are not in the truth")
    baseline = customers_truth["baseline_conversion"].to_numpy()[positions]
    order_value = customers_truth["expected_order_value"].to_numpy()[positions]
    uplift, value_factor = _contact_effects(contacts, effects, valid_offers)
    converted = (rng.random(len(contacts.customer_id)) < np.clip(baseline + uplift, 0.0, 1.0)).astype(
        np.int64
    )
    noise = rng.lognormal(-0.5 * _REVENUE_SD**2, _REVENUE_SD, size=len(contacts.customer_id))
    return pd.DataFrame(
        {
            "campaign_id": campaign_id,
            "customer_id": contacts.customer_id,
            "treatment": np.where(contacts.holdout, CONTROL, contacts.offer).astype(object),
            "sent_ts": pd.Timestamp(sent_ts),
            "converted": converted,
            "revenue": np.round(converted * order_value * value_factor * noise, 2),
        }
    )


def simulate_outcomes(
    plan: pd.DataFrame,
    truth: dict[str, pd.DataFrame],
    seed: int,
    sent_ts: pd.Timestamp | None = None,
    campaign_id: str | None = None,
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
        campaign_id: id written on every row; defaults to the wave after the generated ones
            (``wave-2`` after a shop of one wave; the truth's ``waves`` attribute says how many).

    Raises:
        ValueError: unknown group or offer, customers missing from the truth, or no send time.
    """
    if sent_ts is None:
        sent_ts = truth["customers_truth"].attrs.get("period_end")
        if sent_ts is None:
            raise ValueError("sent_ts is required when the truth carries no period_end")
    if campaign_id is None:
        campaign_id = f"wave-{int(truth['customers_truth'].attrs.get('waves', 1)) + 1}"
    out = realised_outcomes(plan, truth, np.random.default_rng(seed), pd.Timestamp(sent_ts), campaign_id)
    return coerce_table("campaigns", out)
