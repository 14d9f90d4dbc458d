"""The environment the segmint command sets for itself (imports nothing heavy)."""

from __future__ import annotations

import os
from pathlib import Path

# Every process segmint starts, the command's own and the services of infra/, sends nothing home.
TELEMETRY_OFF = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DVC_NO_ANALYTICS": "1",
    "DO_NOT_TRACK": "1",
    "EVIDENTLY_DISABLE_TELEMETRY": "1",
    "GX_ANALYTICS_ENABLED": "false",
    "TQDM_DISABLE": "1",
}

TELEMETRY_ENV = {
    **TELEMETRY_OFF,
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    # Run logs (stage messages, gate decisions) reach the Prefect API and UI from INFO up; the console
    # shows warnings and errors only, beside the command's own progress.
    "PREFECT_LOGGING_LEVEL": "INFO",
    "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "WARNING",
    "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
    "GIT_PYTHON_REFRESH": "quiet",
    "MLFLOW_LOGGING_LEVEL": "ERROR",
    # A local temporary API server per process (no services to start); a busy machine needs time.
    "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE": "true",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}


def project_environment(root: Path) -> dict[str, str]:
    """Telemetry off and Prefect's state inside the project folder ``root``."""
    return {**TELEMETRY_ENV, "PREFECT_HOME": str(root / ".prefect")}


def apply_project_environment(root: Path) -> None:
    """Set the project environment for this process; values the user already set are kept."""
    for key, value in project_environment(root).items():
        os.environ.setdefault(key, value)
