"""Uplift and response models on past randomized campaigns, with model selection by Qini AUC.

Every treatment value other than ``control`` is an offer; each offer gets its own uplift model
against the control arm (multi-treatment by pairs), plus a LightGBM response model
P(convert | sent the offer). Learners come from :data:`segmint.uplift.learners.LEARNERS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from segmint.contracts import CONTROL
from segmint.settings import UpliftSettings
from segmint.uplift.learners import (
    COMPLEXITY,
    LEARNERS,
    BinaryUpliftLearner,
    _Constant,
    lgb_classifier,
    make_learner,
)
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

SELECTION_RULES = ("best", "one_se")

__all__ = [
    "LEARNERS",
    "UpliftModel",
    "UpliftSelection",
    "auuc",
    "campaign_frame",
    "evaluate_uplift",
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
    # The configuration, so that evaluate_uplift can refit it on a split it has not seen.
    learner_names: dict[str, str] = field(default_factory=dict)
    settings: UpliftSettings | None = None

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
    strata = _strata(frame)
    stratify = strata if strata.value_counts().min() >= 2 else None
    train, test = train_test_split(
        idx, test_size=settings.test_share, random_state=settings.seed, stratify=stratify
    )
    return np.sort(train), np.sort(test)


def _strata(frame: pd.DataFrame) -> pd.Series:
    return frame["treatment"].astype(str) + "|" + frame["converted"].astype(str)


def _folds(frame: pd.DataFrame, settings: UpliftSettings) -> list[tuple[np.ndarray, np.ndarray]]:
    """Seeded K-fold splits stratified by arm × outcome (plain K-fold when a stratum is too small)."""
    strata = _strata(frame).to_numpy()
    idx = np.arange(len(frame))
    if pd.Series(strata).value_counts().min() >= settings.cv_folds:
        splitter = StratifiedKFold(settings.cv_folds, shuffle=True, random_state=settings.seed)
        return [(np.sort(a), np.sort(b)) for a, b in splitter.split(idx, strata)]
    splitter = KFold(settings.cv_folds, shuffle=True, random_state=settings.seed)
    return [(np.sort(a), np.sort(b)) for a, b in splitter.split(idx)]


def _selection_rows(frame: pd.DataFrame, settings: UpliftSettings) -> np.ndarray:
    """Row positions learner selection uses: all, or ``selection_max_rows`` of them stratified by
    arm × outcome (seeded), so every offer keeps its share of rows and conversions."""
    idx = np.arange(len(frame))
    if len(frame) <= settings.selection_max_rows:
        return idx
    strata = _strata(frame).to_numpy()
    stratify = strata if pd.Series(strata).value_counts().min() >= 2 else None
    kept, _ = train_test_split(
        idx, train_size=settings.selection_max_rows, stratify=stratify, random_state=settings.seed
    )
    return np.sort(kept)


def _fit_response(X: np.ndarray, y: np.ndarray, settings: UpliftSettings):
    if np.unique(y).size < 2:
        return _Constant(float(y.mean()) if len(y) else 0.0)
    return lgb_classifier(settings, seed_offset=7).fit(X, y)


def _pair(frame: pd.DataFrame, offer: str, rows: np.ndarray) -> np.ndarray:
    treatment = frame["treatment"].to_numpy()[rows]
    return rows[(treatment == offer) | (treatment == CONTROL)]


@dataclass(frozen=True)
class _Design:
    frame: pd.DataFrame
    X: np.ndarray
    y: np.ndarray
    treatment: np.ndarray

    def scored(
        self, name: str, offer: str, settings: UpliftSettings, train: np.ndarray, test: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fit ``name`` for ``offer`` on the train rows; (outcome, uplift, treated flag) of the test rows."""
        tr, te = _pair(self.frame, offer, train), _pair(self.frame, offer, test)
        t_tr = (self.treatment[tr] == offer).astype(np.float64)
        learner = make_learner(name, settings).fit(self.X[tr], self.y[tr], t_tr)
        return self.y[te], learner.uplift(self.X[te]), (self.treatment[te] == offer).astype(np.float64)


def _check_learners(settings: UpliftSettings) -> None:
    if not settings.learners:
        raise ValueError(f"uplift.learners is empty; valid learners: {', '.join(LEARNERS)}")
    for name in settings.learners:
        if name not in LEARNERS:
            raise ValueError(f"unknown uplift learner {name!r}; valid learners: {', '.join(LEARNERS)}")


def _candidate_scores(
    design: _Design, offers: tuple[str, ...], settings: UpliftSettings
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every learner's metrics per offer (mean over the CV folds, or on the held-out split when
    ``cv_folds < 2``) and its Qini curve points averaged the same way."""
    kept = _selection_rows(design.frame, settings)
    sample = design.frame.iloc[kept]
    splits = [
        (kept[a], kept[b])
        for a, b in (_folds(sample, settings) if settings.cv_folds >= 2 else [_split(sample, settings)])
    ]
    rows, curves = [], []
    for name in dict.fromkeys(settings.learners):
        for offer in offers:
            per_split, grids = [], []
            for train, test in splits:
                y, u, t = design.scored(name, offer, settings, train, test)
                per_split.append(uplift_metrics(y, u, t, settings.top_share))
                grids.append(qini_points(y, u, t))
            qinis = np.array([m["qini_auc"] for m in per_split], dtype=float)
            rows.append(
                {
                    "learner": name,
                    "offer": offer,
                    **{k: float(np.nanmean([m[k] for m in per_split])) for k in METRIC_NAMES},
                    # Standard error of the mean Qini over folds (0 with a single split).
                    "qini_auc_se": float(np.nanstd(qinis) / np.sqrt(len(qinis))) if len(qinis) > 1 else 0.0,
                }
            )
            curves.append(
                pd.DataFrame(
                    {
                        "offer": offer,
                        "learner": name,
                        "fraction": grids[0][0],
                        "qini": np.mean([g[1] for g in grids], axis=0),
                    }
                )
            )
    for offer in offers:
        _, test = splits[0]
        te = _pair(design.frame, offer, test)
        grid, values = qini_points(design.y[te], np.zeros(len(te)), (design.treatment[te] == offer) * 1.0)
        curves.append(pd.DataFrame({"offer": offer, "learner": "random", "fraction": grid, "qini": values}))
    return pd.DataFrame(rows), pd.concat(curves, ignore_index=True)


def _choose(
    candidates: pd.DataFrame, offers: tuple[str, ...], per_offer: bool, rule: str = "best"
) -> dict[str, str]:
    """The learner per offer: the best mean Qini AUC, or with ``rule="one_se"`` the simplest learner
    (:data:`COMPLEXITY`) whose mean is within one standard error of the best — on weak effects the
    folds cannot tell close learners apart, and the simpler one generalises more often."""
    if rule not in SELECTION_RULES:
        raise ValueError(f"unknown selection rule {rule!r}; valid rules: {', '.join(SELECTION_RULES)}")
    score = candidates.assign(qini_auc=candidates["qini_auc"].fillna(-np.inf))
    if not per_offer:
        # Stable tie-break: the first learner listed wins among equal means.
        score = score.groupby("learner", sort=False)[["qini_auc", "qini_auc_se"]].mean().reset_index()
        return dict.fromkeys(offers, _pick(score, rule))
    return {o: _pick(score.loc[score["offer"] == o], rule) for o in offers}


def _pick(score: pd.DataFrame, rule: str) -> str:
    best = score.loc[score["qini_auc"].idxmax()]
    if rule == "best":
        return str(best["learner"])
    within = score[score["qini_auc"] >= best["qini_auc"] - best["qini_auc_se"]]
    order = within.assign(c=within["learner"].map(COMPLEXITY).fillna(99)).sort_values("c", kind="stable")
    return str(order["learner"].iloc[0])


def _model_name(chosen: dict[str, str]) -> str:
    names = list(dict.fromkeys(chosen.values()))
    return names[0] if len(names) == 1 else "+".join(f"{o}:{n}" for o, n in chosen.items())


def fit_uplift(
    features: pd.DataFrame,
    campaigns: pd.DataFrame,
    settings: UpliftSettings,
    segments: pd.DataFrame | None = None,
) -> UpliftSelection:
    """Pick the uplift learner (per offer, or one for all) by cross-validated Qini AUC, refit on every row.

    Selection runs seeded K-fold cross-validation over the campaign rows (``cv_folds``; below 2,
    the single held-out split), which is far steadier than one split when effects are weak; above
    ``selection_max_rows`` rows it uses a stratified sample of that many. The
    reported ``metrics`` come from the seeded held-out split (the chosen configuration fitted on
    the training part), exactly as :func:`evaluate_uplift` computes them.

    Args:
        features: One row per customer (``customer_id`` + numeric columns) as of the send date.
        campaigns: Canonical campaign rows (``treatment == "control"`` is the control arm).
        settings: The uplift section (learners, folds, split share, LightGBM sizes, seed).
        segments: Optional ``[customer_id, segment_id]``; adds held-out metrics per segment.

    Returns:
        :class:`UpliftSelection`; ``metrics`` has one entry per offer and ``"overall"`` (mean over
        offers), each with bootstrap bounds; ``candidates`` every learner's selection metrics;
        ``qini`` curve points for a plot.

    Raises:
        ValueError: an unknown learner, or campaigns with no offer or no control rows.
    """
    _check_learners(settings)
    frame = campaign_frame(features, campaigns)
    X, columns = feature_matrix(frame.drop(columns=["treatment", "converted"]))
    design = _Design(frame, X, frame["converted"].to_numpy(dtype=np.float64), frame["treatment"].to_numpy())
    offers = tuple(sorted(set(design.treatment) - {CONTROL}))

    candidates, qini = _candidate_scores(design, offers, settings)
    chosen = _choose(candidates, offers, settings.select_per_offer, settings.selection_rule)
    candidates = candidates.assign(
        selected=candidates["learner"].to_numpy() == candidates["offer"].map(chosen)
    )
    summary = (
        candidates.groupby("learner", sort=False)[list(METRIC_NAMES)]
        .mean()
        .reset_index()
        .assign(offer="overall", selected=lambda d: d["learner"].isin(set(chosen.values())))
    )
    candidates = pd.concat([candidates, summary], ignore_index=True)

    train, test = _split(frame, settings)
    metrics: dict[str, dict[str, float]] = {}
    test_scores = {}
    for j, offer in enumerate(offers):
        y_te, u_te, t_te = design.scored(chosen[offer], offer, settings, train, test)
        test_scores[offer] = (_pair(frame, offer, test), u_te)
        metrics[offer] = bootstrap_intervals(
            y_te, u_te, t_te, settings.bootstrap_rounds, settings.seed + j, settings.top_share
        )
    metrics["overall"] = {
        key: float(np.nanmean([metrics[o][key] for o in offers])) for key in metrics[offers[0]]
    }

    per_segment = None
    if segments is not None:
        per_segment = _segment_metrics(
            frame, segments, test_scores, offers, design.y, design.treatment, settings
        )

    learners, responses = {}, {}
    all_rows = np.arange(len(frame))
    for offer in offers:
        rows = _pair(frame, offer, all_rows)
        t_all = (design.treatment[rows] == offer).astype(np.float64)
        learners[offer] = make_learner(chosen[offer], settings).fit(X[rows], design.y[rows], t_all)
        sent = rows[t_all == 1]
        responses[offer] = _fit_response(X[sent], design.y[sent], settings)
    name = _model_name(chosen)
    model = UpliftModel(
        name, offers, tuple(columns), learners, responses, learner_names=chosen, settings=settings
    )
    return UpliftSelection(
        model=model, name=name, metrics=metrics, candidates=candidates, qini=qini, per_segment=per_segment
    )


def evaluate_uplift(
    model: UpliftModel, features: pd.DataFrame, campaigns: pd.DataFrame, settings: UpliftSettings
) -> dict:
    """Held-out quality of a model's configuration, comparable between champion and challenger.

    The model's learner per offer, with the settings it was fitted with, is refit on the training
    part of the seeded split that :func:`fit_uplift` uses (``settings.seed``/``test_share``) and
    scored on the held-out part: a model refit on all rows has seen those rows, so its own
    predictions would flatter it.

    Args:
        model: A fitted :class:`UpliftModel` (only its configuration and feature columns are used).
        features: One row per customer as of the send date; must carry the model's feature columns.
        campaigns: Canonical campaign rows with a control arm.
        settings: The uplift section whose seed, ``test_share`` and ``top_share`` define the split
            and uplift@k.

    Returns:
        ``qini_auc``, ``auuc``, ``uplift_at_30`` (means over offers), ``per_offer`` (the same per
        offer plus its ``learner`` and ``n_rows``), ``n_rows`` (held-out rows) and ``n_train_rows``.

    Raises:
        ValueError: campaigns without control or offer rows, or features lacking model columns.
    """
    frame = campaign_frame(features, campaigns)
    X, _ = feature_matrix(frame, list(model.feature_columns))
    design = _Design(frame, X, frame["converted"].to_numpy(dtype=np.float64), frame["treatment"].to_numpy())
    config = model.settings or settings
    train, test = _split(frame, settings)
    per_offer: dict[str, dict] = {}
    for offer in model.offers:
        if not (design.treatment == offer).any():
            continue
        name = model.learner_names.get(offer, model.name)
        y_te, u_te, t_te = design.scored(name, offer, config, train, test)
        per_offer[offer] = {
            "learner": name,
            "n_rows": int(len(y_te)),
            **uplift_metrics(y_te, u_te, t_te, settings.top_share),
        }
    if not per_offer:
        raise ValueError(f"campaigns hold none of the model's offers {list(model.offers)}")
    return {
        **{k: float(np.nanmean([m[k] for m in per_offer.values()])) for k in METRIC_NAMES},
        "per_offer": per_offer,
        "n_rows": int(len(test)),
        "n_train_rows": int(len(train)),
    }


def _segment_metrics(
    frame: pd.DataFrame,
    segments: pd.DataFrame,
    test_scores: dict,
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
        te, scores = test_scores[offer]
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
