"""Pages people read: one Jinja2 environment, the number filters and the plot style for every HTML page.

The review report, the validation page and the drift index are rendered from the templates in
``tasks/templates`` with autoescape on, so every value that came from data is escaped by the template
engine rather than by hand. Numbers are shown as people read them: three significant figures with
thousands separators, shares as percentages, and a missing value as words or a dash, never ``None``
or ``nan``. Figures are inline PNGs drawn under one matplotlib style: the pages work offline.
"""

from __future__ import annotations

import base64
import io
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

MISSING = "—"
# Counts are shown exactly up to this size; larger ones are rounded like any other number.
EXACT_COUNT_LIMIT = 1_000_000
ISO_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
PLOT_STYLE: dict[str, Any] = {
    "figure.dpi": 90,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e4e4e4",
    "legend.fontsize": 7,
    "legend.frameon": False,
}
PALETTE = ("#3b6ea5", "#e07b39", "#5a9e6f", "#b5495b", "#8c6bb1", "#7f7f7f")


def is_missing(value: Any) -> bool:
    """Whether ``value`` stands for "no value": None, NaN, NaT or pandas' NA."""
    if value is None:
        return True
    if isinstance(value, (float, np.floating)):
        return math.isnan(value)
    try:
        return bool(pd.isna(value)) if np.ndim(value) == 0 else False
    except (TypeError, ValueError):
        return False


def number(value: Any, missing: str = MISSING) -> str:
    """``value`` for a reader: three significant figures with thousands separators.

    Whole counts below a million are shown exactly (``12,898``); every other number is rounded to
    three significant figures (``8,600``, ``0.0979``, ``1.23e-05`` below one in ten thousand).
    Trailing zeros are dropped. Missing values are shown as ``missing``.
    """
    if is_missing(value):
        return missing
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)) and abs(int(value)) < EXACT_COUNT_LIMIT:
        return f"{int(value):,}"
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x == 0:
        return "0"
    if abs(x) < 1e-4:
        return f"{x:.3g}"
    decimals = 2 - math.floor(math.log10(abs(x)))
    rounded = round(x, decimals)
    text = f"{rounded:,.{max(decimals, 0)}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "0") else text


def percent(value: Any, missing: str = MISSING) -> str:
    """A share (0.397) as a percentage for a reader (``39.7%``)."""
    if is_missing(value):
        return missing
    return f"{number(float(value) * 100)}%"


def signed(value: Any, missing: str = MISSING) -> str:
    """A difference with its sign (``+0.0123``, ``−0.5``)."""
    if is_missing(value):
        return missing
    text = number(value)
    return text if text.startswith("-") or text == "0" else f"+{text}"


def timestamp(value: Any) -> str:
    """An ISO timestamp to the minute, in the zone it was written in."""
    stamp = pd.Timestamp(value)
    zone = "" if stamp.tzinfo is None else (" UTC" if stamp.utcoffset() == pd.Timedelta(0) else " %z")
    return stamp.strftime(f"%Y-%m-%d %H:%M{zone}")


def cell(value: Any, missing: str = MISSING) -> str:
    """Any value for a table cell: numbers as :func:`number`, lists joined, timestamps to the minute."""
    if isinstance(value, str):
        return timestamp(value) if ISO_TIMESTAMP.match(value) else value
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(cell(v, missing) for v in value) or missing
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {cell(v, missing)}" for k, v in value.items()) or missing
    if isinstance(value, (datetime, date, pd.Timestamp)) and not is_missing(value):
        return timestamp(value)
    return number(value, missing)


@dataclass(frozen=True)
class Table:
    """A frame ready for the ``table`` macro: headers, formatted cells, and how many rows were cut."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    more: int = 0


def _is_share(column: str) -> bool:
    return "share" in column.lower().split("_") or column.lower().endswith("share")


def table(
    frame: pd.DataFrame | None,
    max_rows: int = 50,
    percent_columns: Iterable[str] | None = None,
    missing: str = MISSING,
) -> Table:
    """``frame`` formatted for people: shares (columns named ``*share*``, or ``percent_columns``) as
    percentages, every other value as :func:`cell`, headers with spaces for underscores; at most
    ``max_rows`` rows."""
    if frame is None or not len(frame):
        return Table(columns=(), rows=())
    names = [str(c) for c in frame.columns]
    shares = set(percent_columns) if percent_columns is not None else {c for c in names if _is_share(c)}
    rows = tuple(
        tuple(
            percent(v, missing) if name in shares and not isinstance(v, str) else cell(v, missing)
            for name, v in zip(names, row, strict=True)
        )
        for row in frame.head(max_rows).itertuples(index=False)
    )
    headers = tuple(name.replace("_", " ") for name in names)
    return Table(columns=headers, rows=rows, more=max(len(frame) - max_rows, 0))


def plot_style() -> dict[str, Any]:
    """The one matplotlib style every figure in the pages is drawn with."""
    # matplotlib wants its colour cycle as a cycler; cycler ships with matplotlib.
    from cycler import cycler

    return {**PLOT_STYLE, "axes.prop_cycle": cycler(color=list(PALETTE))}


def figure(draw: Callable[[Any], None], width: float = 7.0, height: float = 3.2) -> str:
    """A PNG drawn by ``draw(ax)`` under :func:`plot_style`, as a data URI; empty without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        return ""
    with plt.rc_context(plot_style()):
        fig, ax = plt.subplots(figsize=(width, height))
        try:
            draw(ax)
            fig.tight_layout()
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png")
        finally:
            plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tasks", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(number=number, percent=percent, signed=signed, cell=cell)
    return env


ENVIRONMENT = _environment()


def render(template: str, **context: Any) -> Markup:
    """The template ``template`` (under ``tasks/templates``) rendered with ``context``, autoescaped."""
    return Markup(ENVIRONMENT.get_template(template).render(**context))
