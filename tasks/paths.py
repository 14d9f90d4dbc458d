"""Where every file of a project lives, resolved from the project folder (the current directory)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from segmint.contracts import TABLE_NAMES


@dataclass(frozen=True)
class ProjectPaths:
    """All paths of one project checkout; nothing is ever built from data values."""

    root: Path

    @classmethod
    def from_cwd(cls) -> ProjectPaths:
        """The project in the current directory."""
        return cls(Path.cwd().resolve())

    @property
    def params(self) -> Path:
        """``params.yaml``: the settings."""
        return self.root / "params.yaml"

    @property
    def data(self) -> Path:
        """``data/``: the tables, as ingested, validated and derived by the stages."""
        return self.root / "data"

    @property
    def raw(self) -> Path:
        """``data/raw/``: the ingested canonical tables."""
        return self.data / "raw"

    @property
    def validated(self) -> Path:
        """``data/validated/``: the rows that passed validation."""
        return self.data / "validated"

    @property
    def quarantine(self) -> Path:
        """``data/quarantine/``: the rows that failed, with the rule they broke."""
        return self.data / "quarantine"

    @property
    def features(self) -> Path:
        """``data/features/``: the customer features."""
        return self.data / "features"

    @property
    def segments(self) -> Path:
        """``data/segments/``: the segment of each customer."""
        return self.data / "segments"

    @property
    def anomaly(self) -> Path:
        """``data/anomaly/``: the anomaly scores."""
        return self.data / "anomaly"

    @property
    def models(self) -> Path:
        """``models/``: the fitted models (the only folder pickles are read from)."""
        return self.root / "models"

    @property
    def outputs(self) -> Path:
        """``outputs/``: scores and the campaign plan."""
        return self.root / "outputs"

    @property
    def metrics(self) -> Path:
        """``metrics/``: one JSON file per stage."""
        return self.root / "metrics"

    @property
    def plots(self) -> Path:
        """``plots/``: the data behind the DVC plots."""
        return self.root / "plots"

    @property
    def reports(self) -> Path:
        """``reports/``: the HTML reports."""
        return self.root / "reports"

    @property
    def mlflow_db(self) -> Path:
        """``mlflow.db``: the local MLflow tracking store."""
        return self.root / "mlflow.db"

    @property
    def mlflow_artifacts(self) -> Path:
        """``mlartifacts/``: the local MLflow artifacts."""
        return self.root / "mlartifacts"

    @property
    def prefect_home(self) -> Path:
        """``.prefect/``: Prefect's state for this project."""
        return self.root / ".prefect"

    @property
    def lock(self) -> Path:
        """``.segmint.lock``: the one-run-per-project lock."""
        return self.root / ".segmint.lock"

    def table(self, folder: Path, name: str) -> Path:
        """The parquet file of canonical table ``name`` inside ``folder`` (allow-listed names only)."""
        if name not in TABLE_NAMES:
            raise ValueError(f"unknown table {name!r}; valid tables: {', '.join(TABLE_NAMES)}")
        return folder / f"{name}.parquet"

    def metric(self, stage: str) -> Path:
        """``metrics/<stage>.json``."""
        return self.metrics / f"{stage}.json"
