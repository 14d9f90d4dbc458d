"""A realistic synthetic shop with planted ground truth, generated with vectorised numpy.

Every customer belongs to one latent archetype; per-customer parameters are drawn around the
archetype's values with noise, so archetypes overlap on recency, frequency and spend (k-means on
log-RFM alone recovers them poorly) but separate in a richer behavioural space. The observable
signals that tell the archetypes apart:

* ``loyal`` — long tenure (years), frequent sessions, high view→cart and cart→purchase rates,
  rare discounts and returns, high ratings, home/beauty/books heavy. Campaign: sure things
  (high baseline conversion, uplift ≈ 0).
* ``bargain_hunter`` — most order lines discounted, many views per session, Black-Friday peak,
  more returns, fashion/grocery/toys. Campaign: persuadable by ``discount_10``, more so the higher
  their own discount share.
* ``new`` — signed up in the last ~4 months (short tenure), welcome discounts, few orders.
  Campaign: do-not-disturb when contacted in their first weeks (negative uplift, fading with tenure).
* ``lapsing`` — long tenure, active only early in the period, then silent (large recency).
  Campaign: persuadable by ``discount_10``, strongest for the recently lapsed.
* ``window_shopper`` — many long browsing sessions, very low view→cart rate, few purchases,
  high return rate, electronics/jewelry/fashion. Campaign: persuadable by ``free_shipping``,
  more so the higher their cart rate.
* ``bulk_reseller`` — large quantities per line, very high cart→purchase, office/toys/grocery,
  almost never reviews. Campaign: do-not-disturb (negative uplift for both offers).
* ``casual`` — few sessions spread over a medium tenure, average everything. Campaign: lost
  causes (low baseline, uplift ≈ 0).

Injected anomalies (``anomaly_rate`` of customers, base archetype kept in truth): ``fraud`` (new
accounts with a burst of many high-value, many-product, large-quantity orders within days, a few
with impossible basket sizes), ``bot`` (huge view counts in very short sessions, almost no
purchases) and ``refund_abuse`` (most purchases returned).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from segmint.contracts import Tables, coerce_table
from segmint.generate.outcomes import OFFERS, campaign_truth, realised_outcomes
from segmint.generate.text import review_texts
from segmint.settings import GenerateSettings

ARCHETYPES: tuple[str, ...] = (
    "loyal",
    "bargain_hunter",
    "new",
    "lapsing",
    "window_shopper",
    "bulk_reseller",
    "casual",
)
ANOMALY_TYPES: tuple[str, ...] = ("fraud", "bot", "refund_abuse")

# Default calendar: the drift-free period ends at this instant (exclusive), early enough that the
# next period (a ``drift > 0`` shop) is in the past too.
PERIOD_END = pd.Timestamp("2025-06-01 00:00:00", tz="UTC")
WAVE1_DAYS_BEFORE_END = 60
WAVE1_WINDOW_DAYS = 14
TRACKED_SESSION_SHARE = 0.5

_DAY = 86_400
_YEAR = 365.0 * _DAY

# name, median price, log-sd
CATEGORIES: tuple[tuple[str, float, float], ...] = (
    ("electronics", 120.0, 0.8),
    ("home_kitchen", 45.0, 0.6),
    ("fashion", 38.0, 0.5),
    ("beauty", 22.0, 0.5),
    ("sports", 55.0, 0.6),
    ("toys", 25.0, 0.5),
    ("books", 14.0, 0.35),
    ("garden", 35.0, 0.6),
    ("grocery", 8.0, 0.4),
    ("pet_supplies", 20.0, 0.5),
    ("office", 12.0, 0.5),
    ("jewelry", 75.0, 0.8),
)
_CAT_NAMES = tuple(c[0] for c in CATEGORIES)

_ADJECTIVES = np.array(
    ["Classic", "Premium", "Eco", "Compact", "Deluxe", "Smart", "Everyday", "Pro", "Mini", "Vintage"],
    dtype=object,
)
_NOUNS: dict[str, tuple[str, ...]] = {
    "electronics": ("Headphones", "Charger", "Speaker", "Tablet", "Camera"),
    "home_kitchen": ("Pan", "Blender", "Knife Set", "Kettle", "Mug"),
    "fashion": ("Jacket", "Sneakers", "Scarf", "Jeans", "T-Shirt"),
    "beauty": ("Face Cream", "Shampoo", "Perfume", "Lip Balm", "Serum"),
    "sports": ("Yoga Mat", "Dumbbell", "Running Shoes", "Bottle", "Racket"),
    "toys": ("Puzzle", "Building Set", "Plush Bear", "Board Game", "Toy Car"),
    "books": ("Novel", "Cookbook", "Biography", "Atlas", "Comic"),
    "garden": ("Hose", "Planter", "Seeds", "Shears", "Lantern"),
    "grocery": ("Coffee", "Tea", "Olive Oil", "Chocolate", "Pasta"),
    "pet_supplies": ("Dog Bed", "Cat Toy", "Leash", "Treats", "Bowl"),
    "office": ("Notebook", "Pen Set", "Stapler", "Desk Lamp", "Paper"),
    "jewelry": ("Necklace", "Ring", "Bracelet", "Earrings", "Watch"),
}

_COUNTRIES = np.array(["DE", "FR", "GB", "NL", "ES", "IT", "PL", "SE"], dtype=object)
_COUNTRY_P = np.array([0.25, 0.17, 0.18, 0.08, 0.1, 0.1, 0.07, 0.05])
_CHANNELS = np.array(["organic", "paid_search", "social", "email", "referral", "affiliate"], dtype=object)
_DEVICES = np.array(["mobile", "desktop", "tablet"], dtype=object)


@dataclass(frozen=True)
class _Archetype:
    share: float
    tenure_years: float  # median tenure at period end (new: handled separately)
    sessions_per_year: float
    views_per_session: float
    p_cart: float
    p_buy: float
    quantity: float
    p_discount: float
    p_return: float
    p_review: float
    satisfaction: float
    age: float
    categories: dict[str, float]
    channel_p: tuple[float, ...]
    device_p: tuple[float, float, float]


_SPECS: dict[str, _Archetype] = {
    "loyal": _Archetype(
        0.12,
        3.5,
        16,
        4.0,
        0.38,
        0.75,
        1.3,
        0.04,
        0.025,
        0.28,
        1.0,
        48,
        {"home_kitchen": 3, "beauty": 3, "books": 1},
        (0.35, 0.1, 0.05, 0.35, 0.1, 0.05),
        (0.4, 0.5, 0.1),
    ),
    "bargain_hunter": _Archetype(
        0.17,
        1.5,
        12,
        6.0,
        0.3,
        0.5,
        1.6,
        0.8,
        0.10,
        0.1,
        0.0,
        35,
        {"fashion": 3, "grocery": 3, "toys": 1},
        (0.15, 0.2, 0.25, 0.1, 0.05, 0.25),
        (0.65, 0.3, 0.05),
    ),
    "new": _Archetype(
        0.11,
        0.0,
        40,
        5.0,
        0.28,
        0.5,
        1.1,
        0.45,
        0.06,
        0.15,
        0.3,
        30,
        {"sports": 3, "beauty": 1.5, "fashion": 1.5},
        (0.2, 0.3, 0.3, 0.02, 0.13, 0.05),
        (0.7, 0.25, 0.05),
    ),
    "lapsing": _Archetype(
        0.14,
        2.5,
        26,
        5.0,
        0.3,
        0.55,
        1.2,
        0.12,
        0.06,
        0.1,
        -0.6,
        44,
        {"garden": 3, "electronics": 1.5, "sports": 1.5},
        (0.3, 0.2, 0.1, 0.2, 0.1, 0.1),
        (0.45, 0.45, 0.1),
    ),
    "window_shopper": _Archetype(
        0.17,
        1.2,
        14,
        8.0,
        0.05,
        0.35,
        1.0,
        0.15,
        0.18,
        0.2,
        -0.2,
        29,
        {"electronics": 3, "jewelry": 3, "fashion": 1},
        (0.3, 0.15, 0.35, 0.05, 0.1, 0.05),
        (0.8, 0.15, 0.05),
    ),
    "bulk_reseller": _Archetype(
        0.08,
        2.5,
        12,
        3.0,
        0.6,
        0.85,
        12.0,
        0.3,
        0.02,
        0.03,
        0.2,
        42,
        {"office": 3, "toys": 2.5, "grocery": 1},
        (0.2, 0.4, 0.02, 0.1, 0.18, 0.1),
        (0.1, 0.85, 0.05),
    ),
    "casual": _Archetype(
        0.21,
        1.5,
        8,
        4.0,
        0.25,
        0.6,
        1.2,
        0.12,
        0.05,
        0.12,
        0.3,
        40,
        {"books": 2.5, "pet_supplies": 2.5, "home_kitchen": 1, "garden": 1},
        (0.35, 0.2, 0.15, 0.1, 0.15, 0.05),
        (0.55, 0.35, 0.1),
    ),
}


@dataclass(frozen=True)
class GeneratedShop:
    """A generated shop: the six canonical tables plus the planted truth the pipeline never reads.

    Attributes:
        tables: all six tables in canonical dtypes.
        truth: ``customers_truth`` (customer_id, archetype, is_anomalous, anomaly_type,
            baseline_conversion, expected_order_value, plus the latent parameters) and ``effects``
            (customer_id, offer, true_uplift, true_incremental_revenue). ``customers_truth.attrs``
            holds ``period_start``, ``period_end`` and ``wave1_sent_ts``.
    """

    tables: Tables
    truth: dict[str, pd.DataFrame]


def _ids(prefix: str, n: int, width: int) -> np.ndarray:
    width = max(width, len(str(n)))
    # Built as ASCII bytes arithmetically: formatting millions of ids one by one is the slow part.
    nums = np.arange(1, n + 1, dtype=np.int64)
    buf = np.empty((n, len(prefix) + width), dtype=np.uint8)
    buf[:, : len(prefix)] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    buf[:, len(prefix) :] = (nums[:, None] // 10 ** np.arange(width - 1, -1, -1)) % 10 + 48
    return buf.view(f"S{buf.shape[1]}").ravel().astype(f"U{buf.shape[1]}").astype(object)


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1 - p))


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _noisy_prob(base: np.ndarray, sd: float, rng: np.random.Generator) -> np.ndarray:
    return _expit(_logit(base) + rng.normal(0.0, sd, size=base.shape))


def _within_group_cumsum(values: np.ndarray, group_sizes: np.ndarray) -> np.ndarray:
    """Cumulative sum restarting at each group (groups are contiguous, sizes >= 1)."""
    cs = np.cumsum(values)
    starts = np.concatenate([[0], np.cumsum(group_sizes)[:-1]])
    base = cs[starts] - values[starts]
    return cs - np.repeat(base, group_sizes)


def _pick_rows(cum: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each entry of ``rows``, a column index drawn from that row of the row-wise CDF ``cum``."""
    n_rows, n_cols = cum.shape
    flat = (cum + np.arange(n_rows)[:, None]).ravel()
    u = rng.random(len(rows))
    idx = np.searchsorted(flat, rows + u, side="right")
    return np.minimum(idx - rows * n_cols, n_cols - 1)


def _daily_intensity(days: int, start: pd.Timestamp, bargain: bool) -> np.ndarray:
    dates = pd.date_range(start.tz_convert(None).normalize(), periods=days, freq="D")
    doy = dates.dayofyear.to_numpy()
    dow = dates.dayofweek.to_numpy()
    weekly = np.array([0.92, 0.9, 0.93, 0.97, 1.05, 1.13, 1.1])[dow]
    # Nov–Dec gift season, a summer dip, and the January sales.
    yearly = (
        1.0
        + 0.7 * np.exp(-(((doy - 345) / 22.0) ** 2))
        + 0.25 * np.exp(-(((doy - 5) / 10.0) ** 2))
        - 0.15 * np.exp(-(((doy - 215) / 30.0) ** 2))
    )
    if bargain:
        black_friday = (dates.month == 11) & (dates.day >= 24)
        yearly = yearly * np.where(black_friday, 3.0, 1.0)
    return weekly * yearly


_HOUR_P = np.array(
    [
        1,
        0.6,
        0.4,
        0.3,
        0.3,
        0.4,
        0.8,
        1.5,
        2.2,
        2.6,
        2.8,
        3.0,
        3.3,
        3.2,
        3.0,
        3.0,
        3.2,
        3.6,
        4.2,
        4.8,
        5.0,
        4.4,
        3.2,
        1.8,
    ]
)
_HOUR_P = _HOUR_P / _HOUR_P.sum()


def generate_shop(settings: GenerateSettings) -> GeneratedShop:
    """A synthetic shop with planted archetypes, campaign effects and anomalies.

    Args:
        settings: size (customers, products, days), anomaly_rate, drift in [0, 1] and seed.
            ``drift > 0`` yields the *next* period (starting where the drift-free one ends) with
            a shifted archetype mix, higher prices, changed funnel rates and category popularity.

    Returns:
        The six canonical tables and the truth frames.
    """
    n, n_prod, days = settings.customers, settings.products, settings.days
    drift = float(settings.drift)
    seeds = np.random.SeedSequence(settings.seed).spawn(12)
    (
        rng_cust,
        rng_prod,
        rng_sess,
        rng_ev,
        rng_ord,
        rng_ret,
        rng_rev,
        rng_anom,
        rng_fraud,
        rng_camp,
        rng_txt,
        _,
    ) = (np.random.default_rng(s) for s in seeds)
    period_end = PERIOD_END + pd.Timedelta(days=days) if drift > 0 else PERIOD_END
    period_start = period_end - pd.Timedelta(days=days)
    horizon = days * _DAY
    n_cat = len(CATEGORIES)
    specs = [_SPECS[a] for a in ARCHETYPES]
    n_arch = len(ARCHETYPES)
    # Drift direction is a fixed property of the shop, not of the seed, so every seed drifts alike.
    drift_dir = np.random.default_rng(20_251_231).normal(0.0, 1.0, size=n_cat)

    # ---- products --------------------------------------------------------------------------
    cat_popularity = np.array([1.4, 1.2, 1.4, 1.0, 0.9, 0.9, 0.8, 0.7, 1.0, 0.7, 0.6, 0.6]) * np.exp(
        0.6 * drift * drift_dir
    )
    prod_cat = np.sort(rng_prod.choice(n_cat, size=n_prod, p=cat_popularity / cat_popularity.sum()))
    prod_cat[:n_cat] = np.arange(n_cat)  # every category has at least one product
    prod_cat = np.sort(prod_cat)
    medians = np.array([c[1] for c in CATEGORIES]) * (1.0 + 0.15 * drift)
    sigmas = np.array([c[2] for c in CATEGORIES])
    price = np.round(medians[prod_cat] * np.exp(rng_prod.normal(0, sigmas[prod_cat])), 2).clip(0.5)
    # Zipf-like popularity within a category.
    pop = rng_prod.pareto(1.2, size=n_prod) + 0.05
    cat_tot = np.bincount(prod_cat, weights=pop, minlength=n_cat)
    pop_in_cat = pop / cat_tot[prod_cat]
    cum_in_cat = _within_group_cumsum(pop_in_cat, np.bincount(prod_cat, minlength=n_cat))
    cat_first = np.searchsorted(prod_cat, np.arange(n_cat))
    cat_last = np.searchsorted(prod_cat, np.arange(n_cat), side="right") - 1
    cum_in_cat[cat_last] = 1.0
    prod_flat = cum_in_cat + prod_cat
    noun_pick = rng_prod.integers(0, 5, size=n_prod)
    nouns = np.array(
        [_NOUNS[_CAT_NAMES[c]][k] for c, k in zip(prod_cat, noun_pick, strict=True)], dtype=object
    )
    names = _ADJECTIVES[rng_prod.integers(0, len(_ADJECTIVES), size=n_prod)] + " " + nouns
    product_ids = _ids("P", n_prod, 5)
    cat_names = np.array(_CAT_NAMES, dtype=object)
    mean_cat_price = np.bincount(prod_cat, weights=price * pop_in_cat, minlength=n_cat)

    # ---- customers ----------------------------------------------------------------------------
    mix = np.array([s.share for s in specs])
    mix_shift = np.array([-0.06, 0.12, 0.02, 0.02, 0.04, -0.02, -0.04])
    mix = np.clip(mix + drift * mix_shift, 0.01, None)
    arch = rng_cust.choice(n_arch, size=n, p=mix / mix.sum())

    def per(field: str) -> np.ndarray:
        return np.array([getattr(s, field) for s in specs], dtype=float)[arch]

    ln = rng_cust.lognormal
    is_new = arch == ARCHETYPES.index("new")
    tenure_days = per("tenure_years") * 365.0 * ln(0.0, 0.35, size=n)
    tenure_days = np.where(is_new, rng_cust.uniform(10.0, 120.0, size=n), np.maximum(tenure_days, 130.0))
    signup = horizon - tenure_days * _DAY  # seconds from period start; negative = before the period
    sess_rate = per("sessions_per_year") * ln(0.0, 0.35, size=n)
    vps = per("views_per_session") * ln(0.0, 0.25, size=n)
    funnel_drift = 1.0 - 0.25 * drift
    p_cart = _noisy_prob(per("p_cart") * funnel_drift, 0.3, rng_cust)
    p_buy = _noisy_prob(
        per("p_buy") * (1.0 + 0.1 * drift) / (1.0 + 0.1 * drift * per("p_buy")), 0.3, rng_cust
    )
    qty = 1.0 + (per("quantity") - 1.0) * ln(0.0, 0.3, size=n)
    p_disc = _noisy_prob(per("p_discount"), 0.35, rng_cust)
    p_ret = _noisy_prob(per("p_return"), 0.3, rng_cust)
    p_rev = _noisy_prob(per("p_review"), 0.3, rng_cust)
    satisfaction = per("satisfaction") + rng_cust.normal(0.0, 0.35, size=n)
    age = np.clip(np.round(per("age") + rng_cust.normal(0, 10, size=n)), 18, 85).astype(np.int64)
    base_aff = np.array([[s.categories.get(c, 0.15) for c in _CAT_NAMES] for s in specs]) * np.exp(
        0.4 * drift * drift_dir
    )
    aff = rng_cust.gamma(base_aff[arch] * 6.0) + 1e-9
    aff = aff / aff.sum(axis=1, keepdims=True)
    cum_aff = np.cumsum(aff, axis=1)
    cum_aff[:, -1] = 1.0
    channel_p = np.array([s.channel_p for s in specs])
    channel_p = channel_p / channel_p.sum(axis=1, keepdims=True)
    channel = _CHANNELS[_pick_rows(np.cumsum(channel_p, axis=1), arch, rng_cust)]
    device_p = np.array([s.device_p for s in specs])
    device = _DEVICES[
        _pick_rows(np.cumsum(device_p / device_p.sum(1, keepdims=True), axis=1), arch, rng_cust)
    ]
    country = _COUNTRIES[rng_cust.choice(len(_COUNTRIES), size=n, p=_COUNTRY_P)]
    opted_out = rng_cust.random(n) < 0.03

    act_start = np.maximum(signup, 0.0)
    act_end = np.full(n, float(horizon))
    is_lapsing = arch == ARCHETYPES.index("lapsing")
    lapse_at = rng_cust.uniform(0.2, 0.5, size=n) * horizon
    act_end = np.where(is_lapsing, np.maximum(lapse_at, act_start + 14 * _DAY), act_end)
    act_end = np.minimum(act_end, horizon - 60.0)
    act_start = np.minimum(act_start, act_end - 60.0)

    # ---- anomalies ----------------------------------------------------------------------------
    n_anom = int(round(settings.anomaly_rate * n))
    anomalous = np.zeros(n, dtype=bool)
    anom_type = np.full(n, None, dtype=object)
    if n_anom:
        chosen = rng_anom.choice(n, size=n_anom, replace=False)
        anomalous[chosen] = True
        anom_type[chosen] = np.array(ANOMALY_TYPES, dtype=object)[np.arange(n_anom) % 3]
    fraud = anom_type == "fraud"
    bot = anom_type == "bot"
    refund = anom_type == "refund_abuse"
    # Fraud rings open fresh accounts shortly before striking.
    fraud_signup = horizon - rng_anom.uniform(6, 45, size=n) * _DAY
    signup = np.where(fraud, fraud_signup, signup)
    act_start = np.where(fraud, signup, act_start)
    act_end = np.where(fraud, horizon - 60.0, act_end)
    vps = np.where(bot, rng_anom.uniform(60, 120, size=n), vps)
    sess_rate = np.where(
        bot, rng_anom.uniform(8, 16, size=n) * _YEAR / np.maximum(act_end - act_start, _DAY), sess_rate
    )
    p_cart = np.where(bot, 0.002, p_cart)
    p_buy = np.where(bot, 0.2, p_buy)
    p_ret = np.where(refund, rng_anom.uniform(0.8, 0.95, size=n), p_ret)
    p_buy = np.where(refund, np.maximum(p_buy, 0.7), p_buy)
    sess_rate = np.where(refund, np.maximum(sess_rate, 20.0), sess_rate)

    # ---- sessions -----------------------------------------------------------------------------
    active_years = (act_end - act_start) / _YEAR
    n_sess = 1 + rng_sess.poisson(sess_rate * active_years)
    sess_cust = np.repeat(np.arange(n), n_sess)
    n_s = len(sess_cust)
    sess_start = np.empty(n_s)
    bargain_code = ARCHETYPES.index("bargain_hunter")
    grid = np.arange(days + 1, dtype=float)
    for code, is_bargain in ((bargain_code, True), (-1, False)):
        # Two calendars only: bargain hunters get a Black-Friday spike, everyone else shares one.
        lam = _daily_intensity(days, period_start, is_bargain)
        cdf = np.concatenate([[0.0], np.cumsum(lam)])
        mask = (arch[sess_cust] == code) if is_bargain else (arch[sess_cust] != bargain_code)
        s_day = act_start[sess_cust[mask]] / _DAY
        e_day = act_end[sess_cust[mask]] / _DAY
        lo, hi = np.interp(s_day, grid, cdf), np.interp(e_day, grid, cdf)
        day_pos = np.interp(lo + rng_sess.random(mask.sum()) * (hi - lo), cdf, grid)
        hour = rng_sess.choice(24, size=mask.sum(), p=_HOUR_P)
        t = np.floor(day_pos) * _DAY + hour * 3600 + rng_sess.uniform(0, 3600, size=mask.sum())
        sess_start[mask] = np.clip(t, act_start[sess_cust[mask]], act_end[sess_cust[mask]] - 1.0)
    order = np.lexsort((sess_start, sess_cust))
    sess_start = sess_start[order]  # sess_cust is already grouped by customer
    # Consent banners: only some sessions are tracked in the event log, while every order is recorded.
    tracked = (rng_sess.random(n_s) < TRACKED_SESSION_SHARE) | bot[sess_cust]

    # ---- events -------------------------------------------------------------------------------
    views_per = 1 + rng_ev.poisson(np.maximum(vps[sess_cust] - 1.0, 0.0))
    v_sess = np.repeat(np.arange(n_s), views_per)
    v_cust = sess_cust[v_sess]
    gap_scale = np.where(bot[v_cust], 2.0, 45.0)
    gaps = rng_ev.exponential(gap_scale)
    v_t = sess_start[v_sess] + _within_group_cumsum(gaps, views_per)
    v_cat = _pick_rows(cum_aff, v_cust, rng_ev)
    v_prod = np.minimum(
        np.searchsorted(prod_flat, v_cat + rng_ev.random(len(v_cat)), side="right"), cat_last[v_cat]
    )
    v_prod = np.maximum(v_prod, cat_first[v_cat])
    carted = rng_ev.random(len(v_cust)) < p_cart[v_cust]
    c_idx = np.flatnonzero(carted)
    c_t = v_t[c_idx] + rng_ev.uniform(3, 40, size=len(c_idx))
    bought = rng_ev.random(len(c_idx)) < p_buy[v_cust[c_idx]]
    b_idx = c_idx[bought]
    sess_end = v_t[np.cumsum(views_per) - 1]  # view times increase within a session
    b_sess = v_sess[b_idx]
    b_t = sess_end[b_sess] + 60.0 + rng_ev.uniform(0, 5, size=len(b_idx))

    # ---- order lines --------------------------------------------------------------------------
    l_cust, l_prod, l_sess, l_t = v_cust[b_idx], v_prod[b_idx], b_sess, b_t
    lq = qty[l_cust]
    l_qty = 1 + rng_ord.poisson(np.maximum(lq - 1.0, 0.0))
    disc_levels = np.array([0.1, 0.2, 0.3])
    discounted = rng_ord.random(len(l_cust)) < p_disc[l_cust]
    l_disc = np.where(discounted, disc_levels[rng_ord.integers(0, 3, size=len(l_cust))], 0.0)

    # Fraud bursts: several orders within days, many distinct expensive products, large quantities.
    f_cust_ids = np.flatnonzero(fraud)
    if len(f_cust_ids):
        n_orders = 4 + rng_fraud.poisson(6, size=len(f_cust_ids))
        fo_cust = np.repeat(f_cust_ids, n_orders)
        burst_start = signup[fo_cust] + rng_fraud.uniform(0.1, 3, size=len(fo_cust)) * _DAY
        fo_t = np.minimum(burst_start + rng_fraud.uniform(0, 2.5, size=len(fo_cust)) * _DAY, horizon - 120.0)
        lines_per = 3 + rng_fraud.poisson(4, size=len(fo_cust))
        fl_order = np.repeat(np.arange(len(fo_cust)), lines_per)
        expensive = np.flatnonzero(price >= np.quantile(price, 0.75))
        fl_prod = expensive[rng_fraud.integers(0, len(expensive), size=len(fl_order))]
        fl_qty = 2 + rng_fraud.poisson(5, size=len(fl_order))
        # A handful of impossible baskets.
        n_imp = max(1, len(f_cust_ids) // 8)
        first_line = np.searchsorted(fl_order, np.arange(len(fo_cust)))
        imp = first_line[rng_fraud.choice(len(fo_cust), size=min(n_imp, len(fo_cust)), replace=False)]
        fl_qty[imp] = rng_fraud.integers(500, 3000, size=len(imp))
        fs_id = n_s + np.arange(len(fo_cust))  # one session per fraud order
        fl_cust, fl_sess = fo_cust[fl_order], fs_id[fl_order]
        fl_t = fo_t[fl_order] + _within_group_cumsum(rng_fraud.exponential(20, size=len(fl_order)), lines_per)
        l_cust = np.concatenate([l_cust, fl_cust])
        l_prod = np.concatenate([l_prod, fl_prod])
        l_sess = np.concatenate([l_sess, fl_sess])
        l_t = np.concatenate([l_t, np.minimum(fl_t + 120.0, horizon - 1.0)])
        l_qty = np.concatenate([l_qty, fl_qty])
        l_disc = np.concatenate([l_disc, np.zeros(len(fl_order))])
        f_view_t = np.minimum(fl_t, horizon - 3.0)
        extra_cust = np.concatenate([fl_cust, fl_cust])
        extra_prod = np.concatenate([fl_prod, fl_prod])
        extra_type = np.concatenate([np.zeros(len(fl_order), np.int8), np.ones(len(fl_order), np.int8)])
        extra_t = np.concatenate([f_view_t, f_view_t + 1.0])
        extra_sess = np.concatenate([fl_sess, fl_sess])
        n_fraud_orders = len(fo_cust)
    else:
        n_fraud_orders = 0
        extra_cust = extra_prod = extra_sess = np.array([], dtype=np.int64)
        extra_type = np.array([], dtype=np.int8)
        extra_t = np.array([], dtype=float)
    l_price = np.round(price[l_prod] * (1.0 - l_disc), 2)

    purchasing_sessions, order_no = np.unique(l_sess, return_inverse=True)
    order_ids_all = _ids("O", len(purchasing_sessions), 7)

    # Returns: separate rows, same order id, a few days later; returns after the period are unseen.
    returned = rng_ret.random(len(l_cust)) < p_ret[l_cust]
    r_idx = np.flatnonzero(returned)
    r_t = l_t[r_idx] + rng_ret.uniform(2, 30, size=len(r_idx)) * _DAY
    keep = r_t < horizon - 1.0
    r_idx, r_t = r_idx[keep], r_t[keep]

    # ---- reviews ------------------------------------------------------------------------------
    reviewed = rng_rev.random(len(l_cust)) < p_rev[l_cust]
    rv_idx = np.flatnonzero(reviewed)
    rv_t = l_t[rv_idx] + rng_rev.uniform(3, 25, size=len(rv_idx)) * _DAY
    keep = rv_t < horizon - 1.0
    rv_idx, rv_t = rv_idx[keep], rv_t[keep]
    latent = (
        3.7 + satisfaction[l_cust[rv_idx]] - 1.8 * returned[rv_idx] + rng_rev.normal(0, 0.9, size=len(rv_idx))
    )
    rating = np.clip(np.round(latent), 1, 5).astype(np.int64)
    rv_text = review_texts(rating, cat_names[prod_cat[l_prod[rv_idx]]], rng_txt)

    # ---- assemble tables ----------------------------------------------------------------------
    t0 = period_start.value  # ns

    def ts(seconds: np.ndarray) -> pd.Series:
        ns = (t0 + np.round(seconds * 1e9).astype(np.int64)).astype("datetime64[ns]")
        return pd.Series(pd.DatetimeIndex(ns).tz_localize("UTC"))

    customer_ids = _ids("C", n, 6)
    session_ids = _ids("S", n_s + n_fraud_orders, 7)
    ev_cust = np.concatenate([v_cust, v_cust[c_idx], l_cust, extra_cust])
    ev_prod = np.concatenate([v_prod, v_prod[c_idx], l_prod, extra_prod])
    ev_type = np.concatenate(
        [
            np.zeros(len(v_cust), np.int8),
            np.ones(len(c_idx), np.int8),
            np.full(len(l_cust), 2, np.int8),
            extra_type,
        ]
    )
    ev_t = np.concatenate([v_t, c_t, l_t, extra_t])
    ev_sess = np.concatenate([v_sess, v_sess[c_idx], l_sess, extra_sess])
    keep_ev = np.concatenate([tracked, np.ones(n_fraud_orders, dtype=bool)])[ev_sess]
    ev_cust, ev_prod, ev_type, ev_t, ev_sess = (
        a[keep_ev] for a in (ev_cust, ev_prod, ev_type, ev_t, ev_sess)
    )
    ev_t = np.minimum(ev_t, horizon - 1.0)
    # A log in time order; ids as categoricals keep the frame cheap to build and to coerce.
    ev_order = np.argsort(ev_t, kind="stable")

    def cat(codes: np.ndarray, labels: np.ndarray) -> pd.Categorical:
        return pd.Categorical.from_codes(codes, categories=pd.Index(labels, dtype=object), validate=False)

    events = pd.DataFrame(
        {
            "customer_id": cat(ev_cust[ev_order], customer_ids),
            "product_id": cat(ev_prod[ev_order], product_ids),
            "event_type": cat(ev_type[ev_order], np.array(["view", "cart", "purchase"], dtype=object)),
            "ts": ts(ev_t[ev_order]),
            "session_id": cat(ev_sess[ev_order], session_ids),
        }
    )

    o_rows = np.concatenate([np.arange(len(l_cust)), r_idx])
    o_t = np.concatenate([l_t, r_t])
    o_ret = np.concatenate([np.zeros(len(l_cust), bool), np.ones(len(r_idx), bool)])
    o_order = np.lexsort((o_t, l_cust[o_rows]))
    o_rows, o_t, o_ret = o_rows[o_order], o_t[o_order], o_ret[o_order]
    orders = pd.DataFrame(
        {
            "order_id": cat(order_no[o_rows], order_ids_all),
            "customer_id": cat(l_cust[o_rows], customer_ids),
            "product_id": cat(l_prod[o_rows], product_ids),
            "quantity": l_qty[o_rows].astype(np.int64),
            "unit_price": l_price[o_rows],
            "ts": ts(o_t),
            "is_return": o_ret,
            "discount": l_disc[o_rows],
        }
    )

    rv_sort = np.argsort(rv_t, kind="stable")
    reviews = pd.DataFrame(
        {
            "review_id": _ids("R", len(rv_idx), 7),
            "customer_id": customer_ids[l_cust[rv_idx[rv_sort]]],
            "product_id": product_ids[l_prod[rv_idx[rv_sort]]],
            "rating": rating[rv_sort],
            "text": rv_text[rv_sort],
            "ts": ts(rv_t[rv_sort]),
        }
    )

    customers = pd.DataFrame(
        {
            "customer_id": customer_ids,
            "signup_ts": ts(np.floor(signup)),
            "country": country,
            "channel": channel,
            "opted_out": opted_out,
            "age": age,
            "device": device,
        }
    )
    products = pd.DataFrame(
        {"product_id": product_ids, "category": cat_names[prod_cat], "price": price, "name": names}
    )

    # ---- campaign truth and the realised wave-1 -------------------------------------------------
    sent_sec = horizon - WAVE1_DAYS_BEFORE_END * _DAY + 10 * 3600.0
    purch_sessions = 1.0 - np.exp(-vps * p_cart * p_buy)  # P(session ends in an order)
    lines_per_order = np.maximum(vps * p_cart * p_buy, 1e-3) / np.maximum(purch_sessions, 1e-3)
    line_value = qty * (aff @ mean_cat_price) * (1.0 - 0.2 * p_disc)
    expected_order_value = np.round(lines_per_order * line_value, 2)
    active_at_send = (act_end >= sent_sec) & (act_start <= sent_sec)
    latent_frame = pd.DataFrame(
        {
            "customer_id": customer_ids,
            "archetype": np.array(ARCHETYPES, dtype=object)[arch],
            "is_anomalous": anomalous,
            "anomaly_type": anom_type,
            "sessions_per_year": sess_rate,
            "purchase_session_share": purch_sessions,
            "p_cart": p_cart,
            "p_discount": p_disc,
            "quantity_mean": qty,
            "tenure_days_at_send": (sent_sec - signup) / _DAY,
            "days_since_active_at_send": np.maximum(sent_sec - act_end, 0.0) / _DAY,
            "active_at_send": active_at_send,
            "expected_order_value": expected_order_value,
        }
    )
    customers_truth, effects = campaign_truth(latent_frame, WAVE1_WINDOW_DAYS, rng_camp)
    sent_ts = pd.Timestamp(t0 + int(sent_sec * 1e9), tz="UTC")
    customers_truth.attrs.update(
        {"period_start": period_start, "period_end": period_end, "wave1_sent_ts": sent_ts}
    )
    eligible = signup < sent_sec
    arm = rng_camp.integers(0, 3, size=n)
    plan = pd.DataFrame(
        {
            "customer_id": customer_ids[eligible],
            "offer": np.array([*OFFERS, None], dtype=object)[arm[eligible]],
            "group": np.where(arm[eligible] == 2, "holdout", "treatment"),
        }
    )
    truth = {"customers_truth": customers_truth, "effects": effects}
    campaigns = realised_outcomes(plan, truth, rng_camp, sent_ts, "wave-1")

    tables = Tables(
        customers=coerce_table("customers", customers),
        products=coerce_table("products", products),
        events=coerce_table("events", events),
        orders=coerce_table("orders", orders),
        reviews=coerce_table("reviews", reviews),
        campaigns=coerce_table("campaigns", campaigns),
    )
    return GeneratedShop(tables=tables, truth=truth)
