"""Uplift and response models on past randomized campaigns, with model selection by Qini AUC.

Every treatment value other than ``control`` is an offer; each offer gets its own uplift model
against the control arm (multi-treatment by pairs), plus a LightGBM response model
P(convert | sent the offer). Learners come from :data:`segmint.uplift.learners.LEARNERS`.
Selection sees only the training part of the campaign rows; every reported number comes from the
test part (:func:`segmint.uplift.splits.evaluation_split`).
"""

from segmint.uplift.comparison import RANDOM_TARGETING, UpliftComparison, compare_uplift
from segmint.uplift.design import CampaignRows, campaign_frame, campaign_rows, feature_matrix
from segmint.uplift.evaluation import (
    HeldOutScores,
    against_permuted_treatments,
    evaluate_uplift,
    held_out_configuration,
    held_out_summary,
)
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
from segmint.uplift.splits import EvaluationSplit, evaluation_split
from segmint.uplift.waves import FEATURES_AS_OF, WAVE_ID, campaign_waves, wave_features

__all__ = [
    "COMPLEXITY",
    "FEATURES_AS_OF",
    "LEARNERS",
    "METRIC_NAMES",
    "RANDOM_TARGETING",
    "SELECTION_RULES",
    "WAVE_ID",
    "BinaryUpliftLearner",
    "CampaignRows",
    "EvaluationSplit",
    "HeldOutScores",
    "UpliftComparison",
    "UpliftModel",
    "UpliftSelection",
    "against_permuted_treatments",
    "auuc",
    "bootstrap_intervals",
    "campaign_frame",
    "campaign_rows",
    "campaign_waves",
    "compare_uplift",
    "evaluate_uplift",
    "evaluation_split",
    "feature_matrix",
    "fit_uplift",
    "held_out_configuration",
    "held_out_summary",
    "lgb_classifier",
    "make_learner",
    "qini_auc",
    "qini_curve",
    "qini_points",
    "uplift_at_k",
    "uplift_metrics",
    "wave_features",
]
