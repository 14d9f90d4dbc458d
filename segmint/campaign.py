"""Budget-constrained campaign planning on predicted uplift, and measurement against the hold-out.

Semantics of a plan row (one per customer passed in):

* ``group == "treatment"`` and an offer: send that offer;
* ``group == "holdout"`` and an offer: the customer would have been sent that offer but is kept
  back at random for measurement — do not send;
* offer ``None`` (group ``"treatment"``): not selected, nothing is sent.

Hold-out customers are drawn among the would-be-treated within each segment and offer, so the
treated and hold-out groups are comparable; the budget they would have used is not re-spent.

A plan is of one of :data:`PLAN_KINDS`: ``uplift`` (:func:`plan_campaign`, offers chosen by a trusted
uplift model) or ``exploration`` (:func:`exploration_plan`, offers at random with a larger hold-out,
for when no uplift model can be trusted, so that the wave yields the randomized data one needs).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from segmint.contracts import CONTROL
from segmint.settings import CampaignSettings

GROUPS: tuple[str, ...] = ("treatment", "holdout")
STRATEGIES: tuple[str, ...] = ("uplift", "response", "random")
PLAN_KINDS: tuple[str, ...] = ("uplift", "exploration")
CONTACT_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "offer",
    "uplift",
    "cost",
    "value",
    "expected_incremental_profit",
)
_Z95 = 1.959963984540054


@dataclass(frozen=True)
class CampaignPlan:
    """A plan with its summary.

    Attributes:
        plan: ``[customer_id, offer, group, expected_incremental_profit]``, one row per customer.
        summary: per offer (and ``"total"``): sent, holdout, spend, expected incremental
            conversions and profit of the sends.
        exclusions: customers excluded by each rule (a customer may break several).
        kind: one of :data:`PLAN_KINDS`.
    """

    plan: pd.DataFrame
    summary: pd.DataFrame
    exclusions: dict[str, int]
    kind: str = "uplift"


def _offer_names(uplift_scores: pd.DataFrame) -> list[str]:
    # The scored offers; campaign.offers may also describe offers this data has none of (they are unused).
    return sorted(uplift_scores["offer"].astype(str).unique())


def eligible_customers(
    customers: pd.DataFrame, settings: CampaignSettings, as_of: pd.Timestamp | None = None
) -> tuple[pd.Series, dict[str, int]]:
    """Which customers may be contacted, and how many each exclusion rule removed.

    Args:
        customers: ``customer_id`` plus optional ``is_anomalous``, ``opted_out``, ``last_contact_ts``.
        settings: campaign section (``min_days_between_contacts``).
        as_of: the planning time; required when any ``last_contact_ts`` is set.

    Returns:
        Boolean Series aligned with ``customers`` and the exclusion counts.
    """
    n = len(customers)
    anomalous = (
        customers.get("is_anomalous", pd.Series(False, index=customers.index)).fillna(False).astype(bool)
    )
    opted_out = customers.get("opted_out", pd.Series(False, index=customers.index)).fillna(False).astype(bool)
    recent = pd.Series(False, index=customers.index)
    if "last_contact_ts" in customers.columns and customers["last_contact_ts"].notna().any():
        if as_of is None:
            raise ValueError("plan_campaign needs as_of when customers carry last_contact_ts")
        last = pd.to_datetime(customers["last_contact_ts"], utc=True)
        now = pd.Timestamp(as_of)
        now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
        days = (now - last).dt.total_seconds() / 86_400.0
        recent = (days < settings.min_days_between_contacts).fillna(False)
    exclusions = {
        "anomalous": int(anomalous.sum()),
        "opted_out": int(opted_out.sum()),
        "recently_contacted": int(recent.sum()),
    }
    ok = ~(anomalous | opted_out | recent)
    exclusions["eligible"] = int(ok.sum())
    exclusions["customers"] = n
    return ok, exclusions


def select_contacts(
    candidates: pd.DataFrame,
    budget: float = float("inf"),
    caps: dict[str, int | None] | None = None,
) -> pd.DataFrame:
    """At most one offer per customer, best ``priority`` first, under a budget and per-offer caps.

    Greedy on (customer, offer) pairs ordered by ``priority``: the standard heuristic for this
    multiple-choice knapsack, exact when the budget or caps do not bind.

    Args:
        candidates: ``[customer_id, offer, priority, cost]`` (other columns are carried along).
        budget: maximum sum of ``cost`` over the chosen pairs.
        caps: maximum pairs per offer (``None`` or a missing offer: unlimited).

    Returns:
        The chosen rows of ``candidates`` in the order they were chosen.
    """
    if candidates.empty:
        return candidates.iloc[0:0].copy()
    caps = caps or {}
    # ties in priority go to the smaller customer id: codes of the sorted ids order as the ids do
    customer_codes, _ = pd.factorize(candidates["customer_id"].astype(str), sort=True)
    offer_codes, offer_names = pd.factorize(candidates["offer"].astype(str))
    order = np.lexsort((customer_codes, -candidates["priority"].to_numpy()))
    ranked = candidates.iloc[order]
    customer_codes, offer_codes = customer_codes[order], offer_codes[order]
    # Python lists and a bytearray: the greedy pass is sequential, and scalar reads of numpy arrays
    # cost several times more than list reads.
    customers, offers = customer_codes.tolist(), offer_codes.tolist()
    cost = ranked["cost"].to_numpy(dtype=np.float64).tolist()
    left = [_cap(caps.get(offer)) for offer in offer_names]
    taken = bytearray(int(customer_codes.max()) + 1)
    chosen = np.zeros(len(ranked), dtype=bool)
    remaining = float(budget)
    cheapest = min(cost)  # once the budget is below every cost, no later pair fits
    for i, (customer, offer) in enumerate(zip(customers, offers, strict=True)):
        if taken[customer] or left[offer] <= 0 or cost[i] > remaining:
            continue
        taken[customer] = 1
        chosen[i] = True
        left[offer] -= 1
        remaining -= cost[i]
        if remaining < cheapest or (remaining <= 0 and not any(limit > 0 for limit in left)):
            break
    return ranked[chosen]


def _cap(limit: int | None) -> float:
    return np.inf if limit is None else float(limit)


def _offer_setting(
    pairs: pd.DataFrame, settings: CampaignSettings, offers: list[str], name: str
) -> pd.Series:
    # The offer's configured value of ``name`` on each pair (NaN where it is None).
    return (
        pairs["offer"]
        .map({offer: getattr(settings.offer(offer), name) for offer in offers})
        .astype(np.float64)
    )


def _pairs(
    uplift_scores: pd.DataFrame, customers: pd.DataFrame, settings: CampaignSettings, eligible: pd.Series
) -> pd.DataFrame:
    offers = _offer_names(uplift_scores)
    info = customers.loc[eligible.to_numpy(), ["customer_id"]].assign(
        customer_id=lambda d: d["customer_id"].astype(str),
        expected_value=customers.loc[eligible.to_numpy(), "expected_value"].to_numpy(dtype=np.float64)
        if "expected_value" in customers.columns
        else np.nan,
    )
    scores = uplift_scores.assign(
        customer_id=uplift_scores["customer_id"].astype(str), offer=uplift_scores["offer"].astype(str)
    )
    pairs = scores.merge(info, on="customer_id", how="inner")
    value = _offer_setting(pairs, settings, offers, "value").fillna(pairs["expected_value"])
    if value.isna().any():
        missing = sorted(pairs.loc[value.isna(), "offer"].unique())
        raise ValueError(
            f"offer(s) {missing} have no fixed value and customers lack expected_value; "
            "set campaign.offers.<name>.value or pass expected_value"
        )
    cost = _offer_setting(pairs, settings, offers, "cost")
    share = _offer_setting(pairs, settings, offers, "redemption_share")
    response = (
        pairs["response_probability"] if "response_probability" in pairs else pairs["uplift"].clip(lower=0)
    )
    profit = (
        pairs["uplift"].to_numpy(dtype=np.float64) * value.to_numpy()
        - share.to_numpy() * response.to_numpy(dtype=np.float64) * value.to_numpy()
        - cost.to_numpy()
    )
    return pairs.assign(value=value.to_numpy(), cost=cost.to_numpy(), expected_incremental_profit=profit)


def _measured_rates(segments: pd.DataFrame, campaigns: pd.DataFrame, min_rows: int) -> pd.DataFrame:
    # Per segment × offer of past randomized rows: treated conversion rate and uplift over control.
    rows = campaigns[["customer_id", "treatment", "converted"]].assign(
        customer_id=campaigns["customer_id"].astype(str), treatment=campaigns["treatment"].astype(str)
    )
    rows = rows.merge(segments, on="customer_id", how="inner").dropna(subset=["segment_id"])
    arms = rows.groupby(["segment_id", "treatment"])["converted"].agg(["mean", "size"]).reset_index()
    arms = arms[arms["size"] >= min_rows]
    control = arms[arms["treatment"] == CONTROL][["segment_id", "mean"]].rename(columns={"mean": "control"})
    treated = arms[arms["treatment"] != CONTROL].rename(columns={"treatment": "offer", "mean": "treated"})
    measured = treated.merge(control, on="segment_id", how="inner")
    return measured.assign(measured_uplift=measured["treated"] - measured["control"])[
        ["segment_id", "offer", "treated", "measured_uplift"]
    ]


def segment_calibrated_scores(
    uplift_scores: pd.DataFrame, segments: pd.DataFrame, campaigns: pd.DataFrame | None, min_rows: int = 30
) -> pd.DataFrame:
    """The model's scores moved so that, within each segment and offer, their means match what the past
    randomized campaigns measured there.

    A customer's uplift is shifted by (measured uplift − the model's mean uplift over the segment's
    customers), and the response probability likewise towards the measured treated conversion rate
    (clipped to [0, 1]): the model still ranks customers within a segment, while the level of each
    segment comes from randomized outcomes. Segments × offers with fewer than ``min_rows`` rows in
    either arm, and customers without a segment, keep the model's scores.

    Args:
        uplift_scores: ``[customer_id, offer, uplift, response_probability]``.
        segments: ``[customer_id, segment_id]`` of the scored customers (segment may be missing).
        campaigns: past campaign rows (``customer_id``, ``treatment``, ``converted``), or None.
        min_rows: the fewest rows per arm a segment's measurement needs.

    Returns:
        ``uplift_scores`` with moved ``uplift`` and ``response_probability``, same rows and order.
    """
    if campaigns is None or campaigns.empty or segments["segment_id"].isna().all():
        return uplift_scores
    seg = segments.assign(customer_id=segments["customer_id"].astype(str))[["customer_id", "segment_id"]]
    measured = _measured_rates(seg, campaigns, min_rows)
    scored = uplift_scores.assign(
        customer_id=uplift_scores["customer_id"].astype(str), offer=uplift_scores["offer"].astype(str)
    )
    joined = scored.merge(seg, on="customer_id", how="left").merge(
        measured, on=["segment_id", "offer"], how="left"
    )
    cells = joined.groupby(["segment_id", "offer"], dropna=False)
    shift = (joined["measured_uplift"] - cells["uplift"].transform("mean")).fillna(0.0)
    response_shift = (joined["treated"] - cells["response_probability"].transform("mean")).fillna(0.0)
    return uplift_scores.assign(
        uplift=(joined["uplift"] + shift).to_numpy(),
        response_probability=(joined["response_probability"] + response_shift).clip(0.0, 1.0).to_numpy(),
    )


def _caps(settings: CampaignSettings, offers: Iterable[str]) -> dict[str, int | None]:
    return {offer: settings.offer(offer).max_contacts for offer in offers}


def _prioritised(strategy: str, pairs: pd.DataFrame, settings: CampaignSettings) -> pd.DataFrame:
    # The pairs a strategy may pick, each with the ``priority`` select_contacts ranks by.
    if strategy == "uplift":
        positive = pairs[pairs["expected_incremental_profit"] > 0]
        cost = positive["cost"].to_numpy()
        profit = positive["expected_incremental_profit"].to_numpy()
        # Profit per unit of budget; free offers rank above all paid ones, by profit.
        ratio = np.where(cost > 0, profit / np.where(cost > 0, cost, 1.0), np.inf)
        return positive.assign(priority=np.where(np.isinf(ratio), 1e12 + profit, ratio))
    if strategy == "response":
        best = pairs.sort_values(["customer_id", "response_probability"], ascending=[True, False])
        return best.drop_duplicates("customer_id").assign(priority=lambda d: d["response_probability"])
    rng = np.random.default_rng(settings.seed + 1)
    return pairs.assign(priority=rng.random(len(pairs)))


def _chosen_contacts(strategy: str, pairs: pd.DataFrame, settings: CampaignSettings) -> pd.DataFrame:
    caps = _caps(settings, pairs["offer"].unique())
    chosen = select_contacts(_prioritised(strategy, pairs, settings), settings.budget, caps)
    return chosen[list(CONTACT_COLUMNS)].reset_index(drop=True)


def strategy_contacts(
    strategy: str,
    uplift_scores: pd.DataFrame,
    customers: pd.DataFrame,
    settings: CampaignSettings,
    as_of: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """The contacts one targeting strategy picks under the campaign's budget, caps and exclusions.

    Args:
        strategy: ``"uplift"`` (highest expected incremental profit per unit cost, positive only),
            ``"response"`` (highest response probability, each customer's likeliest offer), or
            ``"random"`` (seeded random customers and offers).
        uplift_scores: ``[customer_id, offer, uplift, response_probability]``.
        customers: see :func:`plan_campaign`.
        settings: campaign section.
        as_of: planning time for the contact-spacing rule.

    Returns:
        ``[customer_id, offer, uplift, cost, value, expected_incremental_profit]`` of the contacts.

    Raises:
        ValueError: unknown strategy.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; valid strategies: {', '.join(STRATEGIES)}")
    eligible, _ = eligible_customers(customers, settings, as_of)
    return _chosen_contacts(strategy, _pairs(uplift_scores, customers, settings, eligible), settings)


def _holdout_mask(contacts: pd.DataFrame, share: float, seed: int) -> np.ndarray:
    if share <= 0 or contacts.empty:
        return np.zeros(len(contacts), dtype=bool)
    rng = np.random.default_rng(seed)
    keyed = contacts[["segment_id", "offer"]].assign(_u=rng.random(len(contacts)))
    rank = keyed.groupby(["segment_id", "offer"], dropna=False)["_u"].rank(method="first") - 1
    size = keyed.groupby(["segment_id", "offer"], dropna=False)["_u"].transform("size")
    return (rank < np.round(share * size)).to_numpy()


def _with_segment(contacts: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    # Without segment ids every customer is in segment "all".
    segment = (
        customers["segment_id"]
        if "segment_id" in customers.columns
        else pd.Series("all", index=customers.index)
    )
    return contacts.merge(
        pd.DataFrame(
            {"customer_id": customers["customer_id"].astype(str).to_numpy(), "segment_id": segment.to_numpy()}
        ),
        on="customer_id",
        how="left",
    )


def _grouped(contacts: pd.DataFrame, holdout: np.ndarray) -> pd.DataFrame:
    # Hold-out customers are planned but not sent: they earn no profit and spend no budget.
    return contacts.assign(
        group=np.where(holdout, "holdout", "treatment"),
        expected_incremental_profit=np.where(holdout, 0.0, contacts["expected_incremental_profit"]),
    )


def _plan_rows(customers: pd.DataFrame, contacts: pd.DataFrame) -> pd.DataFrame:
    # One row per customer: not selected means offer None in the treatment group.
    return (
        pd.DataFrame({"customer_id": customers["customer_id"].astype(str).to_numpy()})
        .merge(
            contacts[["customer_id", "offer", "group", "expected_incremental_profit"]],
            on="customer_id",
            how="left",
        )
        .assign(
            offer=lambda d: d["offer"].astype(object).where(d["offer"].notna(), None),
            group=lambda d: d["group"].fillna("treatment"),
            expected_incremental_profit=lambda d: d["expected_incremental_profit"].fillna(0.0),
        )
    )


def _plan_summary(contacts: pd.DataFrame, holdout: np.ndarray) -> pd.DataFrame:
    sent = contacts[~holdout]
    per_offer = (
        contacts.assign(sent=~holdout, held=holdout, conv=np.where(holdout, 0.0, contacts["uplift"]))
        .assign(spend=lambda d: d["cost"] * d["sent"])
        .groupby("offer")
        .agg(
            sent=("sent", "sum"),
            holdout=("held", "sum"),
            spend=("spend", "sum"),
            expected_incremental_conversions=("conv", "sum"),
            expected_incremental_profit=("expected_incremental_profit", "sum"),
        )
        .reset_index()
    )
    total = {
        "offer": "total",
        "sent": int(len(sent)),
        "holdout": int(holdout.sum()),
        "spend": float(sent["cost"].sum()),
        "expected_incremental_conversions": float(sent["uplift"].sum()),
        "expected_incremental_profit": float(sent["expected_incremental_profit"].sum()),
    }
    return pd.concat([per_offer, pd.DataFrame([total])], ignore_index=True)


def plan_campaign(
    uplift_scores: pd.DataFrame,
    customers: pd.DataFrame,
    settings: CampaignSettings,
    as_of: pd.Timestamp | None = None,
) -> CampaignPlan:
    """At most one offer per customer, maximising expected incremental profit under the budget.

    Expected incremental profit of a pair = uplift × value − redemption_share × response_probability
    × value − cost, where value is the offer's configured ``value`` or else the customer's
    ``expected_value`` (the second term is a discount paid on every redeemed order). Anomalous, opted-out and
    recently contacted customers are excluded; only positive expected profit is sent. A seeded
    random ``holdout_share`` of the selected customers in each segment and offer is held back.

    Args:
        uplift_scores: ``[customer_id, offer, uplift, response_probability]`` (``UpliftModel.predict``).
        customers: ``customer_id`` plus ``segment_id``, ``is_anomalous``, ``opted_out``,
            ``last_contact_ts`` (NaT if never) and ``expected_value``; missing flags mean False.
        settings: campaign section (budget, offers, hold-out share, contact spacing, seed).
        as_of: planning time, needed when ``last_contact_ts`` is set.

    Returns:
        :class:`CampaignPlan`.
    """
    eligible, exclusions = eligible_customers(customers, settings, as_of)
    pairs = _pairs(uplift_scores, customers, settings, eligible)
    contacts = _with_segment(_chosen_contacts("uplift", pairs, settings), customers)
    holdout = _holdout_mask(contacts, settings.holdout_share, settings.seed)
    contacts = _grouped(contacts, holdout)
    return CampaignPlan(
        plan=_plan_rows(customers, contacts), summary=_plan_summary(contacts, holdout), exclusions=exclusions
    )


def _random_contacts(
    customers: pd.DataFrame, eligible: pd.Series, offers: list[str], settings: CampaignSettings
) -> pd.DataFrame:
    """Eligible customers with a random offer each, in a seeded random order, under budget and caps."""
    ids = customers.loc[eligible.to_numpy(), "customer_id"].astype(str).to_numpy()
    pairs = pd.DataFrame({"customer_id": np.repeat(ids, len(offers)), "offer": np.tile(offers, len(ids))})
    rng = np.random.default_rng(settings.seed + 2)
    # No model is behind these pairs: no uplift is predicted and no profit is claimed.
    pairs = pairs.assign(
        uplift=np.nan,
        cost=_offer_setting(pairs, settings, offers, "cost").to_numpy(),
        value=np.nan,
        expected_incremental_profit=0.0,
        priority=rng.random(len(pairs)),
    )
    chosen = select_contacts(pairs, settings.budget, _caps(settings, offers))
    return chosen[list(CONTACT_COLUMNS)].reset_index(drop=True)


def exploration_plan(
    customers: pd.DataFrame,
    offers: Sequence[str],
    settings: CampaignSettings,
    as_of: pd.Timestamp | None = None,
) -> CampaignPlan:
    """Offers assigned at random within the budget, with a larger hold-out: a plan to learn from.

    For when no uplift model can be trusted. The exclusions are those of :func:`plan_campaign`.
    Every (eligible customer, offer) pair gets a seeded random priority and
    :func:`select_contacts` takes them in that order under the budget and the per-offer caps, so
    customers are chosen in random order and each gets a uniformly random offer among those its
    remaining budget and caps allow. A seeded ``exploration_holdout_share`` of the chosen customers
    in each segment and offer is held back (their budget is not re-spent). No incremental effect is
    claimed: plan rows carry an expected incremental profit of 0 and the summary's expected
    conversions and profit are NaN.

    Args:
        customers: as for :func:`plan_campaign` (``expected_value`` is not used).
        offers: the offers to explore (e.g. the treatments of past campaigns).
        settings: campaign section (budget, offer costs and caps, ``exploration_holdout_share``, seed).
        as_of: planning time, needed when ``last_contact_ts`` is set.

    Returns:
        :class:`CampaignPlan` of kind ``exploration``.

    Raises:
        ValueError: no offers to explore.
    """
    names = sorted({str(offer) for offer in offers})
    if not names:
        raise ValueError("an exploration plan needs at least one offer; set campaign.offers")
    eligible, exclusions = eligible_customers(customers, settings, as_of)
    contacts = _with_segment(_random_contacts(customers, eligible, names, settings), customers)
    holdout = _holdout_mask(contacts, settings.exploration_holdout_share, settings.seed)
    contacts = _grouped(contacts, holdout)
    summary = _plan_summary(contacts, holdout).assign(
        expected_incremental_conversions=np.nan, expected_incremental_profit=np.nan
    )
    plan = _plan_rows(customers, contacts)
    return CampaignPlan(plan=plan, summary=summary, exclusions=exclusions, kind="exploration")


def _valued_uplift(contacts: pd.DataFrame, valuation: pd.DataFrame | None) -> np.ndarray:
    # The uplift each contact is valued at: the predicted one, or the valuation's (0 where it has none).
    if valuation is None:
        return contacts["uplift"].to_numpy(dtype=np.float64)
    truth = valuation.assign(
        customer_id=valuation["customer_id"].astype(str), offer=valuation["offer"].astype(str)
    )
    return (
        contacts[["customer_id", "offer"]]
        .merge(truth[["customer_id", "offer", "uplift"]], on=["customer_id", "offer"], how="left")["uplift"]
        .fillna(0.0)
        .to_numpy()
    )


def compare_strategies(
    uplift_scores: pd.DataFrame,
    customers: pd.DataFrame,
    settings: CampaignSettings,
    *,
    as_of: pd.Timestamp | None = None,
    valuation: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The same budget spent by uplift, highest-response and random targeting, side by side.

    Args:
        uplift_scores, customers, settings, as_of: as for :func:`plan_campaign`.
        valuation: optional ``[customer_id, offer, uplift]`` to value the contacts with (e.g. known
            true effects); by default the predicted uplift values them.

    Returns:
        ``[strategy, contacts, spend, incremental_conversions, incremental_profit]``.
    """
    eligible, _ = eligible_customers(customers, settings, as_of)
    pairs = _pairs(uplift_scores, customers, settings, eligible)
    rows = []
    for strategy in STRATEGIES:
        contacts = _chosen_contacts(strategy, pairs, settings)
        uplift = _valued_uplift(contacts, valuation)
        profit = uplift * contacts["value"].to_numpy() - contacts["cost"].to_numpy()
        rows.append(
            {
                "strategy": strategy,
                "contacts": int(len(contacts)),
                "spend": float(contacts["cost"].sum()),
                "incremental_conversions": float(uplift.sum()),
                "incremental_profit": float(profit.sum()),
            }
        )
    return pd.DataFrame(rows)


def _planned_outcomes(plan: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    # Planned customers with their outcome; one without an outcome row did not convert.
    planned = plan.loc[plan["offer"].notna(), ["customer_id", "offer", "group"]].assign(
        customer_id=lambda d: d["customer_id"].astype(str)
    )
    result = (
        outcomes.assign(customer_id=outcomes["customer_id"].astype(str))
        .groupby("customer_id")[["converted", "revenue"]]
        .max()
        .reset_index()
    )
    return planned.merge(result, on="customer_id", how="left").fillna({"converted": 0, "revenue": 0.0})


def _by_segment(rows: pd.DataFrame, segments: pd.DataFrame | None) -> pd.DataFrame:
    # Each row in its segment and, when there are segments, once more in segment "all".
    if segments is None:
        both = [rows.assign(segment_id="all")]
    else:
        seg = segments.assign(customer_id=segments["customer_id"].astype(str))[["customer_id", "segment_id"]]
        segmented = rows.merge(seg, on="customer_id", how="left")
        both = [segmented, segmented.assign(segment_id="all")]
    return pd.concat(both, ignore_index=True).assign(
        treated=lambda d: d["group"] == "treatment",
        converted=lambda d: d["converted"].astype(np.float64),
        revenue_sq=lambda d: d["revenue"] ** 2,
    )


def _arm_means(stacked: pd.DataFrame) -> pd.DataFrame:
    # Per segment and offer: size, conversion rate, mean revenue and mean squared revenue of each arm.
    stats = (
        stacked.groupby(["segment_id", "offer", "treated"])
        .agg(
            n=("converted", "size"),
            conv=("converted", "mean"),
            rev=("revenue", "mean"),
            rev_sq=("revenue_sq", "mean"),
        )
        .unstack("treated")
    )
    means = pd.DataFrame(index=stats.index)
    for arm, flag in (("treated", True), ("holdout", False)):
        for name in ("n", "conv", "rev", "rev_sq"):
            means[f"{name}_{arm}"] = stats[(name, flag)] if (name, flag) in stats.columns else np.nan
    return means


def _realised_uplift(arms: pd.DataFrame) -> pd.DataFrame:
    n_t, n_h = arms["n_treated"].fillna(0), arms["n_holdout"].fillna(0)
    p_t, p_h = arms["conv_treated"], arms["conv_holdout"]
    se = np.sqrt(p_t * (1 - p_t) / n_t.where(n_t > 0) + p_h * (1 - p_h) / n_h.where(n_h > 0))
    # Sample variances of revenue (n / (n - 1) corrects the mean of squares).
    var_t = (arms["rev_sq_treated"] - arms["rev_treated"] ** 2) * n_t / (n_t - 1).where(n_t > 1)
    var_h = (arms["rev_sq_holdout"] - arms["rev_holdout"] ** 2) * n_h / (n_h - 1).where(n_h > 1)
    se_rev = np.sqrt(var_t / n_t.where(n_t > 0) + var_h / n_h.where(n_h > 0))
    uplift = p_t - p_h
    rev_uplift = arms["rev_treated"] - arms["rev_holdout"]
    return pd.DataFrame(
        {
            "n_treated": n_t.astype(int),
            "n_holdout": n_h.astype(int),
            "conversion_treated": p_t,
            "conversion_holdout": p_h,
            "uplift": uplift,
            "uplift_low": uplift - _Z95 * se,
            "uplift_high": uplift + _Z95 * se,
            "revenue_uplift": rev_uplift,
            "revenue_uplift_low": rev_uplift - _Z95 * se_rev,
            "revenue_uplift_high": rev_uplift + _Z95 * se_rev,
        }
    ).reset_index()


def measure_campaign(
    plan: pd.DataFrame, outcomes: pd.DataFrame, segments: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Realised uplift per segment and offer: sent minus hold-out conversion and revenue, with 95 %
    normal-approximation intervals.

    Args:
        plan: ``[customer_id, offer, group]`` as planned.
        outcomes: campaign rows of the wave (``customer_id``, ``converted``, ``revenue``); planned
            customers without a row count as not converted.
        segments: optional ``[customer_id, segment_id]``; without it every row is segment ``"all"``.

    Returns:
        One row per segment and offer plus segment ``"all"`` per offer: ``n_treated``,
        ``n_holdout``, conversion rates, ``uplift`` with ``uplift_low``/``uplift_high``,
        ``revenue_uplift`` with bounds.
    """
    stacked = _by_segment(_planned_outcomes(plan, outcomes), segments)
    return _realised_uplift(_arm_means(stacked))


def next_wave_allocation(measurement: pd.DataFrame, seed: int, draws: int = 4000) -> pd.DataFrame:
    """Thompson-sampling shares for the next wave: per segment, how often each offer has the highest
    sampled uplift under Beta posteriors of the treated and hold-out conversion rates.

    Args:
        measurement: output of :func:`measure_campaign`.
        seed: random seed for the posterior draws.
        draws: posterior samples per segment.

    Returns:
        ``[segment_id, offer, share, prob_positive]``; shares sum to 1 within a segment.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for segment_id, part in measurement.groupby("segment_id", sort=True):
        samples = []
        for _, row in part.iterrows():
            successes_treated = row["conversion_treated"] * row["n_treated"] if row["n_treated"] else 0.0
            successes_holdout = row["conversion_holdout"] * row["n_holdout"] if row["n_holdout"] else 0.0
            treated_rate = rng.beta(1 + successes_treated, 1 + row["n_treated"] - successes_treated, draws)
            holdout_rate = rng.beta(1 + successes_holdout, 1 + row["n_holdout"] - successes_holdout, draws)
            samples.append(treated_rate - holdout_rate)
        sampled = np.vstack(samples)
        wins = np.bincount(sampled.argmax(axis=0), minlength=len(part)) / draws
        for j, (_, row) in enumerate(part.iterrows()):
            rows.append(
                {
                    "segment_id": segment_id,
                    "offer": row["offer"],
                    "share": float(wins[j]),
                    "prob_positive": float((sampled[j] > 0).mean()),
                }
            )
    return pd.DataFrame(rows)
