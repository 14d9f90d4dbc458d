"""The settings object: every knob validated, typos and out-of-range values named."""

from pathlib import Path
from typing import get_args

import pytest
import yaml

from segmint.contracts import EventType
from segmint.settings import (
    InteractionValue,
    KnnSimilarity,
    RecommenderName,
    SegmentAlgorithm,
    SelectionRule,
    Settings,
    SettingsError,
    StageName,
    UpliftLearnerName,
    load_settings,
    settings_from_mapping,
)

ROOT = Path(__file__).resolve().parents[2]


def test_repository_params_validate_and_list_every_knob():
    settings = load_settings(ROOT / "params.yaml")
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    defaults = Settings().model_dump(by_alias=True)
    for section, fields in defaults.items():
        assert section in raw, f"params.yaml lacks section {section}"
        if isinstance(fields, dict) and section != "campaign":
            missing = set(fields) - set(raw[section])
            assert not missing, f"params.yaml section {section} lacks {sorted(missing)}"
    assert settings.project.seed == raw["project"]["seed"]


def test_unknown_key_is_an_error_naming_it():
    with pytest.raises(SettingsError, match=r"segment\.k_maxx"):
        settings_from_mapping({"segment": {"k_maxx": 3}})


def test_out_of_range_value_is_an_error_naming_it():
    with pytest.raises(SettingsError, match=r"campaign\.holdout_share"):
        settings_from_mapping({"campaign": {"holdout_share": 1.5}})


def test_unknown_section_is_an_error():
    with pytest.raises(SettingsError, match="segmnt"):
        settings_from_mapping({"segmnt": {}})


def test_settings_are_frozen():
    settings = settings_from_mapping({})
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises its own ValidationError
        settings.project.seed = 1  # type: ignore[misc]


def test_offer_defaults_apply_to_unlisted_offers():
    settings = settings_from_mapping({"campaign": {"offers": {"discount_10": {"cost": 3.0}}}})
    assert settings.campaign.offer("discount_10").cost == 3.0
    assert settings.campaign.offer("anything_else") == settings.campaign.default_offer


def test_missing_file_means_defaults(tmp_path):
    assert load_settings(tmp_path / "none.yaml") == Settings()


def test_yaml_that_is_not_a_mapping_is_an_error(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text("- a\n- b\n")
    with pytest.raises(SettingsError, match="mapping"):
        load_settings(bad)


ALLOW_LIST_TYPOS = [
    ({"segment": {"algorithms": ["kmeans", "kmean"]}}, r"segment\.algorithms\.1", "'kmeans', 'gmm'"),
    ({"recommend": {"candidates": ["popularty"]}}, r"recommend\.candidates\.0", "'recent_popularity'"),
    ({"recommend": {"blend_members": ["ease", "rp3"]}}, r"recommend\.blend_members\.1", "'rp3beta'"),
    ({"recommend": {"event_weights": {"click": 1.0}}}, r"recommend\.event_weights\.click", "'view', 'cart'"),
    ({"recommend": {"interaction_value": "counts"}}, r"recommend\.interaction_value", "'binary', 'count'"),
    ({"recommend": {"knn_similarity": "cosin"}}, r"recommend\.knn_similarity", "'cosine' or 'bm25'"),
    ({"recommend": {"torch_architecture": "dae"}}, r"recommend\.torch_architecture", "'linear_dae'"),
    ({"uplift": {"learners": ["x_learnr"]}}, r"uplift\.learners\.0", "'s_learner', 't_learner'"),
    ({"uplift": {"selection_rule": "one-se"}}, r"uplift\.selection_rule", "'best' or 'one_se'"),
    ({"runtime": {"task_runner": "ray"}}, r"runtime\.task_runner", "'local' or 'dask'"),
    ({"runtime": {"stage_budget_seconds": {"segmnet": 5}}}, r"stage_budget_seconds\.segmnet", "'segment'"),
]


@pytest.mark.parametrize(("mapping", "key", "valid"), ALLOW_LIST_TYPOS, ids=lambda v: str(v)[:40])
def test_a_name_outside_an_allow_list_fails_at_load_naming_key_and_valid_names(mapping, key, valid):
    with pytest.raises(SettingsError, match=f"{key}.*{valid}"):
        settings_from_mapping(mapping)


def test_allow_lists_match_the_registries_they_choose_from():
    from segmint.contracts import EVENT_TYPES
    from segmint.recommend import RECOMMENDERS
    from segmint.recommend.interactions import INTERACTION_VALUES
    from segmint.recommend.models import KNN_SIMILARITIES
    from segmint.segmentation import ALGORITHMS
    from segmint.uplift import LEARNERS, SELECTION_RULES
    from tasks.stages import STAGES

    assert get_args(SegmentAlgorithm) == ALGORITHMS
    assert get_args(RecommenderName) == tuple(RECOMMENDERS)
    assert get_args(InteractionValue) == INTERACTION_VALUES
    assert get_args(KnnSimilarity) == KNN_SIMILARITIES
    assert get_args(UpliftLearnerName) == tuple(LEARNERS)
    assert get_args(SelectionRule) == SELECTION_RULES
    assert get_args(StageName) == tuple(STAGES)
    assert get_args(EventType) == EVENT_TYPES
