"""Messages: a subject and a body for every contacted customer of the campaign plan.

Reads ``outputs/campaign_plan.parquet`` (group ``treatment`` with an offer), the customers' segments
and recommendations from ``outputs/customer_scores.parquet`` and the product names; renders the
templates of ``templates/messages/`` in the project, falling back to those shipped in
``tasks/message_templates/`` (see :mod:`segmint.messages`); writes ``outputs/messages.parquet`` and
``outputs/message_examples.parquet`` (one per segment and offer).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
from jinja2 import FileSystemLoader

from segmint.messages import (
    MESSAGE_COLUMNS,
    PRODUCTS_IN_MESSAGE,
    message_environment,
    message_examples,
    messages_frame,
)
from tasks.io import write_parquet
from tasks.paths import ProjectPaths

MESSAGES_FILE = "messages.parquet"
EXAMPLES_FILE = "message_examples.parquet"
PACKAGE_TEMPLATES = Path(__file__).resolve().parent / "message_templates"


def template_folders(paths: ProjectPaths) -> list[Path]:
    """Where templates are looked up, first match wins: the project's own, then the shipped ones."""
    own = paths.root / "templates" / "messages"
    return [own, PACKAGE_TEMPLATES] if own.is_dir() else [PACKAGE_TEMPLATES]


def _contacts(paths: ProjectPaths) -> pd.DataFrame:
    """Contacted customers with their offer, segment name and recommended product ids."""
    plan = pq.read_table(
        paths.outputs / "campaign_plan.parquet",
        columns=["customer_id", "offer", "group"],
        filters=[("group", "=", "treatment")],
    ).to_pandas()
    plan = plan[plan["offer"].notna()][["customer_id", "offer"]]
    scores = pq.read_table(
        paths.outputs / "customer_scores.parquet",
        columns=["customer_id", "segment_name", "recommended_product_ids"],
    ).to_pandas()
    return plan.merge(scores, on="customer_id", how="left")


def _product_names(paths: ProjectPaths) -> dict[str, str]:
    """Product id → name (its category where the table has no names)."""
    file = paths.table(paths.validated, "products")
    if not file.exists():
        return {}
    present = set(pq.read_schema(file).names)
    column = "name" if "name" in present else "category"
    products = pq.read_table(file, columns=["product_id", column]).to_pandas().dropna()
    return dict(zip(products["product_id"].astype(str), products[column].astype(str), strict=True))


def _with_product_names(contacts: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    def first_names(ids: Any) -> list[str]:
        listed = [] if ids is None or (isinstance(ids, float) and pd.isna(ids)) else list(ids)
        return [names.get(str(pid), str(pid)) for pid in listed[:PRODUCTS_IN_MESSAGE]]

    return contacts.assign(products=contacts["recommended_product_ids"].map(first_names))


def write_messages(paths: ProjectPaths) -> dict[str, Any]:
    """Render and write the messages of the contacted customers; returns what the metrics record.

    Args:
        paths: Where the plan, scores and products are read and the messages written.
    """
    contacts = _with_product_names(_contacts(paths), _product_names(paths))
    env = message_environment(FileSystemLoader([str(folder) for folder in template_folders(paths)]))
    messages = messages_frame(env, contacts) if len(contacts) else pd.DataFrame(columns=list(MESSAGE_COLUMNS))
    write_parquet(paths.outputs / MESSAGES_FILE, messages)
    examples = message_examples(messages) if len(messages) else messages.assign(customers=0)
    write_parquet(paths.outputs / EXAMPLES_FILE, examples)
    return {"messages": int(len(messages)), "examples": int(len(examples))}
