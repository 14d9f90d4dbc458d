"""A stand-in for the model registry in evaluation tests: a challenger on disk and a champion per test."""

from __future__ import annotations

from typing import Any

import pytest

from tasks import evaluate, tracking


def patched_registry(
    monkeypatch: pytest.MonkeyPatch, challenger: Any, state: dict, challenger_version: str
) -> dict:
    """Point the evaluation at ``challenger`` as the stage's fresh model and at a registry whose
    champion version is ``state["version"]`` (None: no champion) and whose champion is what
    ``state["load"]()`` returns or raises; returns ``state`` for the test to set."""
    monkeypatch.setattr(evaluate, "_challenger", lambda paths, kind, filename: (challenger, None))
    monkeypatch.setattr(
        tracking,
        "alias_version",
        lambda settings, kind, alias: state["version"] if alias == "champion" else challenger_version,
    )
    monkeypatch.setattr(tracking, "load_alias", lambda settings, kind, alias: state["load"]())
    return state
