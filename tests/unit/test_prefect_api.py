"""The Prefect API a command's flows report to: a configured server is used as it is; without one, the
command's temporary server is known as such (no deployment can run on it)."""

from __future__ import annotations

import sys

from tasks.paths import ProjectPaths
from tasks.prefect_api import TEMPORARY_ENV, prefect_api, uses_temporary_server


def test_a_configured_server_is_used_and_nothing_is_started(monkeypatch, tmp_path):
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    monkeypatch.delenv(TEMPORARY_ENV, raising=False)
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    with prefect_api(ProjectPaths(tmp_path), warm=("colorsys",)) as url:
        assert url == "http://127.0.0.1:4200/api"
        assert "colorsys" in sys.modules  # the flow modules are imported all the same
    assert not (tmp_path / ".prefect").exists()
    assert uses_temporary_server() is False


def test_the_commands_own_server_counts_as_temporary(monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    assert uses_temporary_server() is True
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:5555/api")
    monkeypatch.setenv(TEMPORARY_ENV, "1")
    assert uses_temporary_server() is True


def test_with_prefect_already_imported_its_own_temporary_server_is_left_to_it(monkeypatch, tmp_path):
    import prefect  # noqa: F401 - its settings are fixed from here on

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with prefect_api(ProjectPaths(tmp_path)) as url:
        assert url == ""
    assert not (tmp_path / ".prefect").exists()
