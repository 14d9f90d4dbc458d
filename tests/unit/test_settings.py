"""The settings object: every knob validated, typos and out-of-range values named."""

from pathlib import Path

import pytest
import yaml

from segmint.settings import Settings, SettingsError, load_settings, settings_from_mapping

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
