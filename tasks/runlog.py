"""Prefect run logging and naming: the run logger inside a run (a module logger outside), readable names.

Inside a flow or task run, messages go through :func:`prefect.get_run_logger`, so they are stored with
the run and shown in the Prefect UI; ``segmint stage NAME`` (what ``dvc repro`` calls) runs outside any
Prefect run, and its messages go to the ``logging`` module logger named by the caller.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from segmint.settings import SettingsError, load_settings


def run_logger(fallback: str) -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The current Prefect run's logger, or ``logging.getLogger(fallback)`` outside a run.

    A process that has not imported Prefect is in no Prefect run, and is not made to import it.
    """
    if "prefect" not in sys.modules:
        return logging.getLogger(fallback)
    from prefect import get_run_logger
    from prefect.exceptions import MissingContextError

    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(fallback)


def slug(text: str, limit: int = 40) -> str:
    """``text`` in lowercase letters, digits and single dashes, at most ``limit`` characters."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-") or "segmint"


def project_name(project_dir: Path) -> str:
    """The short name of a project: ``project.name`` of its params.yaml, else its folder's name."""
    try:
        return slug(load_settings(project_dir / "params.yaml").project.name, limit=24)
    except (SettingsError, OSError):  # the flow itself reports a bad or missing params.yaml
        return slug(project_dir.name, limit=24)


def flow_run_namer(prefix: str) -> Callable[[], str]:
    """A ``flow_run_name`` for Prefect: ``<prefix>-<UTC date>-<hhmm>-<project name>``, from the run's
    ``project_dir`` parameter, e.g. ``train-2026-12-01-1808-segmint``."""

    def name() -> str:
        from prefect.runtime import flow_run  # a flow run names itself, inside Prefect

        project_dir = Path(str(flow_run.parameters.get("project_dir", "."))).resolve()
        return f"{prefix}-{datetime.now(UTC):%Y-%m-%d-%H%M}-{project_name(project_dir)}"

    return name
