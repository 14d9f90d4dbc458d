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
accounts with a burst of orders of pricier products soon after signup, a few with one large basket),
``bot`` (many views in very short sessions, hardly any carts) and ``refund_abuse`` (many purchases,
a high share returned). Each anomalous customer's strength is drawn from a wide range whose weak end
overlaps normal customers (heavy browsers, high-return shoppers, bulk buyers, eager new customers),
so no threshold on one signal separates them and the weakest are not findable at all.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from segmint.contracts import EVENT_TYPES, Tables, coerce_table
from segmint.generate.outcomes import OFFERS, campaign_truth, realised_outcomes, trapped_truth
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
# Later waves follow wave 1 at this spacing, each as its predecessor's outcome window closes.
WAVE_SPACING_DAYS = WAVE1_WINDOW_DAYS
TRACKED_SESSION_SHARE = 0.5

_DAY = 86_400
_YEAR = 365.0 * _DAY

# Planted anomaly strengths: (centre, spread) of each anomalous customer's own draw.
# Log-normal median and log-sd; 90 % of bots fall within 6–43 views per session (window shoppers: 5–12).
_BOT_VIEWS_PER_SESSION = (16.0, 0.6)
# Logit-normal centre and sd; 90 % of bots cart 0.3–4.4 % of views (window shoppers: 3–8 %).
_BOT_CART_RATE = (0.012, 0.8)
# Logit-normal centre and sd; 90 % of abusers return 18–75 % of lines (window shoppers: 12–26 %).
_REFUND_RETURN_RATE = (0.45, 0.8)
# Fraud bursts, as Poisson means of a log-normal draw per customer: orders beyond the first
# (90 %: 0.4–5.6), and units per line beyond the first (90 %: 0.6–6.3; bulk resellers buy ~11).
_FRAUD_EXTRA_ORDERS = (1.5, 0.8)
_FRAUD_EXTRA_UNITS = (2.0, 0.7)
# Large baskets, on as many fraud orders as an eighth of the fraud accounts: log-normal units, 90 %
# within 11–150 (bulk resellers' baskets reach 100 and more).
_FRAUD_LARGE_BASKET = (40.0, 0.8)

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
    """Median behaviour of one archetype; each customer's own values are drawn around it.

    Attributes:
        share: share of customers in the drift-free mix.
        tenure_years: median tenure at period end (``new`` customers get theirs separately).
        sessions_per_year: median session rate while active.
        views_per_session: median product views per session.
        p_cart: probability that a view is carted.
        p_buy: probability that a carted product is bought.
        quantity: mean quantity per order line.
        p_discount: probability that an order line is discounted.
        p_return: probability that an order line is returned.
        p_review: probability that an order line is reviewed.
        satisfaction: shift of the latent rating (0 = average).
        age: median age in years.
        categories: category affinity weights (unlisted categories weigh 0.15).
        channel_p: acquisition channel weights, in the order of ``_CHANNELS``.
        device_p: device weights, in the order of ``_DEVICES``.
    """

    share: float
    tenure_years: float
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
        share=0.12,
        tenure_years=3.5,
        sessions_per_year=16,
        views_per_session=4.0,
        p_cart=0.38,
        p_buy=0.75,
        quantity=1.3,
        p_discount=0.04,
        p_return=0.025,
        p_review=0.28,
        satisfaction=1.0,
        age=48,
        categories={"home_kitchen": 3, "beauty": 3, "books": 1},
        channel_p=(0.35, 0.1, 0.05, 0.35, 0.1, 0.05),
        device_p=(0.4, 0.5, 0.1),
    ),
    "bargain_hunter": _Archetype(
        share=0.17,
        tenure_years=1.5,
        sessions_per_year=12,
        views_per_session=6.0,
        p_cart=0.3,
        p_buy=0.5,
        quantity=1.6,
        p_discount=0.8,
        p_return=0.10,
        p_review=0.1,
        satisfaction=0.0,
        age=35,
        categories={"fashion": 3, "grocery": 3, "toys": 1},
        channel_p=(0.15, 0.2, 0.25, 0.1, 0.05, 0.25),
        device_p=(0.65, 0.3, 0.05),
    ),
    "new": _Archetype(
        share=0.11,
        tenure_years=0.0,
        sessions_per_year=40,
        views_per_session=5.0,
        p_cart=0.28,
        p_buy=0.5,
        quantity=1.1,
        p_discount=0.45,
        p_return=0.06,
        p_review=0.15,
        satisfaction=0.3,
        age=30,
        categories={"sports": 3, "beauty": 1.5, "fashion": 1.5},
        channel_p=(0.2, 0.3, 0.3, 0.02, 0.13, 0.05),
        device_p=(0.7, 0.25, 0.05),
    ),
    "lapsing": _Archetype(
        share=0.14,
        tenure_years=2.5,
        sessions_per_year=26,
        views_per_session=5.0,
        p_cart=0.3,
        p_buy=0.55,
        quantity=1.2,
        p_discount=0.12,
        p_return=0.06,
        p_review=0.1,
        satisfaction=-0.6,
        age=44,
        categories={"garden": 3, "electronics": 1.5, "sports": 1.5},
        channel_p=(0.3, 0.2, 0.1, 0.2, 0.1, 0.1),
        device_p=(0.45, 0.45, 0.1),
    ),
    "window_shopper": _Archetype(
        share=0.17,
        tenure_years=1.2,
        sessions_per_year=14,
        views_per_session=8.0,
        p_cart=0.05,
        p_buy=0.35,
        quantity=1.0,
        p_discount=0.15,
        p_return=0.18,
        p_review=0.2,
        satisfaction=-0.2,
        age=29,
        categories={"electronics": 3, "jewelry": 3, "fashion": 1},
        channel_p=(0.3, 0.15, 0.35, 0.05, 0.1, 0.05),
        device_p=(0.8, 0.15, 0.05),
    ),
    "bulk_reseller": _Archetype(
        share=0.08,
        tenure_years=2.5,
        sessions_per_year=12,
        views_per_session=3.0,
        p_cart=0.6,
        p_buy=0.85,
        quantity=12.0,
        p_discount=0.3,
        p_return=0.02,
        p_review=0.03,
        satisfaction=0.2,
        age=42,
        categories={"office": 3, "toys": 2.5, "grocery": 1},
        channel_p=(0.2, 0.4, 0.02, 0.1, 0.18, 0.1),
        device_p=(0.1, 0.85, 0.05),
    ),
    "casual": _Archetype(
        share=0.21,
        tenure_years=1.5,
        sessions_per_year=8,
        views_per_session=4.0,
        p_cart=0.25,
        p_buy=0.6,
        quantity=1.2,
        p_discount=0.12,
        p_return=0.05,
        p_review=0.12,
        satisfaction=0.3,
        age=40,
        categories={"books": 2.5, "pet_supplies": 2.5, "home_kitchen": 1, "garden": 1},
        channel_p=(0.35, 0.2, 0.15, 0.1, 0.15, 0.05),
        device_p=(0.55, 0.35, 0.1),
    ),
}


@dataclass(frozen=True)
class GeneratedShop:
    """A generated shop: the six canonical tables plus the planted truth the pipeline never reads.

    Attributes:
        tables: all six tables in canonical dtypes.
        truth: ``customers_truth`` (customer_id, archetype, is_anomalous, anomaly_type,
            baseline_conversion, expected_order_value, plus the latent parameters) and ``effects``
            (customer_id, offer, true_uplift, true_incremental_revenue), both as of wave 1 (with
            ``settings.trap``, ``effects`` holds the new waves' trapped effects);
            ``waves`` (campaign_id, sent_ts, window_days, contacted: one row per wave) and
            ``wave_effects`` (campaign_id, customer_id, offer, baseline_conversion, true_uplift,
            true_incremental_revenue: every wave's truth as of its own send).
            ``customers_truth.attrs`` holds ``period_start``, ``period_end``, ``wave1_sent_ts`` and
            ``waves`` (their number).
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


# Relative session starts by hour of day, 0–11 then 12–23.
_HOUR_P = np.array(
    [1, 0.6, 0.4, 0.3, 0.3, 0.4, 0.8, 1.5, 2.2, 2.6, 2.8, 3.0]
    + [3.3, 3.2, 3.0, 3.0, 3.2, 3.6, 4.2, 4.8, 5.0, 4.4, 3.2, 1.8]
)
_HOUR_P = _HOUR_P / _HOUR_P.sum()


# ---- the steps' typed values ----------------------------------------------------------------------
# Times are float seconds since the period start; customers, products and sessions are row numbers.


@dataclass(frozen=True)
class _Streams:
    """One independent random stream per step, so a change in one step leaves the others' draws alone."""

    customers: np.random.Generator
    products: np.random.Generator
    sessions: np.random.Generator
    events: np.random.Generator
    orders: np.random.Generator
    returns: np.random.Generator
    reviews: np.random.Generator
    anomalies: np.random.Generator
    fraud: np.random.Generator
    campaign: np.random.Generator
    text: np.random.Generator
    waves: np.random.Generator  # the plans and outcomes of the waves after the first


@dataclass(frozen=True)
class _Calendar:
    period_start: pd.Timestamp
    period_end: pd.Timestamp
    days: int
    horizon: int  # period length in seconds


@dataclass(frozen=True)
class _Drift:
    strength: float  # settings.drift, 0 = the drift-free period
    direction: np.ndarray  # per-category direction of popularity and affinity shifts


@dataclass(frozen=True)
class _Products:
    ids: np.ndarray
    category: np.ndarray  # category code per product, sorted
    price: np.ndarray
    names: np.ndarray
    category_cdf: np.ndarray  # category code + cumulative popularity within the category
    first_in_category: np.ndarray
    last_in_category: np.ndarray
    mean_category_price: np.ndarray  # popularity-weighted


@dataclass(frozen=True)
class _Behaviour:
    sessions_per_year: np.ndarray
    views_per_session: np.ndarray
    p_cart: np.ndarray
    p_buy: np.ndarray
    quantity: np.ndarray
    p_discount: np.ndarray
    p_return: np.ndarray
    p_review: np.ndarray
    satisfaction: np.ndarray


@dataclass(frozen=True)
class _Profile:
    age: np.ndarray
    affinity: np.ndarray  # customers × categories, rows sum to 1
    affinity_cdf: np.ndarray
    channel: np.ndarray
    device: np.ndarray
    country: np.ndarray
    opted_out: np.ndarray


@dataclass(frozen=True)
class _Activity:
    signup: np.ndarray  # negative = before the period
    start: np.ndarray
    end: np.ndarray


@dataclass(frozen=True)
class _Customers:
    archetype: np.ndarray  # index into ARCHETYPES
    behaviour: _Behaviour
    profile: _Profile
    activity: _Activity


@dataclass(frozen=True)
class _Anomalies:
    is_anomalous: np.ndarray
    anomaly_type: np.ndarray  # one of ANOMALY_TYPES, or None

    @property
    def fraud(self) -> np.ndarray:
        return self.anomaly_type == "fraud"

    @property
    def bot(self) -> np.ndarray:
        return self.anomaly_type == "bot"

    @property
    def refund_abuse(self) -> np.ndarray:
        return self.anomaly_type == "refund_abuse"


@dataclass(frozen=True)
class _Sessions:
    customer: np.ndarray  # grouped by customer
    start: np.ndarray  # increasing within a customer
    tracked: np.ndarray  # whether the session's events reach the event log

    @property
    def count(self) -> int:
        return len(self.customer)


@dataclass(frozen=True)
class _Browsing:
    view_session: np.ndarray
    view_customer: np.ndarray
    view_time: np.ndarray
    view_product: np.ndarray
    carted_views: np.ndarray  # view rows that were carted
    cart_time: np.ndarray
    bought_views: np.ndarray  # view rows whose cart was bought
    purchase_session: np.ndarray
    purchase_time: np.ndarray


@dataclass(frozen=True)
class _FraudOrders:
    """Order lines of the fraud bursts; each fraud order gets a session of its own."""

    order_count: int
    customer: np.ndarray
    product: np.ndarray
    session: np.ndarray
    time: np.ndarray  # when the line's product was viewed
    quantity: np.ndarray


@dataclass(frozen=True)
class _OrderLines:
    customer: np.ndarray
    product: np.ndarray
    session: np.ndarray
    time: np.ndarray
    quantity: np.ndarray
    discount: np.ndarray
    unit_price: np.ndarray


@dataclass(frozen=True)
class _Returns:
    returned: np.ndarray  # per order line, including returns that fall after the period
    line: np.ndarray  # order lines returned within the period
    time: np.ndarray


@dataclass(frozen=True)
class _Reviews:
    line: np.ndarray  # reviewed order lines
    time: np.ndarray
    rating: np.ndarray
    text: np.ndarray


@dataclass(frozen=True)
class _Ids:
    customers: np.ndarray
    sessions: np.ndarray


@dataclass(frozen=True)
class _Wave:
    """One executed campaign wave and the truth it was drawn from."""

    campaign_id: str
    sent_ts: pd.Timestamp
    customers_truth: pd.DataFrame  # latent frame at the send, plus baseline_conversion
    effects: pd.DataFrame  # customer × offer: true_uplift, true_incremental_revenue
    campaigns: pd.DataFrame


@dataclass(frozen=True)
class _Waves:
    truth: dict[str, pd.DataFrame]
    campaigns: pd.DataFrame


# ---- set-up -----------------------------------------------------------------------------------------


def _streams(seed: int) -> _Streams:
    # Twelve spawned, in a fixed order: the streams' seeds depend on the spawn count and position.
    generators = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(12)]
    return _Streams(*generators)


def _calendar(days: int, drift: float) -> _Calendar:
    period_end = PERIOD_END + pd.Timedelta(days=days) if drift > 0 else PERIOD_END
    return _Calendar(
        period_start=period_end - pd.Timedelta(days=days),
        period_end=period_end,
        days=days,
        horizon=days * _DAY,
    )


def _drift(strength: float) -> _Drift:
    # Drift direction is a fixed property of the shop, not of the seed, so every seed drifts alike.
    direction = np.random.default_rng(20_251_231).normal(0.0, 1.0, size=len(CATEGORIES))
    return _Drift(strength=strength, direction=direction)


# ---- products ---------------------------------------------------------------------------------------


def _products(count: int, drift: _Drift, rng: np.random.Generator) -> _Products:
    """The catalogue: categories, prices, within-category popularity and names."""
    n_cat = len(CATEGORIES)
    cat_popularity = np.array([1.4, 1.2, 1.4, 1.0, 0.9, 0.9, 0.8, 0.7, 1.0, 0.7, 0.6, 0.6]) * np.exp(
        0.6 * drift.strength * drift.direction
    )
    category = np.sort(rng.choice(n_cat, size=count, p=cat_popularity / cat_popularity.sum()))
    category[:n_cat] = np.arange(n_cat)  # every category has at least one product
    category = np.sort(category)
    medians = np.array([spec[1] for spec in CATEGORIES]) * (1.0 + 0.15 * drift.strength)
    sigmas = np.array([spec[2] for spec in CATEGORIES])
    price = np.round(medians[category] * np.exp(rng.normal(0, sigmas[category])), 2).clip(0.5)
    # Zipf-like popularity within a category.
    popularity = rng.pareto(1.2, size=count) + 0.05
    category_total = np.bincount(category, weights=popularity, minlength=n_cat)
    share_in_category = popularity / category_total[category]
    cum_in_category = _within_group_cumsum(share_in_category, np.bincount(category, minlength=n_cat))
    first = np.searchsorted(category, np.arange(n_cat))
    last = np.searchsorted(category, np.arange(n_cat), side="right") - 1
    cum_in_category[last] = 1.0
    names = _product_names(category, rng)
    return _Products(
        ids=_ids("P", count, 5),
        category=category,
        price=price,
        names=names,
        category_cdf=cum_in_category + category,
        first_in_category=first,
        last_in_category=last,
        mean_category_price=np.bincount(category, weights=price * share_in_category, minlength=n_cat),
    )


def _product_names(category: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noun_pick = rng.integers(0, 5, size=len(category))
    nouns = np.array(
        [_NOUNS[_CAT_NAMES[code]][k] for code, k in zip(category, noun_pick, strict=True)], dtype=object
    )
    return _ADJECTIVES[rng.integers(0, len(_ADJECTIVES), size=len(category))] + " " + nouns


def _pick_products(products: _Products, category: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One product per entry of ``category``, drawn by popularity within that category."""
    picked = np.minimum(
        np.searchsorted(products.category_cdf, category + rng.random(len(category)), side="right"),
        products.last_in_category[category],
    )
    return np.maximum(picked, products.first_in_category[category])


# ---- customers --------------------------------------------------------------------------------------


def _archetype_values(field: str, archetype: np.ndarray) -> np.ndarray:
    """The archetype's value of ``field`` for each customer."""
    return np.array([getattr(_SPECS[name], field) for name in ARCHETYPES], dtype=float)[archetype]


def _customers(count: int, horizon: int, drift: _Drift, rng: np.random.Generator) -> _Customers:
    """Customers with their archetype and their own parameters drawn around its values."""
    mix = np.array([_SPECS[name].share for name in ARCHETYPES])
    mix_shift = np.array([-0.06, 0.12, 0.02, 0.02, 0.04, -0.02, -0.04])
    mix = np.clip(mix + drift.strength * mix_shift, 0.01, None)
    archetype = rng.choice(len(ARCHETYPES), size=count, p=mix / mix.sum())
    # The draws of one stream follow each other in this order: signup, behaviour, profile, activity.
    signup = _signup(archetype, horizon, rng)
    behaviour = _behaviour(archetype, drift, rng)
    profile = _profile(archetype, drift, rng)
    activity = _activity(archetype, signup, horizon, rng)
    return _Customers(archetype=archetype, behaviour=behaviour, profile=profile, activity=activity)


def _signup(archetype: np.ndarray, horizon: int, rng: np.random.Generator) -> np.ndarray:
    tenure_days = (
        _archetype_values("tenure_years", archetype) * 365.0 * rng.lognormal(0.0, 0.35, size=len(archetype))
    )
    is_new = archetype == ARCHETYPES.index("new")
    tenure_days = np.where(
        is_new, rng.uniform(10.0, 120.0, size=len(archetype)), np.maximum(tenure_days, 130.0)
    )
    return horizon - tenure_days * _DAY


def _behaviour(archetype: np.ndarray, drift: _Drift, rng: np.random.Generator) -> _Behaviour:
    n = len(archetype)

    def per(field: str) -> np.ndarray:
        return _archetype_values(field, archetype)

    sessions_per_year = per("sessions_per_year") * rng.lognormal(0.0, 0.35, size=n)
    views_per_session = per("views_per_session") * rng.lognormal(0.0, 0.25, size=n)
    funnel_drift = 1.0 - 0.25 * drift.strength
    p_cart = _noisy_prob(per("p_cart") * funnel_drift, 0.3, rng)
    p_buy = _noisy_prob(
        per("p_buy") * (1.0 + 0.1 * drift.strength) / (1.0 + 0.1 * drift.strength * per("p_buy")), 0.3, rng
    )
    quantity = 1.0 + (per("quantity") - 1.0) * rng.lognormal(0.0, 0.3, size=n)
    p_discount = _noisy_prob(per("p_discount"), 0.35, rng)
    p_return = _noisy_prob(per("p_return"), 0.3, rng)
    p_review = _noisy_prob(per("p_review"), 0.3, rng)
    satisfaction = per("satisfaction") + rng.normal(0.0, 0.35, size=n)
    return _Behaviour(
        sessions_per_year=sessions_per_year,
        views_per_session=views_per_session,
        p_cart=p_cart,
        p_buy=p_buy,
        quantity=quantity,
        p_discount=p_discount,
        p_return=p_return,
        p_review=p_review,
        satisfaction=satisfaction,
    )


def _profile(archetype: np.ndarray, drift: _Drift, rng: np.random.Generator) -> _Profile:
    n = len(archetype)
    specs = [_SPECS[name] for name in ARCHETYPES]
    age = np.clip(np.round(_archetype_values("age", archetype) + rng.normal(0, 10, size=n)), 18, 85)
    base_affinity = np.array(
        [[spec.categories.get(name, 0.15) for name in _CAT_NAMES] for spec in specs]
    ) * np.exp(0.4 * drift.strength * drift.direction)
    affinity = rng.gamma(base_affinity[archetype] * 6.0) + 1e-9
    affinity = affinity / affinity.sum(axis=1, keepdims=True)
    affinity_cdf = np.cumsum(affinity, axis=1)
    affinity_cdf[:, -1] = 1.0
    channel_p = np.array([spec.channel_p for spec in specs])
    channel_p = channel_p / channel_p.sum(axis=1, keepdims=True)
    channel = _CHANNELS[_pick_rows(np.cumsum(channel_p, axis=1), archetype, rng)]
    device_p = np.array([spec.device_p for spec in specs])
    device = _DEVICES[
        _pick_rows(np.cumsum(device_p / device_p.sum(1, keepdims=True), axis=1), archetype, rng)
    ]
    country = _COUNTRIES[rng.choice(len(_COUNTRIES), size=n, p=_COUNTRY_P)]
    opted_out = rng.random(n) < 0.03
    return _Profile(
        age=age.astype(np.int64),
        affinity=affinity,
        affinity_cdf=affinity_cdf,
        channel=channel,
        device=device,
        country=country,
        opted_out=opted_out,
    )


def _activity(archetype: np.ndarray, signup: np.ndarray, horizon: int, rng: np.random.Generator) -> _Activity:
    """When each customer is active: from signup (or period start) to period end, or to the lapse."""
    start = np.maximum(signup, 0.0)
    end = np.full(len(archetype), float(horizon))
    is_lapsing = archetype == ARCHETYPES.index("lapsing")
    lapse_at = rng.uniform(0.2, 0.5, size=len(archetype)) * horizon
    end = np.where(is_lapsing, np.maximum(lapse_at, start + 14 * _DAY), end)
    end = np.minimum(end, horizon - 60.0)
    start = np.minimum(start, end - 60.0)
    return _Activity(signup=signup, start=start, end=end)


# ---- anomalies --------------------------------------------------------------------------------------


def _anomalies(count: int, rate: float, rng: np.random.Generator) -> _Anomalies:
    """Which customers are anomalous, the types taken in turn."""
    n_anomalous = int(round(rate * count))
    is_anomalous = np.zeros(count, dtype=bool)
    anomaly_type = np.full(count, None, dtype=object)
    if n_anomalous:
        chosen = rng.choice(count, size=n_anomalous, replace=False)
        is_anomalous[chosen] = True
        anomaly_type[chosen] = np.array(ANOMALY_TYPES, dtype=object)[np.arange(n_anomalous) % 3]
    return _Anomalies(is_anomalous=is_anomalous, anomaly_type=anomaly_type)


def _with_anomalies(
    customers: _Customers, anomalies: _Anomalies, horizon: int, rng: np.random.Generator
) -> _Customers:
    """The customers with the anomalous ones' activity and behaviour overridden."""
    fraud, bot, refund = anomalies.fraud, anomalies.bot, anomalies.refund_abuse
    n = len(fraud)
    behaviour, activity = customers.behaviour, customers.activity
    # Fraud rings open fresh accounts shortly before striking.
    fraud_signup = horizon - rng.uniform(6, 45, size=n) * _DAY
    signup = np.where(fraud, fraud_signup, activity.signup)
    start = np.where(fraud, signup, activity.start)
    end = np.where(fraud, horizon - 60.0, activity.end)
    bot_views = rng.lognormal(np.log(_BOT_VIEWS_PER_SESSION[0]), _BOT_VIEWS_PER_SESSION[1], size=n)
    views_per_session = np.where(bot, bot_views, behaviour.views_per_session)
    bot_sessions = rng.uniform(8, 16, size=n) * _YEAR / np.maximum(end - start, _DAY)
    sessions_per_year = np.where(bot, bot_sessions, behaviour.sessions_per_year)
    p_cart = np.where(
        bot, _noisy_prob(np.full(n, _BOT_CART_RATE[0]), _BOT_CART_RATE[1], rng), behaviour.p_cart
    )
    p_buy = np.where(bot, 0.2, behaviour.p_buy)
    refund_rate = _noisy_prob(np.full(n, _REFUND_RETURN_RATE[0]), _REFUND_RETURN_RATE[1], rng)
    p_return = np.where(refund, refund_rate, behaviour.p_return)
    p_buy = np.where(refund, np.maximum(p_buy, 0.7), p_buy)
    sessions_per_year = np.where(refund, np.maximum(sessions_per_year, 20.0), sessions_per_year)
    return replace(
        customers,
        behaviour=replace(
            behaviour,
            sessions_per_year=sessions_per_year,
            views_per_session=views_per_session,
            p_cart=p_cart,
            p_buy=p_buy,
            p_return=p_return,
        ),
        activity=_Activity(signup=signup, start=start, end=end),
    )


# ---- sessions and events ----------------------------------------------------------------------------


def _sessions(
    customers: _Customers, bot: np.ndarray, calendar: _Calendar, rng: np.random.Generator
) -> _Sessions:
    """Sessions per customer over their active time, placed on the shop's seasonal calendar."""
    activity = customers.activity
    active_years = (activity.end - activity.start) / _YEAR
    n_sessions = 1 + rng.poisson(customers.behaviour.sessions_per_year * active_years)
    customer = np.repeat(np.arange(len(n_sessions)), n_sessions)
    start = _session_starts(customer, customers.archetype, activity, calendar, rng)
    start = start[np.lexsort((start, customer))]  # customer is already grouped
    # Consent banners: only some sessions are tracked in the event log, while every order is recorded.
    tracked = (rng.random(len(customer)) < TRACKED_SESSION_SHARE) | bot[customer]
    return _Sessions(customer=customer, start=start, tracked=tracked)


def _session_starts(
    customer: np.ndarray,
    archetype: np.ndarray,
    activity: _Activity,
    calendar: _Calendar,
    rng: np.random.Generator,
) -> np.ndarray:
    starts = np.empty(len(customer))
    is_bargain_session = archetype[customer] == ARCHETYPES.index("bargain_hunter")
    grid = np.arange(calendar.days + 1, dtype=float)
    for bargain in (True, False):
        # Two calendars only: bargain hunters get a Black-Friday spike, everyone else shares one.
        intensity = _daily_intensity(calendar.days, calendar.period_start, bargain)
        cdf = np.concatenate([[0.0], np.cumsum(intensity)])
        mask = is_bargain_session == bargain
        size = mask.sum()
        first_day = activity.start[customer[mask]] / _DAY
        last_day = activity.end[customer[mask]] / _DAY
        lo, hi = np.interp(first_day, grid, cdf), np.interp(last_day, grid, cdf)
        day_pos = np.interp(lo + rng.random(size) * (hi - lo), cdf, grid)
        hour = rng.choice(24, size=size, p=_HOUR_P)
        seconds = np.floor(day_pos) * _DAY + hour * 3600 + rng.uniform(0, 3600, size=size)
        starts[mask] = np.clip(seconds, activity.start[customer[mask]], activity.end[customer[mask]] - 1.0)
    return starts


def _browsing(
    sessions: _Sessions,
    customers: _Customers,
    bot: np.ndarray,
    products: _Products,
    rng: np.random.Generator,
) -> _Browsing:
    """Views within each session, the carted views and the carts bought at the session's end."""
    behaviour = customers.behaviour
    views_per_session = 1 + rng.poisson(np.maximum(behaviour.views_per_session[sessions.customer] - 1.0, 0.0))
    view_session = np.repeat(np.arange(sessions.count), views_per_session)
    view_customer = sessions.customer[view_session]
    gap_scale = np.where(bot[view_customer], 2.0, 45.0)
    gaps = rng.exponential(gap_scale)
    view_time = sessions.start[view_session] + _within_group_cumsum(gaps, views_per_session)
    view_category = _pick_rows(customers.profile.affinity_cdf, view_customer, rng)
    view_product = _pick_products(products, view_category, rng)
    carted = rng.random(len(view_customer)) < behaviour.p_cart[view_customer]
    carted_views = np.flatnonzero(carted)
    cart_time = view_time[carted_views] + rng.uniform(3, 40, size=len(carted_views))
    bought = rng.random(len(carted_views)) < behaviour.p_buy[view_customer[carted_views]]
    bought_views = carted_views[bought]
    session_end = view_time[np.cumsum(views_per_session) - 1]  # view times increase within a session
    purchase_session = view_session[bought_views]
    purchase_time = session_end[purchase_session] + 60.0 + rng.uniform(0, 5, size=len(bought_views))
    return _Browsing(
        view_session=view_session,
        view_customer=view_customer,
        view_time=view_time,
        view_product=view_product,
        carted_views=carted_views,
        cart_time=cart_time,
        bought_views=bought_views,
        purchase_session=purchase_session,
        purchase_time=purchase_time,
    )


# ---- orders, returns, reviews -----------------------------------------------------------------------


def _fraud_orders(
    fraud: np.ndarray,
    signup: np.ndarray,
    price: np.ndarray,
    first_session: int,
    horizon: int,
    rng: np.random.Generator,
) -> _FraudOrders:
    """Fraud bursts: orders within days of signup of pricier products, a few with one large basket."""
    fraud_customers = np.flatnonzero(fraud)
    if not len(fraud_customers):
        no_rows = np.array([], dtype=np.int64)
        no_times = np.array([], dtype=float)
        return _FraudOrders(
            order_count=0, customer=no_rows, product=no_rows, session=no_rows, time=no_times, quantity=no_rows
        )
    n_customers = len(fraud_customers)
    extra_orders = rng.lognormal(np.log(_FRAUD_EXTRA_ORDERS[0]), _FRAUD_EXTRA_ORDERS[1], size=n_customers)
    n_orders = 1 + rng.poisson(extra_orders)
    order_customer = np.repeat(fraud_customers, n_orders)
    n_fraud_orders = len(order_customer)
    burst_start = signup[order_customer] + rng.uniform(0.1, 3, size=n_fraud_orders) * _DAY
    order_time = np.minimum(burst_start + rng.uniform(0, 8, size=n_fraud_orders) * _DAY, horizon - 120.0)
    lines_per_order = 1 + rng.poisson(1.5, size=n_fraud_orders)
    line_order = np.repeat(np.arange(n_fraud_orders), lines_per_order)
    pricier = np.flatnonzero(price >= np.quantile(price, 0.5))
    product = pricier[rng.integers(0, len(pricier), size=len(line_order))]
    extra_units = rng.lognormal(np.log(_FRAUD_EXTRA_UNITS[0]), _FRAUD_EXTRA_UNITS[1], size=n_customers)
    quantity = 1 + rng.poisson(np.repeat(np.repeat(extra_units, n_orders), lines_per_order))
    first_line = np.searchsorted(line_order, np.arange(n_fraud_orders))
    n_large = min(max(1, n_customers // 8), n_fraud_orders)
    large = first_line[rng.choice(n_fraud_orders, size=n_large, replace=False)]
    basket = rng.lognormal(np.log(_FRAUD_LARGE_BASKET[0]), _FRAUD_LARGE_BASKET[1], size=n_large)
    quantity[large] = np.maximum(np.round(basket), 1).astype(quantity.dtype)
    order_session = first_session + np.arange(n_fraud_orders)
    line_gaps = rng.exponential(20, size=len(line_order))
    return _FraudOrders(
        order_count=n_fraud_orders,
        customer=order_customer[line_order],
        product=product,
        session=order_session[line_order],
        time=order_time[line_order] + _within_group_cumsum(line_gaps, lines_per_order),
        quantity=quantity,
    )


def _order_lines(
    browsing: _Browsing,
    fraud: _FraudOrders,
    customers: _Customers,
    price: np.ndarray,
    horizon: int,
    rng: np.random.Generator,
) -> _OrderLines:
    """Order lines of the bought carts (quantity, discount) followed by the fraud orders' lines."""
    customer = browsing.view_customer[browsing.bought_views]
    quantity = 1 + rng.poisson(np.maximum(customers.behaviour.quantity[customer] - 1.0, 0.0))
    discount_levels = np.array([0.1, 0.2, 0.3])
    discounted = rng.random(len(customer)) < customers.behaviour.p_discount[customer]
    discount = np.where(discounted, discount_levels[rng.integers(0, 3, size=len(customer))], 0.0)
    product = np.concatenate([browsing.view_product[browsing.bought_views], fraud.product])
    discount = np.concatenate([discount, np.zeros(len(fraud.customer))])
    return _OrderLines(
        customer=np.concatenate([customer, fraud.customer]),
        product=product,
        session=np.concatenate([browsing.purchase_session, fraud.session]),
        time=np.concatenate([browsing.purchase_time, np.minimum(fraud.time + 120.0, horizon - 1.0)]),
        quantity=np.concatenate([quantity, fraud.quantity]),
        discount=discount,
        unit_price=np.round(price[product] * (1.0 - discount), 2),
    )


def _returns(lines: _OrderLines, p_return: np.ndarray, horizon: int, rng: np.random.Generator) -> _Returns:
    """Returned lines, a few days after the order; returns after the period are unseen."""
    returned = rng.random(len(lines.customer)) < p_return[lines.customer]
    line = np.flatnonzero(returned)
    time = lines.time[line] + rng.uniform(2, 30, size=len(line)) * _DAY
    seen = time < horizon - 1.0
    return _Returns(returned=returned, line=line[seen], time=time[seen])


def _reviews(
    lines: _OrderLines,
    returns: _Returns,
    behaviour: _Behaviour,
    product_category: np.ndarray,
    horizon: int,
    rng: np.random.Generator,
    text_rng: np.random.Generator,
) -> _Reviews:
    """Reviewed lines with a rating that follows satisfaction (lower if returned) and its text."""
    reviewed = rng.random(len(lines.customer)) < behaviour.p_review[lines.customer]
    line = np.flatnonzero(reviewed)
    time = lines.time[line] + rng.uniform(3, 25, size=len(line)) * _DAY
    seen = time < horizon - 1.0
    line, time = line[seen], time[seen]
    latent = (
        3.7
        + behaviour.satisfaction[lines.customer[line]]
        - 1.8 * returns.returned[line]
        + rng.normal(0, 0.9, size=len(line))
    )
    rating = np.clip(np.round(latent), 1, 5).astype(np.int64)
    categories = np.array(_CAT_NAMES, dtype=object)[product_category[lines.product[line]]]
    text = review_texts(rating, categories, text_rng)
    return _Reviews(line=line, time=time, rating=rating, text=text)


# ---- tables -----------------------------------------------------------------------------------------


def _timestamps(period_start: pd.Timestamp, seconds: np.ndarray) -> pd.Series:
    ns = (period_start.value + np.round(seconds * 1e9).astype(np.int64)).astype("datetime64[ns]")
    return pd.Series(pd.DatetimeIndex(ns).tz_localize("UTC"))


def _categorical(codes: np.ndarray, labels: np.ndarray) -> pd.Categorical:
    # Ids as categoricals keep the frames cheap to build and to coerce.
    return pd.Categorical.from_codes(codes, categories=pd.Index(labels, dtype=object), validate=False)


def _events_table(
    browsing: _Browsing,
    lines: _OrderLines,
    fraud: _FraudOrders,
    sessions: _Sessions,
    ids: _Ids,
    products: _Products,
    calendar: _Calendar,
) -> pd.DataFrame:
    """The tracked sessions' views, carts and purchases, and every fraud order's, in time order."""
    carted = browsing.carted_views
    n_fraud_lines = len(fraud.customer)
    fraud_view_time = np.minimum(fraud.time, calendar.horizon - 3.0)
    customer = np.concatenate([browsing.view_customer, browsing.view_customer[carted], lines.customer])
    customer = np.concatenate([customer, fraud.customer, fraud.customer])
    product = np.concatenate([browsing.view_product, browsing.view_product[carted], lines.product])
    product = np.concatenate([product, fraud.product, fraud.product])
    event_type = np.concatenate(
        [
            np.zeros(len(browsing.view_customer), np.int8),
            np.ones(len(carted), np.int8),
            np.full(len(lines.customer), 2, np.int8),
            np.zeros(n_fraud_lines, np.int8),
            np.ones(n_fraud_lines, np.int8),
        ]
    )
    time = np.concatenate(
        [browsing.view_time, browsing.cart_time, lines.time, fraud_view_time, fraud_view_time + 1.0]
    )
    session = np.concatenate([browsing.view_session, browsing.view_session[carted], lines.session])
    session = np.concatenate([session, fraud.session, fraud.session])
    kept = np.concatenate([sessions.tracked, np.ones(fraud.order_count, dtype=bool)])[session]
    time = np.minimum(time[kept], calendar.horizon - 1.0)
    in_time_order = np.argsort(time, kind="stable")
    return pd.DataFrame(
        {
            "customer_id": _categorical(customer[kept][in_time_order], ids.customers),
            "product_id": _categorical(product[kept][in_time_order], products.ids),
            "event_type": _categorical(event_type[kept][in_time_order], np.array(EVENT_TYPES, dtype=object)),
            "ts": _timestamps(calendar.period_start, time[in_time_order]),
            "session_id": _categorical(session[kept][in_time_order], ids.sessions),
        }
    )


def _orders_table(
    lines: _OrderLines, returns: _Returns, ids: _Ids, products: _Products, calendar: _Calendar
) -> pd.DataFrame:
    """One row per order line and one per return, ordered by customer and time."""
    purchasing_sessions, order_number = np.unique(lines.session, return_inverse=True)
    order_ids = _ids("O", len(purchasing_sessions), 7)
    rows = np.concatenate([np.arange(len(lines.customer)), returns.line])
    time = np.concatenate([lines.time, returns.time])
    is_return = np.concatenate([np.zeros(len(lines.customer), bool), np.ones(len(returns.line), bool)])
    ordered = np.lexsort((time, lines.customer[rows]))
    rows, time, is_return = rows[ordered], time[ordered], is_return[ordered]
    return pd.DataFrame(
        {
            "order_id": _categorical(order_number[rows], order_ids),
            "customer_id": _categorical(lines.customer[rows], ids.customers),
            "product_id": _categorical(lines.product[rows], products.ids),
            "quantity": lines.quantity[rows].astype(np.int64),
            "unit_price": lines.unit_price[rows],
            "ts": _timestamps(calendar.period_start, time),
            "is_return": is_return,
            "discount": lines.discount[rows],
        }
    )


def _reviews_table(
    reviews: _Reviews, lines: _OrderLines, ids: _Ids, products: _Products, calendar: _Calendar
) -> pd.DataFrame:
    in_time_order = np.argsort(reviews.time, kind="stable")
    line = reviews.line[in_time_order]
    return pd.DataFrame(
        {
            "review_id": _ids("R", len(reviews.line), 7),
            "customer_id": ids.customers[lines.customer[line]],
            "product_id": products.ids[lines.product[line]],
            "rating": reviews.rating[in_time_order],
            "text": reviews.text[in_time_order],
            "ts": _timestamps(calendar.period_start, reviews.time[in_time_order]),
        }
    )


def _customers_table(customers: _Customers, ids: _Ids, calendar: _Calendar) -> pd.DataFrame:
    profile = customers.profile
    return pd.DataFrame(
        {
            "customer_id": ids.customers,
            "signup_ts": _timestamps(calendar.period_start, np.floor(customers.activity.signup)),
            "country": profile.country,
            "channel": profile.channel,
            "opted_out": profile.opted_out,
            "age": profile.age,
            "device": profile.device,
        }
    )


def _products_table(products: _Products) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "product_id": products.ids,
            "category": np.array(_CAT_NAMES, dtype=object)[products.category],
            "price": products.price,
            "name": products.names,
        }
    )


# ---- campaign truth and the realised wave 1 ---------------------------------------------------------


def _latent_frame(
    customers: _Customers, anomalies: _Anomalies, products: _Products, ids: _Ids, sent_sec: float
) -> pd.DataFrame:
    """Each customer's archetype, anomaly and latent parameters as of a send at ``sent_sec``."""
    behaviour, activity = customers.behaviour, customers.activity
    vps, p_cart, p_buy = behaviour.views_per_session, behaviour.p_cart, behaviour.p_buy
    purchase_session_share = 1.0 - np.exp(-vps * p_cart * p_buy)  # P(session ends in an order)
    lines_per_order = np.maximum(vps * p_cart * p_buy, 1e-3) / np.maximum(purchase_session_share, 1e-3)
    line_value = (
        behaviour.quantity
        * (customers.profile.affinity @ products.mean_category_price)
        * (1.0 - 0.2 * behaviour.p_discount)
    )
    return pd.DataFrame(
        {
            "customer_id": ids.customers,
            "archetype": np.array(ARCHETYPES, dtype=object)[customers.archetype],
            "is_anomalous": anomalies.is_anomalous,
            "anomaly_type": anomalies.anomaly_type,
            "sessions_per_year": behaviour.sessions_per_year,
            "purchase_session_share": purchase_session_share,
            "p_cart": p_cart,
            "p_discount": behaviour.p_discount,
            "quantity_mean": behaviour.quantity,
            "tenure_days_at_send": (sent_sec - activity.signup) / _DAY,
            "days_since_active_at_send": np.maximum(sent_sec - activity.end, 0.0) / _DAY,
            "active_at_send": (activity.end >= sent_sec) & (activity.start <= sent_sec),
            "expected_order_value": np.round(lines_per_order * line_value, 2),
        }
    )


def _wave_send_seconds(calendar: _Calendar, count: int) -> np.ndarray:
    """Send times of ``count`` waves in seconds since the period start: 10:00, wave 1 first."""
    first = calendar.horizon - WAVE1_DAYS_BEFORE_END * _DAY + 10 * 3600.0
    return first + np.arange(count) * WAVE_SPACING_DAYS * _DAY


def _randomised_plan(
    customer_ids: np.ndarray, eligible: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    """A random third each of both offers and the holdout, over the eligible customers."""
    arm = rng.integers(0, 3, size=len(customer_ids))
    return pd.DataFrame(
        {
            "customer_id": customer_ids[eligible],
            "offer": np.array([*OFFERS, None], dtype=object)[arm[eligible]],
            "group": np.where(arm[eligible] == 2, "holdout", "treatment"),
        }
    )


def _wave(
    number: int,
    sent_sec: float,
    customers: _Customers,
    anomalies: _Anomalies,
    products: _Products,
    ids: _Ids,
    calendar: _Calendar,
    noise_rng: np.random.Generator,
    rng: np.random.Generator,
) -> _Wave:
    """Wave ``number``: its truth as of the send, and its randomised plan executed.

    ``noise_rng`` draws the per-customer effect noise and ``rng`` the plan and outcomes; only customers
    who signed up before the send take part.
    """
    latent = _latent_frame(customers, anomalies, products, ids, sent_sec)
    customers_truth, effects = campaign_truth(latent, WAVE1_WINDOW_DAYS, noise_rng)
    sent_ts = pd.Timestamp(calendar.period_start.value + int(sent_sec * 1e9), tz="UTC")
    plan = _randomised_plan(ids.customers, customers.activity.signup < sent_sec, rng)
    campaign_id = f"wave-{number}"
    truth = {"customers_truth": customers_truth, "effects": effects}
    campaigns = realised_outcomes(plan, truth, rng, sent_ts, campaign_id)
    return _Wave(campaign_id, sent_ts, customers_truth, effects, campaigns)


def _wave_truth(waves: list[_Wave]) -> dict[str, pd.DataFrame]:
    """Per-wave truth: the waves' send times and each wave's baseline and effects per customer × offer."""
    schedule = pd.DataFrame(
        {
            "campaign_id": [wave.campaign_id for wave in waves],
            "sent_ts": pd.DatetimeIndex([wave.sent_ts for wave in waves]),
            "window_days": WAVE1_WINDOW_DAYS,
            "contacted": [len(wave.campaigns) for wave in waves],
        }
    )
    frames = []
    for wave in waves:
        baseline = wave.customers_truth.set_index("customer_id")["baseline_conversion"]
        effects = wave.effects.assign(
            baseline_conversion=baseline.loc[wave.effects["customer_id"]].to_numpy()
        )
        frames.append(effects.assign(campaign_id=wave.campaign_id))
    columns = ["campaign_id", "customer_id", "offer", "baseline_conversion", "true_uplift"]
    wave_effects = pd.concat(frames, ignore_index=True)[[*columns, "true_incremental_revenue"]]
    return {"waves": schedule, "wave_effects": wave_effects}


def _waves(
    count: int,
    customers: _Customers,
    anomalies: _Anomalies,
    products: _Products,
    ids: _Ids,
    calendar: _Calendar,
    streams: _Streams,
) -> _Waves:
    """The campaign truth and ``count`` executed waves, 14 days apart from 60 days before the period end.

    Wave 1 draws everything from the campaign stream, as a shop of one wave always has. Later waves draw
    their plans and outcomes from their own stream and reuse wave 1's per-customer effect noise, so a
    customer's effects change between waves only with tenure and activity at the send.
    """
    noise_state = copy.deepcopy(streams.campaign)
    sends = _wave_send_seconds(calendar, count)
    args = (customers, anomalies, products, ids, calendar)
    waves = [_wave(1, float(sends[0]), *args, streams.campaign, streams.campaign)]
    for number in range(2, count + 1):
        noise_rng = copy.deepcopy(noise_state)
        waves.append(_wave(number, float(sends[number - 1]), *args, noise_rng, streams.waves))
    first = waves[0]
    customers_truth = first.customers_truth
    customers_truth.attrs.update(
        {
            "period_start": calendar.period_start,
            "period_end": calendar.period_end,
            "wave1_sent_ts": first.sent_ts,
            "waves": count,
        }
    )
    truth = {"customers_truth": customers_truth, "effects": first.effects, **_wave_truth(waves)}
    campaigns = pd.concat([wave.campaigns for wave in waves], ignore_index=True)
    return _Waves(truth=truth, campaigns=campaigns)


# ---- the shop ---------------------------------------------------------------------------------------


def generate_shop(settings: GenerateSettings) -> GeneratedShop:
    """A synthetic shop with planted archetypes, campaign effects and anomalies.

    Each step draws from its own random stream, so the shop is a pure function of ``settings``.

    Args:
        settings: size (customers, products, days), anomaly_rate, drift in [0, 1], the number of
            campaign waves and seed. ``drift > 0`` yields the *next* period (starting where the
            drift-free one ends) with a shifted archetype mix, higher prices, changed funnel rates and
            category popularity. Each wave is randomised on its own over the customers signed up before
            its send; a shop of one wave is the same whatever its other settings' later waves would be.

    Returns:
        The six canonical tables and the truth frames.
    """
    streams = _streams(settings.seed)
    calendar = _calendar(settings.days, float(settings.drift))
    drift = _drift(float(settings.drift))
    horizon = calendar.horizon
    products = _products(settings.products, drift, streams.products)
    anomalies = _anomalies(settings.customers, settings.anomaly_rate, streams.anomalies)
    customers = _with_anomalies(
        _customers(settings.customers, horizon, drift, streams.customers),
        anomalies,
        horizon,
        streams.anomalies,
    )
    sessions = _sessions(customers, anomalies.bot, calendar, streams.sessions)
    browsing = _browsing(sessions, customers, anomalies.bot, products, streams.events)
    fraud = _fraud_orders(
        anomalies.fraud, customers.activity.signup, products.price, sessions.count, horizon, streams.fraud
    )
    lines = _order_lines(browsing, fraud, customers, products.price, horizon, streams.orders)
    returns = _returns(lines, customers.behaviour.p_return, horizon, streams.returns)
    reviews = _reviews(
        lines, returns, customers.behaviour, products.category, horizon, streams.reviews, streams.text
    )
    ids = _Ids(
        customers=_ids("C", settings.customers, 6), sessions=_ids("S", sessions.count + fraud.order_count, 7)
    )
    waves = _waves(settings.waves, customers, anomalies, products, ids, calendar, streams)
    tables = Tables(
        customers=coerce_table("customers", _customers_table(customers, ids, calendar)),
        products=coerce_table("products", _products_table(products)),
        events=coerce_table(
            "events", _events_table(browsing, lines, fraud, sessions, ids, products, calendar)
        ),
        orders=coerce_table("orders", _orders_table(lines, returns, ids, products, calendar)),
        reviews=coerce_table("reviews", _reviews_table(reviews, lines, ids, products, calendar)),
        campaigns=coerce_table("campaigns", waves.campaigns),
    )
    return GeneratedShop(tables=tables, truth=trapped_truth(waves.truth, settings.trap))
