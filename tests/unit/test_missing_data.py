"""A test whose data or service is missing fails under CI and skips elsewhere."""

from __future__ import annotations

import pytest

import tests.conftest as shared


def test_missing_data_fails_under_ci(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(shared, "SHARED_DATA", tmp_path / "absent")
    with pytest.raises(pytest.fail.Exception, match="CI must provide it"):
        shared.shared_data_dir()


def test_missing_data_skips_outside_ci(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(shared, "SHARED_DATA", tmp_path / "absent")
    with pytest.raises(pytest.skip.Exception):
        shared.shared_data_dir()


def test_present_data_is_returned(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(shared, "SHARED_DATA", tmp_path)
    assert shared.shared_data_dir() == tmp_path
