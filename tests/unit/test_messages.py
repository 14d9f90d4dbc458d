"""Campaign messages: template lookup, HTML escaping, the sandbox, and no sensitive wording."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from jinja2 import DictLoader, FileSystemLoader
from jinja2.sandbox import SecurityError

from segmint.messages import (
    message_environment,
    message_examples,
    messages_frame,
    render_message,
    segment_tone,
    template_names,
)
from tasks.messages import PACKAGE_TEMPLATES, template_folders
from tasks.paths import ProjectPaths

SIMPLE = (
    "{% block subject %}Hi: {{ offer_text }}{% endblock %}"
    "{% block body %}{{ products|join(', ') }}{% endblock %}"
)
SENSITIVE = ("anomal", "fraud", "flag", "lapsing", "lapsed", "miss you", "stopped", "inactive", "risk")


def test_lookup_goes_from_segment_and_offer_to_the_default() -> None:
    assert template_names("high-value loyal regulars 2", "discount_10") == [
        "high_value_loyal_regulars_2__discount_10.j2",
        "valued__discount_10.j2",
        "discount_10.j2",
        "valued.j2",
        "default.j2",
    ]
    assert segment_tone("newcomers") == "welcome"
    assert segment_tone("lapsing") == "reconnect"
    assert segment_tone("window shoppers") == "default"
    env = message_environment(
        DictLoader({"default.j2": SIMPLE, "discount_10.j2": SIMPLE.replace("Hi", "Offer")})
    )
    assert render_message(env, "lapsing", "discount_10", [])[0].startswith("Offer")
    assert render_message(env, "lapsing", "free_shipping", [])[0].startswith("Hi")


def test_product_names_are_html_escaped() -> None:
    env = message_environment(DictLoader({"default.j2": SIMPLE}))
    subject, body = render_message(
        env, "bargain hunters", "discount_10", ["<script>alert(1)</script>", "Mug"]
    )
    assert "<script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert subject == "Hi: 10% off your next order"


@pytest.mark.parametrize(
    "attack",
    ["{{ ''.__class__.__mro__ }}", "{{ products.__class__.__mro__[1].__subclasses__() }}"],
)
def test_the_sandbox_refuses_python_internals(attack: str) -> None:
    template = "{% block subject %}x{% endblock %}{% block body %}" + attack + "{% endblock %}"
    env = message_environment(DictLoader({"default.j2": template}))
    with pytest.raises(SecurityError):
        render_message(env, "loyal regulars", "discount_10", ["Mug"])


def test_shipped_templates_render_every_tone_without_template_syntax_or_sensitive_words() -> None:
    env = message_environment(FileSystemLoader(str(PACKAGE_TEMPLATES)))
    segments = ["loyal regulars", "newcomers", "lapsing", "bargain hunters", "window shoppers", None]
    contacts = pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(len(segments))],
            "offer": ["discount_10", "free_shipping"] * 3,
            "segment_name": segments,
            "products": [["Mug & Co", "Lamp"], [], ["Tent"], ["Soap"], ["Pen"], ["Cup"]],
        }
    )
    messages = messages_frame(env, contacts)
    assert len(messages) == len(contacts) and messages["subject"].str.len().gt(0).all()
    assert len({body for body in messages["body"]}) >= 4  # the tones read differently
    for text in pd.concat([messages["subject"], messages["body"]]):
        assert text.strip() and not any(mark in text for mark in ("{{", "{%", "}}", "%}"))
        assert not any(word in text.lower() for word in SENSITIVE), text
    assert "Mug &amp; Co" in messages.loc[0, "body"]
    examples = message_examples(pd.concat([messages, messages.head(2)], ignore_index=True))
    assert len(examples) == len(contacts) and examples["customers"].max() == 2
    unsegmented = message_examples(messages.assign(segment_name=None))  # no usable segmenter
    assert unsegmented["customers"].sum() == len(messages) and len(unsegmented) == 2


def test_a_project_folder_overrides_the_shipped_templates(tmp_path: Path) -> None:
    paths = ProjectPaths(tmp_path)
    assert template_folders(paths) == [PACKAGE_TEMPLATES]
    own = tmp_path / "templates" / "messages"
    own.mkdir(parents=True)
    (own / "default.j2").write_text(SIMPLE.replace("Hi", "Ours"))
    env = message_environment(FileSystemLoader([str(f) for f in template_folders(paths)]))
    assert render_message(env, "window shoppers", "discount_10", [])[0].startswith("Ours")
    assert render_message(env, "loyal regulars", "discount_10", [])[0].startswith("Thank you")
