"""Personalised campaign messages: a subject and a body per contacted customer from editable templates.

Templates are Jinja2 files with a ``subject`` and a ``body`` block, rendered in a
:class:`~jinja2.sandbox.SandboxedEnvironment` with HTML autoescape and strict undefined variables,
so a template can neither reach Python internals nor inject markup through product names. The first
template found of (see :func:`template_names`) serves a customer:

1. ``<segment>__<offer>.j2`` (the segment's name as a slug, e.g. ``loyal_regulars__discount_10.j2``);
2. ``<tone>__<offer>.j2`` (the tone of the segment, :func:`segment_tone`);
3. ``<offer>.j2``;
4. ``<tone>.j2``;
5. ``default.j2``.

A template sees only ``offer``, ``offer_text``, ``products`` (names of the first recommended
products), ``segment_name`` and ``tone``: never anomaly flags or the features behind a segment, so a
message cannot reveal a sensitive inference.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import BaseLoader, StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment

MESSAGE_COLUMNS: tuple[str, ...] = ("customer_id", "offer", "segment_name", "subject", "body")
# Tone of a segment from keywords of its name, first match wins; the rest get "default".
TONES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("welcome", ("newcomer", "new ")),
    ("valued", ("loyal", "high-value", "premium", "champion", "regular")),
    ("reconnect", ("lapsing", "occasional", "hibernating", "at risk", "low-value")),
    ("deals", ("bargain", "bulk")),
)
# What an offer gives, in words; other offers are named by their id.
OFFER_WORDS: dict[str, str] = {
    "discount_10": "10% off your next order",
    "free_shipping": "free shipping on your next order",
}
PRODUCTS_IN_MESSAGE = 3
_SLUG = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    """Lower-case words joined by ``_``: ``"high-value regulars 2"`` → ``high_value_regulars_2``."""
    return _SLUG.sub("_", str(text).lower()).strip("_")


def segment_tone(segment_name: str | None) -> str:
    """The wording a segment gets: ``welcome``, ``valued``, ``reconnect``, ``deals`` or ``default``."""
    name = f"{segment_name or ''} ".lower()
    for tone, keywords in TONES:
        if any(keyword in name for keyword in keywords):
            return tone
    return "default"


def template_names(segment_name: str | None, offer: str) -> list[str]:
    """The template files that could serve a segment and offer, most specific first."""
    tone, offer_slug = segment_tone(segment_name), slug(offer)
    names = [f"{slug(segment_name)}__{offer_slug}.j2"] if segment_name else []
    return [*names, f"{tone}__{offer_slug}.j2", f"{offer_slug}.j2", f"{tone}.j2", "default.j2"]


def message_environment(loader: BaseLoader) -> SandboxedEnvironment:
    """The sandboxed, HTML-autoescaping, strict environment messages are rendered in."""
    return SandboxedEnvironment(
        loader=loader, autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )


def _block(template: Template, name: str, context: dict[str, Any]) -> str:
    if name not in template.blocks:
        raise ValueError(f"message template {template.name!r} has no {{% block {name} %}}")
    return "".join(template.blocks[name](template.new_context(context))).strip()


def render_message(
    env: SandboxedEnvironment, segment_name: str | None, offer: str, products: Sequence[str]
) -> tuple[str, str]:
    """The subject and body for one customer.

    Raises:
        jinja2.sandbox.SecurityError: the template reaches for an unsafe attribute.
        jinja2.TemplateNotFound: not even ``default.j2`` exists.
    """
    template = env.select_template(template_names(segment_name, offer))
    context = {
        "offer": offer,
        "offer_text": OFFER_WORDS.get(offer, offer.replace("_", " ")),
        "products": list(products)[:PRODUCTS_IN_MESSAGE],
        "segment_name": segment_name or "",
        "tone": segment_tone(segment_name),
    }
    return _block(template, "subject", context), _block(template, "body", context)


def messages_frame(env: SandboxedEnvironment, contacts: pd.DataFrame) -> pd.DataFrame:
    """One message per contacted customer.

    Args:
        env: From :func:`message_environment`.
        contacts: ``customer_id``, ``offer``, ``segment_name`` and ``products`` (a list of product
            names, best first).

    Returns:
        Columns :data:`MESSAGE_COLUMNS`, one row per row of ``contacts``.
    """
    rendered = [
        render_message(env, None if pd.isna(segment) else str(segment), str(offer), list(products))
        for segment, offer, products in zip(
            contacts["segment_name"], contacts["offer"], contacts["products"], strict=True
        )
    ]
    return pd.DataFrame(
        {
            "customer_id": contacts["customer_id"].astype(str).to_numpy(),
            "offer": contacts["offer"].astype(str).to_numpy(),
            "segment_name": contacts["segment_name"].to_numpy(),
            "subject": [subject for subject, _ in rendered],
            "body": [body for _, body in rendered],
        },
        columns=list(MESSAGE_COLUMNS),
    )


def message_examples(messages: pd.DataFrame) -> pd.DataFrame:
    """One example message per segment and offer (the first customer's), with how many get it.

    Returns:
        Columns :data:`MESSAGE_COLUMNS` plus ``customers``, sorted by segment and offer.
    """
    # Customers without a segment (no usable segmenter) form one group of their own.
    keys = messages[["offer"]].assign(segment=messages["segment_name"].fillna("").astype(str))
    customers = keys.groupby(["segment", "offer"])["offer"].transform("size").to_numpy()
    first = messages.assign(customers=customers)[~keys.duplicated(["segment", "offer"]).to_numpy()]
    order = np.lexsort(
        (first["offer"].astype(str).to_numpy(), first["segment_name"].fillna("").astype(str).to_numpy())
    )
    return first.iloc[order].reset_index(drop=True)
