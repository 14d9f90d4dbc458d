"""Personal data never lands in a project, and `segmint forget` erases a customer from every file of it.

One DVC project ingests a generated shop whose customers carry realistic personal columns, with
pseudonymisation on, and goes through train, campaign and report. Every file of the project is then
searched for the raw values (parquet decoded, every other file as bytes). A customer is then forgotten
and the project retrained: neither the raw id nor its pseudonym is left anywhere, `.dvc/cache` and
`mlartifacts/` included.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmint.privacy import pseudonyms
from segmint.settings import GenerateSettings
from tasks.generate import write_generated_shop
from tests.integration.conftest import light_params, run_segmint

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEY = "a-shop-secret-for-tests"
ENV = {"SEGMINT_PSEUDONYM_KEY": KEY}
PERSONAL = ("full_name", "email", "phone", "home_address", "birth_date", "contact")
FIRST = ("Ingrid", "Tomasz", "Amara", "Kenji", "Lucia", "Oskar", "Priya", "Mateo", "Sione", "Yara")
LAST = ("Vasquez", "Okonkwo", "Lindqvist", "Tanaka", "Moreau", "Haddad", "Kowalski", "Brennan")


def _with_personal_columns(customers: pd.DataFrame, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = len(customers)
    first, last = rng.choice(FIRST, n), rng.choice(LAST, n)
    number = np.arange(1, n + 1)
    people = list(zip(first, last, number, strict=True))
    return customers.assign(
        full_name=[f"{f} {s}-{i:04d}" for f, s, i in people],
        email=[f"{f.lower()}.{s.lower()}{i}@mailbox.example" for f, s, i in people],
        phone=[f"+44 20 79{i:06d}" for i in number],
        home_address=[f"{i} Harbour Lane, Leeds LS{i % 30} {i % 9}QX" for i in number],
        birth_date=pd.to_datetime("1950-01-01") + pd.to_timedelta(rng.integers(0, 20_000, n), unit="D"),
        # e-mail addresses under a name that does not say so: recognised by content
        contact=[f"c{i}.{s.lower()}@post.example" for s, i in zip(last, number, strict=True)],
    )


def _cli(project: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    done = run_segmint(project, *args, timeout=timeout, env=ENV)
    assert done.returncode == 0, f"segmint {' '.join(args)}: {done.stderr[-3000:]}{done.stdout[-3000:]}"
    return done


def _tool(project: Path, *args: str) -> None:
    subprocess.run(args, cwd=project, check=True, capture_output=True)


def _files(project: Path) -> Iterable[Path]:
    paths = sorted(project.rglob("*"))
    return (p for p in paths if p.is_file() and not p.is_symlink() and ".git" not in p.parts)


def _parquet_strings(path: Path) -> set[str]:
    frame = pd.read_parquet(path)
    found: set[str] = set(map(str, frame.columns))
    for column in frame.columns:
        values = frame[column]
        if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
            for value in values.dropna():
                many = isinstance(value, list | np.ndarray | tuple)
                found.update(map(str, value) if many else [str(value)])
    return found


def _prefix_tree_pattern(needles: Iterable[str]) -> re.Pattern[bytes]:
    """One pattern matching any of ``needles`` (the longest at a position), shaped as their prefix tree.

    A flat alternation of thousands of literals makes ``re`` try each of them at every byte: minutes
    for one project. The tree tries only the needles that share the bytes read so far.
    """
    root: dict = {}
    for needle in needles:
        node = root
        for byte in needle.encode():
            node = node.setdefault(byte, {})
        node[None] = {}  # a needle ends here
    return re.compile(_branches(root))


def _branches(node: dict) -> bytes:
    """The pattern of a prefix-tree node: its children as alternatives, optional where a needle ends."""
    alternatives = [re.escape(bytes([b])) + _branches(child) for b, child in node.items() if b is not None]
    if not alternatives:
        return b""
    group = b"(?:" + b"|".join(alternatives) + b")"
    return group + b"?" if None in node else group


def _files_naming(project: Path, needles: Iterable[str]) -> dict[str, list[str]]:
    """File (relative) → the needles it holds: parquet by decoded cells and column names, else by bytes."""
    needles = sorted(set(needles))
    pattern = _prefix_tree_pattern(needles)
    hits: dict[str, list[str]] = {}
    for path in _files(project):
        data = path.read_bytes()
        if data[:4] == b"PAR1" and data[-4:] == b"PAR1":
            found = sorted(_parquet_strings(path) & set(needles))
        else:
            found = sorted({m.group().decode() for m in pattern.finditer(data)})
        if found:
            hits[str(path.relative_to(project))] = found[:3]
    return hits


@pytest.fixture(scope="module")
def private_project(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    shop = tmp_path_factory.mktemp("private_shop")
    write_generated_shop(shop, GenerateSettings(customers=800, products=120, days=240, waves=2, seed=41))
    customers = _with_personal_columns(pd.read_parquet(shop / "customers.parquet"))
    customers.to_parquet(shop / "customers.parquet", index=False)
    project = tmp_path_factory.mktemp("private_project")
    light_params(project / "params.yaml", {"privacy": {"pseudonymise": True}})
    bin_dir = Path(sys.executable).parent
    _tool(project, "git", "init", "-q")
    _tool(project, str(bin_dir / "dvc"), "init", "-q")
    _cli(project, "ingest", "--source", "canonical", "--path", str(shop))
    _cli(project, "train")
    _cli(project, "campaign")
    _cli(project, "report")
    return project, customers


def test_no_raw_personal_value_or_raw_id_lands_anywhere_in_the_project(private_project) -> None:
    project, customers = private_project
    values = [str(v) for column in PERSONAL for v in customers[column].astype(str)]
    values += [d.strftime("%Y-%m-%d") for d in customers["birth_date"].head(100)]
    assert (project / "mlflow.db").is_file() and (project / "mlartifacts").is_dir()
    assert (project / "reports" / "report.html").is_file() and (project / "outputs").is_dir()
    assert not _files_naming(project, values), "raw personal values found in the project"
    raw_ids = customers["customer_id"].astype(str).tolist()
    assert not _files_naming(project, raw_ids), "raw customer ids found: pseudonymisation leaked"
    source = json.loads((project / "data" / "raw" / "_source.json").read_text())
    dropped = " ".join(source["notes"])
    for column in PERSONAL:
        assert f"customers.{column}" in dropped, column
    assert KEY not in json.dumps(source) and not _files_naming(project, [KEY])


def test_forget_then_retrain_leaves_neither_the_id_nor_its_pseudonym_anywhere(private_project) -> None:
    project, customers = private_project
    orders = pd.read_parquet(project / "data" / "raw" / "orders.parquet")
    pseudonym_of = pseudonyms(customers["customer_id"].astype(str), KEY.encode())
    raw_of = {p: raw for raw, p in pseudonym_of.items()}
    busiest = orders["customer_id"].value_counts().index[0]
    raw_id, pseudonym = raw_of[busiest], busiest
    before = _files_naming(project, [pseudonym])
    assert any(path.startswith(".dvc/cache") for path in before) and any("mlartifacts" in p for p in before)

    forgot = _cli(project, "forget", raw_id)
    assert raw_id not in forgot.stdout + forgot.stderr and pseudonym not in forgot.stdout + forgot.stderr
    record = json.loads((project / "metrics" / "forget.json").read_text())
    assert record["customers"] == 1 and record["rows_removed"] > 0 and "DVC" in record["data_version"]
    _cli(project, "train")

    left = _files_naming(project, [raw_id, pseudonym])
    assert not left, f"the forgotten customer is still in {left}"
    assert (project / ".dvc" / "cache").is_dir() and any((project / "mlartifacts").rglob("*.pkl"))
    scores = pd.read_parquet(project / "outputs" / "customer_scores.parquet")
    assert len(scores) and pseudonym not in set(scores["customer_id"])
