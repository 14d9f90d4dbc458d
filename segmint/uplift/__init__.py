"""Uplift and response models on past randomized campaigns, with model selection by Qini AUC.

Every treatment value other than ``control`` is an offer; each offer gets its own uplift model
against the control arm (multi-treatment by pairs), plus a LightGBM response model
P(convert | sent the offer). Learners come from :data:`segmint.uplift.learners.LEARNERS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from segmint.contracts import CONTROL
from segmint.settings import UpliftSettings
from segmint.uplift.learners import LEARNERS, BinaryUpliftLearner, _Constant, lgb_classifier, make_learner
from segmint.uplift.metrics import (
    METRIC_NAMES,
    auuc,
    bootstrap_intervals,
    qini_auc,
    qini_curve,
    qini_points,
    uplift_at_k,
    uplift_metrics,
)

__all__ = [
    "LEARNERS",
    "UpliftModel",
    "UpliftSelection",
    "auuc",
    "campaign_frame",
    "feature_matrix",
    "fit_uplift",
    "qini_auc",
    "qini_curve",
    "uplift_at_k",
]


def feature_matrix(features: pd.DataFrame, columns: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """The float matrix of the numeric (and boolean) feature columns, and their names.

    Args:
        features: One row per customer, ``customer_id`` plus feature columns; non-numeric columns
            other than those named in ``columns`` are ignored.
        columns: Columns to use, in this order (a fitted model's); None picks every numeric column.

    Raises:
        ValueError: a requested column is missing.
    """
    if columns is None:
        columns = [
            c
            for c in features.columns
            if c != "customer_id"
            and (pd.api.types.is_numeric_dtype(features[c]) or pd.api.types.is_bool_dtype(features[c]))
        ]
    missing = [c for c in columns if c not in features.columns]
    if missing:
        raise ValueError(f"features lack column(s) the uplift model was fitted on: {missing}")
    X = features[columns].to_numpy(dtype=np.float64, na_value=np.nan)
    return X, list(columns)


def campaign_frame(features: pd.DataFrame, campaigns: pd.DataFrame) -> pd.DataFrame:
    """Campaign rows joined to the customer's features (rows of customers without features drop).

    Raises:
        ValueError: no offer or no control rows, so there is nothing to compare.
    """
    needed = {"customer_id", "treatment", "converted"}
    if not needed <= set(campaigns.columns):
        raise ValueError(f"campaigns need columns {sorted(needed)}; found {list(campaigns.columns)}")
    rows = campaigns[["customer_id", "treatment", "converted"]].assign(
        customer_id=lambda d: d["customer_id"].astype(str), treatment=lambda d: d["treatment"].astype(str)
    )
    feats = features.assign(customer_id=features["customer_id"].astype(str))
    joined = rows.merge(feats, on="customer_id", how="inner")
    treatments = set(joined["treatment"].unique())
    if CONTROL not in treatments:
        raise ValueError("campaigns have no control rows: uplift cannot be estimated without a control arm")
    if not treatments - {CONTROL}:
        raise ValueError("campaigns have only control rows: there is no offer to model")
    return joined


@dataclass(frozen=True)
class UpliftModel:
    """Fitted per-offer uplift learners and response models, used for scoring as trained."""

    name: str
    offers: tuple[str, ...]
    feature_columns: tuple[str, ...]
    learners: dict[str, BinaryUpliftLearner]
    response_models: dict[str, object]
    batch_size: int = 200_000

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """Uplift and response probability for every customer and offer.

        Returns:
            Long frame ``[customer_id, offer, uplift, response_probability]``, one row per customer
            and offer (customer-major order).
        """
        X, _ = feature_matrix(features, list(self.feature_columns))
        ids = features["customer_id"].astype(str).to_numpy()
        n, k = len(ids), len(self.offers)
        uplift = np.empty((n, k))
        response = np.empty((n, k))
        # Batches bound the memory LightGBM needs for very large customer tables.
        for start in range(0, n, self.batch_size):
            part = X[start : start + self.batch_size]
            for j, offer in enumerate(self.offers):
                uplift[start : start + len(part), j] = self.learners[offer].uplift(part)
                response[start : start + len(part), j] = _proba(self.response_models[offer], part)
        return pd.DataFrame(
            {
                "customer_id": np.repeat(ids, k),
                "offer": np.tile(np.asarray(self.offers, dtype=object), n),
                "uplift": uplift.ravel(),
                "response_probability": response.ravel(),
            }
        )


@dataclass(frozen=True)
class UpliftSelection:
    """The chosen learner refit on all rows, with the evidence for the choice."""

    model: UpliftModel
    name: str
    metrics: dict[str, dict[str, float]]
    candidates: pd.DataFrame
    qini: pd.DataFrame
    per_segment: pd.DataFrame | None = field(default=None)


def _proba(model, X: np.ndarray) -> np.ndarray:
    if len(getattr(model, "classes_", [0, 1])) < 2:
        return np.full(len(X), float(model.classes_[0]))
    return model.predict_proba(X)[:, 1]


def _split(frame: pd.DataFrame, settings: UpliftSettings) -> tuple[np.ndarray, np.ndarray]:
    idx = np.arange(len(frame))
    strata = frame["treatment"].astype(str) + "|" + frame["converted"].astype(str)
    counts = strata.map(strata.value_counts())
    # Stratify only when every stratum can appear on both sides; otherwise a plain random split.
    stratify = strata if counts.min() >= 2 else None
    train, test = train_test_split(
        idx, test_size=settings.test_share, random_state=settings.seed, stratify=stratify
    )
    return np.sort(train), np.sort(test)


def _fit_response(X: np.ndarray, y: np.ndarray, settings: UpliftSettings):
    if np.unique(y).size < 2:
        return _Constant(float(y.mean()) if len(y) else 0.0)
    return lgb_classifier(settings, seed_offset=7).fit(X, y)


def _pair(frame: pd.DataFrame, offer: str, rows: np.ndarray) -> np.ndarray:
    treatment = frame["treatment"].to_numpy()[rows]
    return rows[(treatment == offer) | (treatment == CONTROL)]


def fit_uplift(
    features: pd.DataFrame,
    campaigns: pd.DataFrame,
    settings: UpliftSettings,
    segments: pd.DataFrame | None = None,
) -> UpliftSelection:
    """Pick the uplift learner with the best held-out Qini AUC and refit it on every row.

    Args:
        features: One row per customer (``customer_id`` + numeric columns) as of the send date.
        campaigns: Canonical campaign rows (``treatment == "control"`` is the control arm).
        settings: The uplift section (learners, split share, LightGBM sizes, seed).
        segments: Optional ``[customer_id, segment_id]``; adds held-out metrics per segment.

    Returns:
        :class:`UpliftSelection`; ``metrics`` has one entry per offer and ``"overall"`` (mean over
        offers), each with bootstrap bounds; ``qini`` holds curve points for a plot.

    Raises:
        ValueError: an unknown learner, or campaigns with no offer or no control rows.
    """
    for name in settings.learners:
        if name not in LEARNERS:
            raise ValueError(f"unknown uplift learner {name!r}; valid learners: {', '.join(LEARNERS)}")
    if not settings.learners:
        raise ValueError(f"uplift.learners is empty; valid learners: {', '.join(LEARNERS)}")
    frame = campaign_frame(features, campaigns)
    X, columns = feature_matrix(frame.drop(columns=["treatment", "converted"]))
    y = frame["converted"].to_numpy(dtype=np.float64)
    treatment = frame["treatment"].to_numpy()
    offers = tuple(sorted(set(treatment) - {CONTROL}))
    train, test = _split(frame, settings)

    candidate_rows, qini_rows, test_scores = [], [], {}
    for name in dict.fromkeys(settings.learners):
        for offer in offers:
            tr, te = _pair(frame, offer, train), _pair(frame, offer, test)
            t_tr = (treatment[tr] == offer).astype(np.float64)
            t_te = (treatment[te] == offer).astype(np.float64)
            learner = make_learner(name, settings).fit(X[tr], y[tr], t_tr)
            scores = learner.uplift(X[te])
            test_scores[(name, offer)] = (te, scores)
            candidate_rows.append(
                {"learner": name, "offer": offer, **uplift_metrics(y[te], scores, t_te, settings.top_share)}
            )
            grid, values = qini_points(y[te], scores, t_te)
            qini_rows.append(
                pd.DataFrame({"offer": offer, "learner": name, "fraction": grid, "qini": values})
            )
    for offer in offers:
        te = _pair(frame, offer, test)
        t_te = (treatment[te] == offer).astype(np.float64)
        x_all, v_all = qini_points(y[te], np.zeros(len(te)), t_te)
        qini_rows.append(
            pd.DataFrame({"offer": offer, "learner": "random", "fraction": x_all, "qini": v_all})
        )

    candidates = pd.DataFrame(candidate_rows)
    ranking = candidates.groupby("learner", sort=False)[list(METRIC_NAMES)].mean()
    best = str(ranking["qini_auc"].fillna(-np.inf).idxmax())
    summary = ranking.reset_index().assign(offer="overall")
    candidates = pd.concat([candidates, summary], ignore_index=True)
    candidates["selected"] = candidates["learner"] == best

    metrics: dict[str, dict[str, float]] = {}
    for j, offer in enumerate(offers):
        te, scores = test_scores[(best, offer)]
        t_te = (treatment[te] == offer).astype(np.float64)
        metrics[offer] = bootstrap_intervals(
            y[te], scores, t_te, settings.bootstrap_rounds, settings.seed + j, settings.top_share
        )
    metrics["overall"] = {
        key: float(np.nanmean([metrics[o][key] for o in offers])) for key in metrics[offers[0]]
    }

    per_segment = None
    if segments is not None:
        per_segment = _segment_metrics(frame, segments, test_scores, best, offers, y, treatment, settings)

    learners, responses = {}, {}
    all_rows = np.arange(len(frame))
    for offer in offers:
        rows = _pair(frame, offer, all_rows)
        t_all = (treatment[rows] == offer).astype(np.float64)
        learners[offer] = make_learner(best, settings).fit(X[rows], y[rows], t_all)
        sent = rows[t_all == 1]
        responses[offer] = _fit_response(X[sent], y[sent], settings)
    model = UpliftModel(best, offers, tuple(columns), learners, responses)
    return UpliftSelection(
        model=model,
        name=best,
        metrics=metrics,
        candidates=candidates,
        qini=pd.concat(qini_rows, ignore_index=True),
        per_segment=per_segment,
    )


def _segment_metrics(
    frame: pd.DataFrame,
    segments: pd.DataFrame,
    test_scores: dict,
    best: str,
    offers: tuple[str, ...],
    y: np.ndarray,
    treatment: np.ndarray,
    settings: UpliftSettings,
) -> pd.DataFrame:
    seg = segments.assign(customer_id=segments["customer_id"].astype(str)).set_index("customer_id")[
        "segment_id"
    ]
    seg_of_row = frame["customer_id"].map(seg).to_numpy()
    rows = []
    for offer in offers:
        te, scores = test_scores[(best, offer)]
        t_te = (treatment[te] == offer).astype(np.float64)
        for segment_id in pd.unique(seg_of_row[te]):
            mask = seg_of_row[te] == segment_id
            yt, tt, st = y[te][mask], t_te[mask], scores[mask]
            complete = tt.sum() > 0 and (1 - tt).sum() > 0
            m = uplift_metrics(yt, st, tt, settings.top_share) if complete and len(yt) >= 10 else {}
            observed = yt[tt == 1].mean() - yt[tt == 0].mean() if complete else np.nan
            rows.append(
                {
                    "segment_id": segment_id,
                    "offer": offer,
                    "rows": int(mask.sum()),
                    "observed_uplift": float(observed),
                    "predicted_uplift": float(st.mean()) if len(st) else np.nan,
                    **{k: m.get(k, np.nan) for k in METRIC_NAMES},
                }
            )
    return pd.DataFrame(rows)
