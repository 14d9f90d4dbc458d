"""Uplift and response models on past randomized campaigns, with model selection by Qini AUC.

Every treatment value other than ``control`` is an offer; each offer gets its own uplift model
against the control arm (multi-treatment by pairs), plus a LightGBM response model
P(convert | sent the offer). Learners come from :data:`segmint.uplift.learners.LEARNERS`.
"""

from segmint.uplift.design import campaign_frame, feature_matrix
from segmint.uplift.evaluation import evaluate_uplift
from segmint.uplift.learners import COMPLEXITY, LEARNERS, BinaryUpliftLearner, lgb_classifier, make_learner
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
from segmint.uplift.model import UpliftModel
from segmint.uplift.selection import SELECTION_RULES, UpliftSelection, fit_uplift

__all__ = [
    "COMPLEXITY",
    "LEARNERS",
    "METRIC_NAMES",
    "SELECTION_RULES",
    "BinaryUpliftLearner",
    "UpliftModel",
    "UpliftSelection",
    "auuc",
    "bootstrap_intervals",
    "campaign_frame",
    "evaluate_uplift",
    "feature_matrix",
    "fit_uplift",
    "lgb_classifier",
    "make_learner",
    "qini_auc",
    "qini_curve",
    "qini_points",
    "uplift_at_k",
    "uplift_metrics",
]
