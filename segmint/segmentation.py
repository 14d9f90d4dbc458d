"""Customer segmentation with model selection, RFM value tiers, readable names and profiles.

Value tiers from predicted lifetime value (:func:`clv_tiers`) replace the RFM ones wherever a CLV
model is trusted; the RFM tiers are the fallback.

Pipeline: feature columns (behavioural columns; one-hot/attribute columns only with
``include_attributes``) → signed ``log1p`` of heavy-tailed columns (|skew| > 1 at fit time) →
standard scaling, clipped to ±5 so a handful of extreme customers cannot own a cluster → optional
PCA (``pca_variance``).

Candidates: every algorithm in ``settings.algorithms`` (allow-list :data:`ALGORITHMS`) for every k in
``[k_min, k_max]`` (HDBSCAN picks its own k, so it is one candidate). Each is fitted on a sample of
``sample_size`` customers (agglomerative and HDBSCAN on at most :data:`QUADRATIC_SAMPLE`); the rest
are assigned by ``predict`` (k-means, GMM) or the nearest cluster centroid (agglomerative, HDBSCAN).

Selection rule: on an evaluation sample of ``eval_sample_size`` customers compute silhouette (↑),
Davies–Bouldin (↓), Calinski–Harabasz (↑), BIC for GMM, and bootstrap stability (↑, mean ARI between
the candidate and ``bootstrap_rounds`` refits on resamples of its fit sample, compared on the
evaluation sample). Candidates whose stability is below ``min_stability`` are dropped (unless none
pass); the rest are ranked by the mean of their percentile ranks on silhouette, Davies–Bouldin and
stability; ties go to the smaller k. Within GMM, only the k with the lowest BIC competes.
The rule-based RFM segments are scored on the same sample and reported as a baseline row.

Without behaviour (nobody has an order, event or review before the cutoff: every count in
:data:`ACTIVITY_COLUMNS` is 0) the behavioural columns only restate the signup date, so the
segmenter clusters on the customers' own attributes instead (:func:`attribute_columns`: numeric
``attr_*`` and one-hot ``<column>__<level>`` columns as the features stage builds them, plus
``tenure_days``) and records ``basis="attributes"``. When nothing varies at all, or there are too
few customers, it raises :class:`~segmint.contracts.NothingToDoError`: the stage is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import HDBSCAN, AgglomerativeClustering, KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    normalized_mutual_info_score,
    silhouette_score,
)
from sklearn.mixture import GaussianMixture

from segmint.contracts import NothingToDoError
from segmint.nlp import review_keywords
from segmint.settings import SegmentSettings

ALGORITHMS: tuple[str, ...] = ("kmeans", "gmm", "hdbscan", "agglomerative")
QUADRATIC_SAMPLE = 5_000
# Their fit cost grows with the square of the rows, so they train on at most QUADRATIC_SAMPLE.
_QUADRATIC_ALGORITHMS = ("agglomerative", "hdbscan")
RFM_COLUMNS: tuple[str, str, str] = ("recency_days", "frequency", "monetary")
VALUE_TIERS: tuple[str, str, str] = ("low", "mid", "high")
_CLIP = 5.0
# Counts of a customer's own orders, events and reviews: all zero means there is no behaviour.
ACTIVITY_COLUMNS: tuple[str, ...] = (
    "frequency",
    "return_orders",
    "views",
    "carts",
    "purchase_events",
    "sessions",
    "review_count",
)
# What the segmenter clustered on: behavioural columns, or the customers' attributes without them.
BASES: tuple[str, str] = ("behaviour", "attributes")


@dataclass(frozen=True)
class StabilityResult:
    """Agreement between two assignments of the same customers.

    Attributes:
        ari: Adjusted Rand index.
        nmi: Normalised mutual information.
        migration: ``[from_segment, to_segment, customers, share_of_from]``, one row per pair seen.
    """

    ari: float
    nmi: float
    migration: pd.DataFrame


@dataclass(frozen=True)
class _Preprocessor:
    """The fitted preprocessing (exported as :data:`FeatureScaler`).

    Attributes:
        columns: Feature columns used, in order.
        log_columns: Those that get a signed ``log1p`` (heavy-tailed at fit time).
        mean: Fit-time mean per column, after the log.
        scale: Fit-time standard deviation per column (1 where constant).
        pca: The fitted PCA, or None.
    """

    columns: tuple[str, ...]
    log_columns: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    pca: PCA | None

    def transform(self, features: pd.DataFrame) -> np.ndarray:
        """The scaled (and projected, with PCA) matrix of ``features``, one row per customer.

        Raises:
            ValueError: ``features`` lack a fitted column other than a category share.
        """
        z = self.standard_scores(features)
        return self.pca.transform(z) if self.pca is not None else z

    def standard_scores(self, features: pd.DataFrame) -> np.ndarray:
        """The clipped standard scores of ``features`` in :attr:`columns` (after the signed log).

        Raises:
            ValueError: ``features`` lack a fitted column other than a category share.
        """
        missing = [column for column in self.columns if column not in features.columns]
        # A category nobody bought or browsed in the new data is a share of 0, and an attribute
        # level nobody has is a one-hot 0: neither is a broken input.
        hard = [column for column in missing if "_share_" not in column and "__" not in column]
        if hard:
            raise ValueError(f"features lack columns the segmenter was fitted on: {hard}")
        x = features.reindex(columns=list(self.columns), fill_value=0.0).to_numpy(dtype=float, copy=True)
        x = _finite(x)
        log_idx = [self.columns.index(column) for column in self.log_columns]
        if log_idx:
            x[:, log_idx] = _signed_log1p(x[:, log_idx])
        return _standardised(x, self.mean, self.scale)


def _finite(x: np.ndarray) -> np.ndarray:
    return np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)


def _signed_log1p(x: np.ndarray) -> np.ndarray:
    """``log1p`` of the magnitude with the sign kept, which tames heavy tails on either side."""
    return np.sign(x) * np.log1p(np.abs(x))


def _standardised(x: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Standard scores clipped to ±_CLIP, so a handful of extreme customers cannot own a cluster."""
    return np.clip((x - mean) / scale, -_CLIP, _CLIP)


def _is_attribute(column: str) -> bool:
    return "__" in column or column.startswith("attr_")


def segment_feature_columns(
    features: pd.DataFrame, include_attributes: bool = False, columns: tuple[str, ...] = ()
) -> list[str]:
    """The numeric columns the segmenter clusters on.

    ``columns`` names the behavioural columns to use (a trailing ``*`` matches a prefix); names the
    frame lacks are skipped, and when none match, every non-attribute numeric column is used. A few
    non-redundant signals separate customers far better than every count and window at once.
    """
    numeric = [
        column
        for column in features.columns
        if column != "customer_id" and pd.api.types.is_numeric_dtype(features[column].dtype)
    ]
    chosen = []
    for column in numeric:
        if _is_attribute(column):
            if include_attributes:
                chosen.append(column)
            continue
        if not columns or any(_matches(column, pattern) for pattern in columns):
            chosen.append(column)
    if not [column for column in chosen if not _is_attribute(column)] and columns:
        return segment_feature_columns(features, include_attributes)
    return chosen


def _matches(column: str, pattern: str) -> bool:
    """Whether ``column`` is ``pattern``, or starts with it when the pattern ends in ``*``."""
    return column == pattern or (pattern.endswith("*") and column.startswith(pattern[:-1]))


def has_behaviour(features: pd.DataFrame) -> bool:
    """Whether any customer has an order, event or review before the cutoff.

    True as well when ``features`` carry none of :data:`ACTIVITY_COLUMNS` (then only the
    behavioural columns given can tell, and they are trusted).
    """
    present = [column for column in ACTIVITY_COLUMNS if column in features.columns]
    if not present:
        return True
    return bool(np.any(_finite(features[present].to_numpy(dtype=float)) != 0))


def attribute_columns(features: pd.DataFrame) -> list[str]:
    """The customers' own numeric columns: ``tenure_days`` (from the signup date) and the attributes.

    Attributes are what the features stage builds from the customers table: numeric ``attr_*``
    columns and one-hot ``<column>__<level>`` columns.
    """
    numeric = [
        column
        for column in features.columns
        if column != "customer_id" and pd.api.types.is_numeric_dtype(features[column].dtype)
    ]
    return [column for column in numeric if column == "tenure_days" or _is_attribute(column)]


def _varying(features: pd.DataFrame, columns: list[str]) -> list[str]:
    """The ``columns`` whose values are not all the same (non-finite values count as 0)."""
    if not columns:
        return []
    # The range, not the standard deviation: rounding gives a constant column a tiny nonzero sd.
    spread = np.ptp(_finite(features[columns].to_numpy(dtype=float)), axis=0)
    return [column for column, width in zip(columns, spread, strict=True) if width > 0]


@dataclass(frozen=True)
class _ColumnChoice:
    """The columns the segmenter clusters on and why.

    Attributes:
        columns: Non-constant numeric columns, in frame order.
        basis: ``behaviour`` or ``attributes`` (see :data:`BASES`).
    """

    columns: list[str]
    basis: str


def _clustered_columns(features: pd.DataFrame, settings: SegmentSettings) -> _ColumnChoice:
    """Behavioural columns when there is behaviour, else the customers' attributes.

    Raises:
        NothingToDoError: neither gives a column that varies.
    """
    chosen = segment_feature_columns(features, settings.include_attributes, settings.columns)
    behaviour = _varying(features, chosen)
    if behaviour and has_behaviour(features):
        return _ColumnChoice(behaviour, "behaviour")
    attributes = _varying(features, attribute_columns(features))
    if attributes:
        return _ColumnChoice(attributes, "attributes")
    raise NothingToDoError(
        "no non-constant numeric feature columns to segment on: no customer has behaviour "
        "(orders, events or reviews) and no customer attribute varies"
    )


FeatureScaler = _Preprocessor


def fit_feature_scaler(features: pd.DataFrame, include_attributes: bool = False) -> FeatureScaler:
    """The segmenter's preprocessing (signed log1p of heavy tails, standard scaling, no PCA) on its own.

    It scales the behavioural columns (and the attributes with ``include_attributes``) that vary.

    Raises:
        NothingToDoError: none of them varies.
    """
    settings = SegmentSettings(include_attributes=include_attributes)
    columns = _varying(features, segment_feature_columns(features, include_attributes, settings.columns))
    if not columns:
        raise NothingToDoError("no non-constant numeric feature columns to scale")
    return _fit_preprocessor(features, columns, settings, np.random.default_rng(settings.seed))


def _fit_preprocessor(
    features: pd.DataFrame, columns: list[str], settings: SegmentSettings, rng: np.random.Generator
) -> _Preprocessor:
    """Signed-log flags, means, scales (and PCA) of the non-constant ``columns``."""
    x = _finite(features[columns].to_numpy(dtype=float))
    skew = pd.DataFrame(x).skew().to_numpy()
    log_mask = np.abs(np.nan_to_num(skew)) > 1.0
    x[:, log_mask] = _signed_log1p(x[:, log_mask])
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    pca = None
    if settings.pca_variance is not None and settings.pca_variance < 1.0:
        z = _standardised(x, mean, scale)
        sample = z[rng.choice(len(z), min(len(z), settings.sample_size), replace=False)]
        pca = PCA(n_components=settings.pca_variance, random_state=settings.seed).fit(sample)
    log_columns = tuple(column for column, logged in zip(columns, log_mask, strict=True) if logged)
    return _Preprocessor(tuple(columns), log_columns, mean, scale, pca)


@dataclass(frozen=True)
class _Model:
    """A fitted clusterer; algorithms without ``predict`` assign to the nearest centroid."""

    algorithm: str
    k: int
    estimator: Any
    centroids: np.ndarray

    def predict(self, z: np.ndarray) -> np.ndarray:
        """Cluster label per row of the transformed matrix ``z``."""
        if self.algorithm in ("kmeans", "gmm"):
            return np.asarray(self.estimator.predict(z), dtype=int)
        return _nearest(z, self.centroids)


def _nearest(z: np.ndarray, centroids: np.ndarray, batch: int = 200_000) -> np.ndarray:
    out = np.empty(len(z), dtype=int)
    c2 = (centroids**2).sum(axis=1)
    for start in range(0, len(z), batch):
        block = z[start : start + batch]
        out[start : start + batch] = np.argmin(c2[None, :] - 2.0 * block @ centroids.T, axis=1)
    return out


def _centroids(z: np.ndarray, labels: np.ndarray) -> np.ndarray:
    ids = np.unique(labels[labels >= 0])
    return np.vstack([z[labels == i].mean(axis=0) for i in ids])


def _fit_model(algorithm: str, k: int, z: np.ndarray, settings: SegmentSettings, seed: int) -> _Model:
    if algorithm == "kmeans":
        est = KMeans(n_clusters=k, n_init=settings.n_init, random_state=seed).fit(z)
        return _Model(algorithm, k, est, est.cluster_centers_)
    if algorithm == "gmm":
        est = GaussianMixture(
            n_components=k,
            covariance_type="full",
            n_init=1,
            init_params="k-means++",
            random_state=seed,
            reg_covar=1e-4,
        ).fit(z)
        return _Model(algorithm, k, est, est.means_)
    if algorithm == "agglomerative":
        labels = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(z)
        return _Model(algorithm, k, None, _centroids(z, labels))
    if algorithm == "hdbscan":
        min_size = max(10, len(z) // 100)
        labels = HDBSCAN(min_cluster_size=min_size, min_samples=10, copy=True).fit_predict(z)
        if (labels >= 0).sum() == 0 or len(np.unique(labels[labels >= 0])) < 2:
            labels = np.zeros(len(z), dtype=int)
            labels[: len(z) // 2] = 1
        cents = _centroids(z, labels)
        return _Model(algorithm, len(cents), None, cents)
    raise ValueError(f"unknown algorithm {algorithm!r}; valid algorithms: {', '.join(ALGORITHMS)}")


def _rfm_values(features: pd.DataFrame, column: str) -> np.ndarray:
    if column not in features:
        return np.zeros(len(features))
    return features[column].to_numpy(dtype=float)


def _rfm_scores(features: pd.DataFrame, edges: dict[str, np.ndarray]) -> pd.DataFrame:
    out = {}
    for column in RFM_COLUMNS:
        score = np.searchsorted(edges[column], _rfm_values(features, column), side="right") + 1
        # Recency: fewer days is better, so the score runs against the value.
        out[column] = 6 - score if column == "recency_days" else score
    return pd.DataFrame(out, index=features.index)


def _rfm_total(features: pd.DataFrame, edges: dict[str, np.ndarray]) -> np.ndarray:
    """The sum of the R, F and M scores (3–15) per row: what the value tiers cut."""
    return _rfm_scores(features, edges).sum(axis=1).to_numpy()


def clv_tiers(clv: pd.Series, quantiles: tuple[float, float]) -> pd.Series:
    """Value tier (``low``/``mid``/``high``) per row from predicted CLV, cut at ``quantiles`` of the
    predictions (below the first ``low``, below the second ``mid``, the rest ``high``); a row with no
    prediction gets no tier (None).

    Raises:
        ValueError: no row has a prediction.
    """
    values = pd.to_numeric(clv, errors="coerce").astype(float)
    known = values.notna().to_numpy()
    if not known.any():
        raise ValueError("no predicted CLV to cut into tiers")
    edges = np.quantile(values[known], list(quantiles))
    tiers = np.array(VALUE_TIERS, dtype=object)[np.searchsorted(edges, values.fillna(0.0), side="right")]
    return pd.Series(np.where(known, tiers, None), index=clv.index, dtype=object)


def _rfm_edges(features: pd.DataFrame) -> dict[str, np.ndarray]:
    return {
        column: np.unique(np.quantile(_rfm_values(features, column), [0.2, 0.4, 0.6, 0.8]))
        for column in RFM_COLUMNS
    }


def rfm_rule_segments(scores: pd.DataFrame) -> np.ndarray:
    """Classic rule-based RFM segments from 1–5 R/F/M scores (the baseline)."""
    r, f, m = (scores[c].to_numpy() for c in RFM_COLUMNS)
    conditions = [
        (r >= 4) & (f >= 4),
        (r <= 2) & (f >= 3),
        (r >= 4) & (f <= 2),
        (f >= 3) & (m >= 3),
        (r <= 2) & (f <= 2),
    ]
    names = np.array(["champions", "at risk", "new or promising", "loyal", "hibernating"], dtype=object)
    out = np.full(len(r), "need attention", dtype=object)
    for cond, name in zip(reversed(conditions), reversed(names), strict=True):
        out[cond] = name
    return out


# (feature, direction, label): the rule whose signed z-score stands out most (above NAME_THRESHOLD)
# names the segment; earlier rules win ties.
NAME_RULES: tuple[tuple[str, int, str], ...] = (
    ("quantity_per_order", 1, "bulk buyers"),
    ("tenure_days", -1, "newcomers"),
    ("discount_share", 1, "bargain hunters"),
    ("view_to_cart", -1, "window shoppers"),
    ("return_rate", 1, "serial returners"),
    ("recency_days", 1, "lapsing"),
    ("frequency", 1, "loyal regulars"),
    ("mean_unit_price", 1, "premium buyers"),
    ("views_per_session", 1, "browsers"),
    ("review_count", 1, "reviewers"),
    ("frequency", -1, "occasional buyers"),
)
NAME_THRESHOLD = 0.5


def _attribute_label(row: pd.Series) -> str | None:
    """The customer attribute that stands out most (|z| above NAME_THRESHOLD) as words, else None.

    A one-hot level counts only when it is over-represented ("channel web"); a numeric attribute
    either way ("high history", "low recency").
    """
    label, best = None, NAME_THRESHOLD
    for column, value in row.items():
        z = float(value)
        name, _, level = str(column).partition("__")
        if level and z > best:
            label, best = f"{name} {level}".replace("_", " "), z
        elif str(column).startswith("attr_") and abs(z) > best:
            words = str(column).removeprefix("attr_").replace("_", " ")
            label, best = f"{'high' if z > 0 else 'low'} {words}", abs(z)
    return label


def _segment_names(zscores: pd.DataFrame) -> dict[int, str]:
    """Readable, unique names from which features stand out in each segment (rules on z-scores;
    the most distinctive customer attribute when no rule fires)."""
    names: dict[int, str] = {}
    used: dict[str, int] = {}
    for seg in zscores.index:
        row = zscores.loc[seg]
        label, best = "average customers", NAME_THRESHOLD
        for feature, direction, text in NAME_RULES:
            value = direction * float(row.get(feature, 0.0))
            if value > best:
                label, best = text, value
        if label == "average customers":
            label = _attribute_label(row) or label
        money = row.get("monetary", 0.0)
        if money > NAME_THRESHOLD and "value" not in label:
            label = f"high-value {label}" if label != "average customers" else "high-value customers"
        elif money < -NAME_THRESHOLD and label in ("average customers", "lapsing", "occasional buyers"):
            label = f"low-value {label}"
        used[label] = used.get(label, 0) + 1
        names[int(seg)] = label if used[label] == 1 else f"{label} {used[label]}"
    return names


@dataclass(frozen=True)
class Segmenter:
    """A fitted segmentation: preprocessing, clusterer, names, RFM tier edges and reports.

    Attributes:
        feature_columns: Columns used (before PCA), in order.
        selection: One row per candidate with its criteria and whether it was chosen, plus the
            ``rfm_rules`` baseline row.
        profiles: One row per segment: size, share, name, mean and z-score per feature
            (``mean_<col>``, ``z_<col>``), top categories (from the features' category share
            columns), the reviews' distinctive keywords when given and ``mean_review_sentiment``.
        names: Segment id → name.
        algorithm: Chosen algorithm.
        k: Chosen number of segments.
        basis: ``behaviour``, or ``attributes`` when no customer had behaviour to cluster on.
    """

    feature_columns: tuple[str, ...]
    selection: pd.DataFrame
    profiles: pd.DataFrame
    names: dict[int, str]
    algorithm: str
    k: int
    _pre: _Preprocessor = field(repr=False)
    _model: _Model = field(repr=False)
    _relabel: np.ndarray = field(repr=False)
    _rfm_edges: dict[str, np.ndarray] = field(repr=False)
    _tier_edges: np.ndarray = field(repr=False)
    # Last, with a default: segmenters pickled before it existed clustered on behaviour.
    basis: str = "behaviour"

    def segment_ids(self, features: pd.DataFrame) -> np.ndarray:
        """Segment id per row of ``features`` (0 = the largest segment at fit time)."""
        if len(features) == 0:
            return np.zeros(0, dtype=int)
        return self._relabel[self._model.predict(self._pre.transform(features))]

    def standard_scores(self, features: pd.DataFrame) -> pd.DataFrame:
        """How far each customer lies from the fit-time population on each clustered column.

        Returns:
            One row per row of ``features`` (same index), one column per :attr:`feature_columns`:
            the standard score the clusterer sees (after the signed log of heavy tails, clipped to ±5).
        """
        width = len(self.feature_columns)
        scores = self._pre.standard_scores(features) if len(features) else np.zeros((0, width))
        return pd.DataFrame(scores, index=features.index, columns=list(self.feature_columns))

    def value_tiers(self, features: pd.DataFrame) -> np.ndarray:
        """RFM value tier (``low``/``mid``/``high``) per row, from the fit-time score quantiles."""
        score = _rfm_total(features, self._rfm_edges)
        return np.array(VALUE_TIERS, dtype=object)[np.searchsorted(self._tier_edges, score, side="right")]

    def assign(self, features: pd.DataFrame) -> pd.DataFrame:
        """Segments of (new) customers without refitting.

        Returns:
            ``[customer_id, segment_id, segment_name, value_tier]``.
        """
        ids = self.segment_ids(features)
        return pd.DataFrame(
            {
                "customer_id": features["customer_id"].to_numpy(),
                "segment_id": ids.astype(int),
                "segment_name": np.array([self.names[int(i)] for i in range(len(self.names))], dtype=object)[
                    ids
                ],
                "value_tier": self.value_tiers(features),
            }
        )


def _criteria(z: np.ndarray, labels: np.ndarray, seed: int) -> dict[str, float]:
    if len(np.unique(labels)) < 2:
        return {"silhouette": float("nan"), "davies_bouldin": float("nan"), "calinski_harabasz": float("nan")}
    return {
        "silhouette": float(silhouette_score(z, labels, random_state=seed)),
        "davies_bouldin": float(davies_bouldin_score(z, labels)),
        "calinski_harabasz": float(calinski_harabasz_score(z, labels)),
    }


def _select(table: pd.DataFrame, min_stability: float) -> int:
    candidates = table[table["algorithm"] != "rfm_rules"].copy()
    if (candidates["algorithm"] == "gmm").any():
        gmm = candidates[candidates["algorithm"] == "gmm"]
        best_bic = gmm["bic"].idxmin()
        candidates = candidates[(candidates["algorithm"] != "gmm") | (candidates.index == best_bic)]
    stable = candidates[candidates["stability"].fillna(1.0) >= min_stability]
    if len(stable):
        candidates = stable
    ranks = pd.concat(
        [
            candidates["silhouette"].rank(pct=True),
            candidates["davies_bouldin"].rank(pct=True, ascending=False),
            candidates["stability"].fillna(1.0).rank(pct=True),
        ],
        axis=1,
    ).mean(axis=1)
    order = pd.DataFrame({"score": ranks, "k": candidates["k"]}).sort_values(
        ["score", "k"], ascending=[False, True]
    )
    return int(order.index[0])


@dataclass(frozen=True)
class _Samples:
    """Every customer transformed, and the two samples model selection works on.

    Attributes:
        everyone: All customers, transformed.
        fit: The fit sample (rows in their original order).
        evaluation: The evaluation sample (rows in their original order).
        evaluation_rows: Row positions of the evaluation sample.
    """

    everyone: np.ndarray
    fit: np.ndarray
    evaluation: np.ndarray
    evaluation_rows: np.ndarray


def _samples(z_all: np.ndarray, settings: SegmentSettings, rng: np.random.Generator) -> _Samples:
    n = len(z_all)
    fit_rows = np.sort(rng.choice(n, min(n, settings.sample_size), replace=False))
    evaluation_rows = np.sort(rng.choice(n, min(n, settings.eval_sample_size), replace=False))
    return _Samples(
        everyone=z_all,
        fit=z_all[fit_rows],
        evaluation=z_all[evaluation_rows],
        evaluation_rows=evaluation_rows,
    )


@dataclass(frozen=True)
class _Candidate:
    """One fitted candidate and its row of the selection table.

    Attributes:
        row: ``algorithm``, ``k``, the criteria, ``bic`` and ``stability``.
        model: The candidate fitted on the fit sample.
    """

    row: dict[str, Any]
    model: _Model


def _bootstrap_stability(
    algorithm: str,
    k: int,
    z_train: np.ndarray,
    z_eval: np.ndarray,
    labels: np.ndarray,
    settings: SegmentSettings,
) -> float:
    """Mean ARI on the evaluation sample between ``labels`` and refits on resamples (NaN: no rounds)."""
    agreements = []
    for round_no in range(settings.bootstrap_rounds):
        boot_rng = np.random.default_rng(settings.seed + 1000 + round_no)
        # Resamples of the evaluation size keep the refits cheap; stability is judged on the
        # evaluation sample either way.
        size = min(len(z_train), 2 * settings.eval_sample_size)
        resample = z_train[boot_rng.integers(0, len(z_train), size)]
        refit = _fit_model(algorithm, k, resample, settings, settings.seed + 1 + round_no)
        agreements.append(adjusted_rand_score(labels, refit.predict(z_eval)))
    return float(np.mean(agreements)) if agreements else float("nan")


def _candidate(algorithm: str, k: int, samples: _Samples, settings: SegmentSettings) -> _Candidate:
    z_train = samples.fit[:QUADRATIC_SAMPLE] if algorithm in _QUADRATIC_ALGORITHMS else samples.fit
    model = _fit_model(algorithm, k, z_train, settings, settings.seed)
    labels = model.predict(samples.evaluation)
    stability = _bootstrap_stability(algorithm, k, z_train, samples.evaluation, labels, settings)
    row: dict[str, Any] = {"algorithm": algorithm, "k": model.k}
    row.update(_criteria(samples.evaluation, labels, settings.seed))
    row["bic"] = float(model.estimator.bic(samples.fit)) if algorithm == "gmm" else float("nan")
    row["stability"] = stability
    return _Candidate(row=row, model=model)


def _candidates(samples: _Samples, settings: SegmentSettings) -> list[_Candidate]:
    """Every algorithm for every k in ``[k_min, k_max]`` (HDBSCAN once: it picks its own k)."""
    every_k = list(range(settings.k_min, settings.k_max + 1))
    return [
        _candidate(algorithm, k, samples, settings)
        for algorithm in settings.algorithms
        for k in ([0] if algorithm == "hdbscan" else every_k)
    ]


def _rfm_baseline(
    features: pd.DataFrame, samples: _Samples, edges: dict[str, np.ndarray], seed: int
) -> dict[str, Any]:
    """The selection-table row of the rule-based RFM segments, scored on the evaluation sample."""
    segments = rfm_rule_segments(_rfm_scores(features.iloc[samples.evaluation_rows], edges))
    row: dict[str, Any] = {"algorithm": "rfm_rules", "k": int(len(np.unique(segments)))}
    row.update(_criteria(samples.evaluation, pd.factorize(segments)[0], seed))
    row.update(bic=float("nan"), stability=1.0)
    return row


def _by_size(labels: np.ndarray, k: int) -> np.ndarray:
    """Cluster label → segment id, 0 for the largest (ties by label).

    Ids that follow size are stable across equivalent fits.
    """
    counts = np.bincount(labels, minlength=k)
    order = np.lexsort((np.arange(k), -counts))
    relabel = np.empty(k, dtype=int)
    relabel[order] = np.arange(k)
    return relabel


def _check_can_segment(features: pd.DataFrame, settings: SegmentSettings) -> None:
    unknown = [a for a in settings.algorithms if a not in ALGORITHMS]
    if unknown or not settings.algorithms:
        raise ValueError(f"unknown algorithms {unknown}; valid algorithms: {', '.join(ALGORITHMS)}")
    if len(features) < max(settings.k_min * 2, 10):
        raise NothingToDoError(
            f"need at least {max(settings.k_min * 2, 10)} customers to segment, got {len(features)}"
        )


def fit_segmenter(
    features: pd.DataFrame, settings: SegmentSettings, reviews: pd.DataFrame | None = None
) -> Segmenter:
    """Fit candidate clusterings, pick one by the documented rule, name and profile its segments.

    Args:
        features: Output of :func:`segmint.features.customer_features`.
        settings: The ``segment`` settings section.
        reviews: Optional reviews (``customer_id``, ``text``) for per-segment keywords in the profiles.

    Returns:
        The fitted :class:`Segmenter`.

    Raises:
        ValueError: an unknown algorithm name.
        NothingToDoError: too few customers, or no column that varies (behaviour or attributes).
    """
    _check_can_segment(features, settings)
    choice = _clustered_columns(features, settings)
    # One generator, drawn in a fixed order: the PCA sample, the fit sample, the evaluation sample.
    rng = np.random.default_rng(settings.seed)
    pre = _fit_preprocessor(features, choice.columns, settings, rng)
    samples = _samples(pre.transform(features), settings, rng)
    candidates = _candidates(samples, settings)
    edges = _rfm_edges(features)
    table = pd.DataFrame(
        [c.row for c in candidates] + [_rfm_baseline(features, samples, edges, settings.seed)]
    )
    chosen = _select(table, settings.min_stability)
    table["chosen"] = table.index == chosen
    model = candidates[chosen].model
    labels = model.predict(samples.everyone)
    relabel = _by_size(labels, model.k)
    profiles, names = _profiles(features, relabel[labels], pre.columns, reviews)
    return Segmenter(
        feature_columns=pre.columns,
        selection=table,
        profiles=profiles,
        names=names,
        algorithm=model.algorithm,
        k=model.k,
        _pre=pre,
        _model=model,
        _relabel=relabel,
        _rfm_edges=edges,
        _tier_edges=np.quantile(_rfm_total(features, edges), [1 / 3, 2 / 3]),
        basis=choice.basis,
    )


# Share columns of the features stage, by preference: spend shares, else view shares.
CATEGORY_SHARE_PREFIXES: tuple[str, str] = ("cat_share_", "view_share_")


def category_share_columns(features: pd.DataFrame) -> list[str]:
    """The per-category share columns of ``features`` (spend shares, else view shares; no "other").

    The profiles read them from the features whether or not the segmenter clustered on them.
    """
    for prefix in CATEGORY_SHARE_PREFIXES:
        columns = [
            str(column)
            for column in features.columns
            if str(column).startswith(prefix) and str(column) != f"{prefix}other"
        ]
        if columns and bool((features[columns].to_numpy(dtype=float) > 0).any()):
            return columns
    return []


def _top_category_names(shares: pd.DataFrame) -> list[str]:
    """Each segment's (row's) three categories with the highest mean share, ", "-joined.

    Categories with a zero share are left out; column prefixes are dropped.
    """
    names = []
    for segment in shares.index:
        row = shares.loc[segment].sort_values(ascending=False, kind="stable")
        top = [str(column) for column, value in row.head(3).items() if value > 0]
        names.append(", ".join(_category_label(column) for column in top))
    return names


def _category_label(column: str) -> str:
    for prefix in CATEGORY_SHARE_PREFIXES:
        column = column.removeprefix(prefix)
    return column


def _keywords_by_segment(
    features: pd.DataFrame, ids: np.ndarray, reviews: pd.DataFrame | None
) -> pd.Series | None:
    """The five terms that set each segment's reviews apart from the other segments' (None: no
    usable reviews): log-odds against the rest with an informative prior (:func:`review_keywords`)."""
    if reviews is None or not len(reviews) or not {"customer_id", "text"} <= set(reviews.columns):
        return None
    segment_of = pd.Series(ids, index=features["customer_id"].to_numpy())
    tagged = reviews.assign(segment_id=reviews["customer_id"].map(segment_of)).dropna(subset=["segment_id"])
    if not len(tagged):
        return None
    keywords = review_keywords(
        tagged.assign(segment_id=tagged["segment_id"].astype(int)), n=5, by="segment_id"
    )
    return keywords.set_index("segment_id")["keywords"]


def _mean_review_sentiment(features: pd.DataFrame, ids: np.ndarray) -> pd.Series:
    """Each segment's mean review sentiment over its customers with reviews (NaN: none reviewed)."""
    if "mean_sentiment" not in features.columns:
        return pd.Series(dtype=float)
    sentiment = features["mean_sentiment"].to_numpy(dtype=float)
    reviewed = (
        features["review_count"].to_numpy(dtype=float) > 0
        if "review_count" in features.columns
        else np.ones(len(features), dtype=bool)
    )
    return pd.Series(sentiment[reviewed]).groupby(ids[reviewed]).mean()


def _profiles(
    features: pd.DataFrame, ids: np.ndarray, columns: tuple[str, ...], reviews: pd.DataFrame | None
) -> tuple[pd.DataFrame, dict[int, str]]:
    data = features[list(columns)].astype(float)
    means = data.groupby(ids).mean()
    mu, sd = data.mean(), data.std(ddof=0).replace(0, 1.0)
    z = (means - mu) / sd
    names = _segment_names(z)
    sizes = pd.Series(ids).value_counts().sort_index()
    prof = pd.DataFrame(
        {
            "segment_id": means.index.astype(int),
            "segment_name": [names[int(i)] for i in means.index],
            "size": sizes.reindex(means.index).to_numpy(),
            "share": (sizes.reindex(means.index) / len(ids)).to_numpy(),
        }
    )
    category_columns = category_share_columns(features)
    shares = features[category_columns].astype(float).groupby(ids).mean().reindex(means.index)
    prof["top_categories"] = _top_category_names(shares) if category_columns else ""
    keywords = _keywords_by_segment(features, ids, reviews)
    prof["top_keywords"] = prof["segment_id"].map(keywords).fillna("") if keywords is not None else ""
    prof["mean_review_sentiment"] = prof["segment_id"].map(_mean_review_sentiment(features, ids))
    extra = pd.concat([means.add_prefix("mean_"), z.add_prefix("z_")], axis=1).reset_index(drop=True)
    return pd.concat([prof, extra], axis=1), names


def segment_stability(a: pd.Series, b: pd.Series) -> StabilityResult:
    """Compare two segment assignments of the same customers (e.g. champion vs challenger).

    Args:
        a: Segment per customer, indexed by customer id (the reference, e.g. champion).
        b: Segment per customer, indexed by customer id (e.g. challenger).

    Returns:
        :class:`StabilityResult` on the customers present in both.
    """
    joined = pd.concat([a.rename("from_segment"), b.rename("to_segment")], axis=1, join="inner")
    if joined.empty:
        raise ValueError("the two assignments share no customers")
    ari = float(adjusted_rand_score(joined["from_segment"], joined["to_segment"]))
    nmi = float(normalized_mutual_info_score(joined["from_segment"], joined["to_segment"]))
    mig = joined.groupby(["from_segment", "to_segment"]).size().rename("customers").reset_index()
    mig["share_of_from"] = mig["customers"] / mig.groupby("from_segment")["customers"].transform("sum")
    return StabilityResult(ari=ari, nmi=nmi, migration=mig)
