"""Security: escaped reports (proven in headless Chromium), loopback binds, masked credentials,
no paths from data values, unpickling only of the project's own model files."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from tasks.paths import ProjectPaths

pytestmark = pytest.mark.reliability
ROOT = Path(__file__).resolve().parents[2]

SCRIPT = "<script>document.title='pwned'</script>"
IMG = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"
TITLE = "segmint — review report"


def chromium() -> str:
    """Path of Debian's chromium; installed on the fly as root, else a skip (a failure in CI)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-qq", "chromium"]
        subprocess.run(install, env=env, capture_output=True, check=False)
        found = shutil.which("chromium")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing in CI: .ci/run installs it (apt-get install -y chromium)")
        pytest.skip("chromium not installed (apt-get install -y chromium): the XSS check needs a browser")
    return found


def dump_dom(browser: str, page: Path, profile: Path) -> str:
    """The page's DOM after load and scripts, as Chromium serialises it."""
    args = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=3000",
        "--dump-dom",
        page.as_uri(),
    ]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0 and "<html" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout


def hostile_project(root: Path) -> ProjectPaths:
    """A project whose segment names, keywords, offers, reasons and winners are hostile markup."""
    from tasks.io import write_json, write_parquet

    paths = ProjectPaths(root)
    write_parquet(
        paths.segments / "segments.parquet",
        pd.DataFrame({"customer_id": ["c1", "c2", "c3"], "segment_name": [SCRIPT, IMG, "loyal"]}),
    )
    write_parquet(
        paths.segments / "profiles.parquet",
        pd.DataFrame({"segment_name": [SCRIPT, IMG], "keywords": [f"great {IMG}", f"product {SCRIPT}"]}),
    )
    write_parquet(
        paths.outputs / "campaign_plan.parquet",
        pd.DataFrame(
            {
                "customer_id": [SCRIPT, "c2"],
                "group": ["treatment", "holdout"],
                "offer": [IMG, None],
                "expected_incremental_profit": [1.0, 0.0],
            }
        ),
    )
    write_json(
        paths.metric("gate"),
        {"segmenter": {"decision": SCRIPT, "reasons": [IMG, f"product {SCRIPT}"]}},
    )
    write_json(
        paths.metric("recommend"),
        {"winner": SCRIPT, "candidates": [{"name": IMG, "ndcg": 0.1}], "metrics": {IMG: 1.0}},
    )
    write_json(paths.metric("uplift"), {"skipped": f"review said {SCRIPT}"})
    hostile_messages(paths)
    return paths


def hostile_messages(paths: ProjectPaths) -> None:
    """Messages rendered by the campaign's writer from a hostile product name, segment name and a
    project template whose own text is markup: ``outputs/messages.parquet`` as the report reads it."""
    from tasks.io import write_parquet
    from tasks.messages import MESSAGES_FILE, write_messages

    write_parquet(
        paths.outputs / "customer_scores.parquet",
        pd.DataFrame(
            {
                "customer_id": [SCRIPT, "c2"],
                "segment_name": [f"vip {IMG}", "loyal"],
                "recommended_product_ids": [["p1", "p2"], ["p2"]],
            }
        ),
    )
    write_parquet(
        paths.table(paths.validated, "products"),
        pd.DataFrame({"product_id": ["p1", "p2"], "name": [SCRIPT, f"mug {IMG}"]}),
    )
    own = paths.root / "templates" / "messages"
    own.mkdir(parents=True, exist_ok=True)
    (own / "default.j2").write_text(
        f"{{% block subject %}}{SCRIPT} {{{{ offer_text }}}}{{% endblock %}}\n"
        f"{{% block body %}}{IMG} {{{{ segment_name }}}} {{% for p in products %}}{{{{ p }}}} {{% endfor %}}"
        "{% endblock %}\n"
    )
    write_messages(paths)
    messages = pd.read_parquet(paths.outputs / MESSAGES_FILE)
    assert len(messages) == 1 and "script" in messages["body"].iloc[0] + messages["subject"].iloc[0]


def test_report_escapes_user_text_in_headless_chromium(tmp_path):
    from segmint.settings import Settings
    from tasks.report import run_report

    browser = chromium()
    paths = hostile_project(tmp_path / "project")
    run_report(Settings(), paths)
    page = paths.reports / "report.html"
    source = page.read_text()
    assert SCRIPT not in source and "<img src=x" not in source

    dom = dump_dom(browser, page, tmp_path / "profile")
    title = re.search(r"<title>(.*?)</title>", dom, re.S)
    assert title is not None and title.group(1) == TITLE, "a <script> from the data ran"
    assert "pwned" not in (title.group(1) if title else "")
    assert re.search(r"<body[^>]*data-pwned", dom) is None, "an onerror handler from the data ran"
    # The payloads are on the page as text.
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in dom
    assert "&lt;img src=x onerror=" in dom
    # ... the messages' too: subject and body are shown, as text, in the messages section.
    messages = dom.split("Messages: one example per segment and offer</h2>", 1)[1].split("</section>", 1)[0]
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in messages
    assert "vip &lt;img src=x onerror=" in messages and "mug &lt;img src=x" in messages
    assert "<script" not in messages and "<img" not in messages


def test_the_browser_check_detects_an_unescaped_payload(tmp_path):
    """Control: the same payloads, unescaped, do run — so the check above can fail."""
    browser = chromium()
    page = tmp_path / "raw.html"
    head = f"<!doctype html><html><head><title>{TITLE}</title></head>"
    page.write_text(f"{head}<body>{SCRIPT}{IMG}</body></html>")
    dom = dump_dom(browser, page, tmp_path / "profile")
    assert "<title>pwned</title>" in dom
    assert re.search(r"<body[^>]*data-pwned", dom) is not None


def test_servers_bind_to_loopback():
    """No code or infra listens on every interface, except inside containers published on 127.0.0.1."""
    offenders = []
    for folder in ("tasks", "flows", "segmint", "scripts", "infra", "benchmarks"):
        for file in (ROOT / folder).rglob("*"):
            if not file.is_file() or file.suffix not in {".py", ".yaml", ".yml", ".toml", ".sh", ".cfg", ""}:
                continue
            for number, line in enumerate(file.read_text(errors="replace").splitlines(), 1):
                if "0.0.0.0" in line or re.search(r"host\s*=\s*['\"]?\s*['\"]", line):
                    offenders.append(f"{file.relative_to(ROOT)}:{number}: {line.strip()}")
    for file in (ROOT / "Makefile", ROOT / ".ci" / "run"):
        for number, line in enumerate(file.read_text().splitlines(), 1):
            if "0.0.0.0" in line:
                offenders.append(f"{file.relative_to(ROOT)}:{number}: {line.strip()}")
    # Containers must listen on all their interfaces to be reachable; the compose file publishes them
    # on the host's loopback only, which the next test checks.
    container_side = [o for o in offenders if o.startswith("infra/compose.yaml") and "--host 0.0.0.0" in o]
    assert sorted(set(offenders) - set(container_side)) == []


def test_compose_publishes_ports_on_loopback_only():
    import yaml

    compose = yaml.safe_load((ROOT / "infra" / "compose.yaml").read_text())
    services = compose["services"].items()
    published = [(name, str(port)) for name, service in services for port in service.get("ports", [])]
    assert published, "compose publishes no ports: the check would be empty"
    assert [p for p in published if not p[1].startswith("127.0.0.1:")] == []


def test_masked_uri_hides_passwords():
    from tasks.tracking import masked_uri

    assert masked_uri("postgresql+psycopg2://mlflow:s3cr%40t@db:5432/mlflow") == (
        "postgresql+psycopg2://mlflow:***@db:5432/mlflow"
    )
    assert (
        masked_uri("see http://u:p@h:5000/x and s3://k:v@bucket")
        == "see http://u:***@h:5000/x and s3://k:***@bucket"
    )
    assert masked_uri("sqlite:////tmp/mlflow.db") == "sqlite:////tmp/mlflow.db"


def test_tracking_password_never_appears_in_cli_output(tmp_path):
    from tests.integration.conftest import light_params, run_segmint

    light_params(tmp_path / "params.yaml")
    uri = "http://segmint:hunter2-secret@127.0.0.1:9"
    env = {
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
    }
    proc = run_segmint(tmp_path, "stage", "validate", env=env, timeout=300)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 1, text
    assert "hunter2" not in text
    assert "MLflow tracking server at http://segmint:***@127.0.0.1:9" in " ".join(text.split())


def test_read_pickle_refuses_files_outside_the_models_folder(tmp_path):
    from tasks.io import read_pickle, write_pickle

    models = tmp_path / "models"
    write_pickle(models / "ok.pkl", {"a": 1})
    write_pickle(tmp_path / "elsewhere.pkl", {"b": 2})
    assert read_pickle(models / "ok.pkl", root=models) == {"a": 1}
    with pytest.raises(ValueError, match="refusing to unpickle"):
        read_pickle(models / ".." / "elsewhere.pkl", root=models)
    (models / "link.pkl").symlink_to(tmp_path / "elsewhere.pkl")
    with pytest.raises(ValueError, match="refusing to unpickle"):
        read_pickle(models / "link.pkl", root=models)


def test_unpickling_happens_only_in_the_documented_places():
    """Deserialisation (code execution) is confined to tasks/io.read_pickle (project models/ only) and
    MLflow's pyfunc loader on the project's own registry (tasks/tracking.load_alias)."""
    pattern = re.compile(
        r"pickle\.loads?\(|joblib\.load\(|torch\.load\(|cloudpickle\.load|pyfunc\.load_model\("
    )
    hits = []
    for folder in ("tasks", "flows", "segmint", "scripts"):
        for file in (ROOT / folder).rglob("*.py"):
            for line in file.read_text().splitlines():
                if pattern.search(line):
                    hits.append(str(file.relative_to(ROOT)))
    assert set(hits) <= {"tasks/io.py", "tasks/tracking.py", "tasks/pyfunc.py"}, hits
    callers = [
        f"{file.relative_to(ROOT)}:{number}"
        for folder in ("tasks", "flows")
        for file in (ROOT / folder).rglob("*.py")
        for number, line in enumerate(file.read_text().splitlines(), 1)
        if "read_pickle(" in line and "def read_pickle" not in line
    ]
    for caller in callers:
        file, number = caller.split(":")
        line = (ROOT / file).read_text().splitlines()[int(number) - 1]
        assert "root=paths.models" in line, f"{caller} unpickles without root=paths.models"


def test_data_values_never_become_paths(tmp_path):
    """A customer id and a product name like ``../../etc/x`` flow through validate, features and
    anomaly; nothing is written outside the project and no file is named after a data value."""
    from segmint.generate import generate_shop
    from segmint.settings import GenerateSettings, Settings
    from tasks.anomaly import run_anomaly
    from tasks.features import run_features
    from tasks.ingest import write_raw
    from tasks.validate import run_validate

    evil = "../../etc/x"
    shop = generate_shop(GenerateSettings(customers=300, seed=3))
    tables = dict(shop.tables.items())
    first = tables["customers"]["customer_id"].iloc[0]
    for name, frame in tables.items():
        if "customer_id" in frame.columns:
            tables[name] = frame.assign(
                customer_id=frame["customer_id"].astype(str).where(frame["customer_id"] != first, evil)
            )
    if "products" in tables and "name" in tables["products"].columns:
        tables["products"] = tables["products"].assign(name=f"{evil}/../../evil")
    from segmint.contracts import Tables

    project = tmp_path / "a" / "b" / "project"
    project.mkdir(parents=True)
    paths = ProjectPaths(project)
    write_raw(Tables.from_mapping(tables), {"source": "test"}, paths)
    settings = Settings()
    run_validate(settings, paths)
    run_features(settings, paths)
    run_anomaly(settings, paths)

    everything = [p for p in tmp_path.rglob("*")]
    outside = [p for p in everything if p.is_file() and project not in p.parents]
    assert outside == []
    assert not (tmp_path / "a" / "etc").exists() and not (tmp_path / "etc").exists()
    names = {p.name for p in project.rglob("*")}
    assert "x" not in names and not any("etc" in n or evil in n for n in names)
    features = pd.read_parquet(paths.features / "features.parquet")
    assert evil in set(features["customer_id"].astype(str)), "the hostile id is still processed as data"
