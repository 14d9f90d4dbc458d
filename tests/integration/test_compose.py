"""infra/compose.yaml describes the production services and keeps every secret out of the repository."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

INFRA = Path(__file__).resolve().parents[2] / "infra"
VAR = re.compile(r"\$\{([A-Z0-9_]+)")


def _compose() -> dict:
    return yaml.safe_load((INFRA / "compose.yaml").read_text())


def test_compose_defines_the_production_services() -> None:
    services = _compose()["services"]
    assert {"postgres", "prefect", "prefect-worker", "mlflow", "minio"} <= set(services)
    mlflow_cmd = services["mlflow"]["command"]
    assert "--backend-store-uri postgresql+psycopg2://" in mlflow_cmd
    assert "--artifacts-destination s3://" in mlflow_cmd
    assert services["mlflow"]["environment"]["MLFLOW_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert services["prefect"]["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"].startswith(
        "postgresql+asyncpg://"
    )
    assert "segmint-process" in services["prefect-worker"]["command"]
    assert "postgres" in services["mlflow"]["depends_on"]
    # Published ports stay on loopback.
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)


def test_compose_takes_every_secret_from_the_env_file() -> None:
    text = (INFRA / "compose.yaml").read_text()
    used = set(VAR.findall(text))
    example = dict(
        line.split("=", 1) for line in (INFRA / ".env.example").read_text().splitlines() if "=" in line
    )
    assert used <= set(example), f"variables missing from .env.example: {sorted(used - set(example))}"
    for name, service in _compose()["services"].items():
        env = service.get("environment", {})
        for key, value in env.items():
            if any(word in key for word in ("PASSWORD", "SECRET")):
                assert str(value).startswith("${"), (name, key)
    # Passwords inside connection strings are substituted, never literal.
    for uri in re.findall(r"postgresql(?:\+\w+)?://[^\s\"]+", text):
        assert re.match(r"postgresql(\+\w+)?://\w+:\$\$?\{", uri), uri
    assert ".env" in (INFRA / ".gitignore").read_text().split()
