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
        return cls(Path.cwd().resolve())

    @property
    def params(self) -> Path:
        return self.root / "params.yaml"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def raw(self) -> Path:
        return self.data / "raw"

    @property
    def validated(self) -> Path:
        return self.data / "validated"

    @property
    def quarantine(self) -> Path:
        return self.data / "quarantine"

    @property
    def features(self) -> Path:
        return self.data / "features"

    @property
    def segments(self) -> Path:
        return self.data / "segments"

    @property
    def anomaly(self) -> Path:
        return self.data / "anomaly"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics"

    @property
    def plots(self) -> Path:
        return self.root / "plots"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def mlflow_db(self) -> Path:
        return self.root / "mlflow.db"

    @property
    def mlflow_artifacts(self) -> Path:
        return self.root / "mlartifacts"

    @property
    def prefect_home(self) -> Path:
        return self.root / ".prefect"

    @property
    def lock(self) -> Path:
        return self.root / ".segmint.lock"

    def table(self, folder: Path, name: str) -> Path:
        """The parquet file of canonical table ``name`` inside ``folder`` (allow-listed names only)."""
        if name not in TABLE_NAMES:
            raise ValueError(f"unknown table {name!r}; valid tables: {', '.join(TABLE_NAMES)}")
        return folder / f"{name}.parquet"

    def metric(self, stage: str) -> Path:
        return self.metrics / f"{stage}.json"
