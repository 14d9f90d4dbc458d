"""Validation of canonical tables: table-level gates that raise, row-level rules that quarantine.

Row rules are vectorised (numpy, pandas, pyarrow compute) so tens of millions of rows validate in
seconds; the reviewed Great Expectations suites in ``expectations/`` carry the same rules (each
expectation names its rule in ``meta.rule``) and are run by the validate task on a bounded sample of
the accepted rows as a post-condition.

Decisions:

* Accepted + quarantined == input for every table; a quarantined row lists every rule it broke
  (``;``-joined, in :data:`RULES` order).
* Referential rules check against the *accepted* customers and products, so accepted tables are
  always consistent with each other.
* Order lines and behaviour events without a customer id are *unattributed* (guest checkouts and
  anonymous sessions are a fact of the business, not a broken feed): they are quarantined under
  ``customer_id_not_null`` but counted against ``max_unattributed_share`` rather than
  ``max_quarantine_share``. A row that breaks any other rule as well counts against the latter.
* Negative quantities are returns: with ``is_return`` true (or absent) the row is kept with the
  absolute quantity; with ``is_return`` explicitly false it is quarantined (``return_consistent``).
* Text is repaired, not quarantined: control characters (other than tab and newlines) are removed and
  text longer than ``max_text_chars`` is truncated — the rating and the rest of the review stay
  usable. Repairs are counted in the summary.
* A campaign whose rows are all control (or all treated) is accepted but flagged in
  ``summary["campaigns"]["flags"]`` and :attr:`ValidationResult.warnings`: there is nothing to
  compare, so the uplift stage skips it with that message.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa

from segmint.contracts import CONTROL, EVENT_TYPES, SCHEMAS, TABLE_NAMES, BadInputError, Tables, coerce_table
from segmint.settings import ValidateSettings

# Every row rule, in the order they are listed in a row's ``rule`` value, with the column it checks.
RULES: dict[str, str] = {
    "customer_id_not_null": "customer_id",
    "product_id_not_null": "product_id",
    "order_id_not_null": "order_id",
    "review_id_not_null": "review_id",
    "campaign_id_not_null": "campaign_id",
    "treatment_not_null": "treatment",
    "signup_ts_not_null": "signup_ts",
    "ts_not_null": "ts",
    "sent_ts_not_null": "sent_ts",
    "signup_ts_not_future": "signup_ts",
    "ts_not_future": "ts",
    "sent_ts_not_future": "sent_ts",
    "duplicate_key": "",
    "duplicate_line": "",
    "event_type_domain": "event_type",
    "price_finite": "price",
    "price_range": "price",
    "quantity_finite": "quantity",
    "quantity_nonzero": "quantity",
    "return_consistent": "is_return",
    "unit_price_finite": "unit_price",
    "unit_price_range": "unit_price",
    "discount_finite": "discount",
    "rating_finite": "rating",
    "rating_domain": "rating",
    "converted_finite": "converted",
    "converted_domain": "converted",
    "revenue_finite": "revenue",
    "revenue_range": "revenue",
    "customer_known": "customer_id",
    "product_known": "product_id",
}
UNATTRIBUTED_RULE = "customer_id_not_null"
UNATTRIBUTED_TABLES: tuple[str, ...] = ("orders", "events")
# Only columns every row must carry: a wholly null optional column is just absent information.
_ALL_NULL_EXEMPT: dict[str, tuple[str, ...]] = {"orders": ("customer_id",), "events": ("customer_id",)}
_TIMESTAMP_COLUMNS = {
    "customers": "signup_ts",
    "events": "ts",
    "orders": "ts",
    "reviews": "ts",
    "campaigns": "sent_ts",
}
_ID_COLUMNS = {
    "customers": ("customer_id",),
    "products": ("product_id",),
    "events": ("customer_id", "product_id"),
    "orders": ("order_id", "customer_id", "product_id"),
    "reviews": ("review_id", "customer_id", "product_id"),
    "campaigns": ("campaign_id", "customer_id", "treatment"),
}
_CONTROL_CHARS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"


@dataclass(frozen=True)
class ValidationFailure:
    """A table-level breakage: enough to build the :class:`BadInputError` once the report exists."""

    table: str
    rule: str
    detail: str
    column: str | None = None
    count: int | None = None

    def error(self, report: str | None = None) -> BadInputError:
        """The error to raise, pointing at ``report`` when one was written."""
        return BadInputError(self.table, self.rule, self.detail, self.column, self.count, report)


@dataclass(frozen=True)
class ValidationResult:
    """Outcome of :func:`assess_tables` / :func:`validate_tables`.

    Attributes:
        accepted: the rows that passed every rule (repairs applied).
        quarantine: per present table, the rows that broke a rule with a ``rule`` column.
        summary: per table ``input``, ``accepted``, ``quarantined``, ``unattributed``, ``rules``
            (rule → row count), ``repairs`` and ``flags``.
        checks: table-level checks for the report (``table``, ``check``, ``column``, ``status``,
            ``observed``, ``threshold``).
        warnings: messages for later stages (e.g. a campaign with no control arm).
        failure: the first table-level breakage, or ``None``; ``accepted`` is then partial.
    """

    accepted: Tables | None
    quarantine: dict[str, pd.DataFrame]
    summary: dict
    checks: list[dict] = field(default_factory=list)
    warnings: tuple[str, ...] = ()
    failure: ValidationFailure | None = None

    @property
    def passed(self) -> bool:
        return self.failure is None


class _Stop(Exception):
    def __init__(self, failure: ValidationFailure) -> None:
        super().__init__(failure.detail)
        self.failure = failure


def validate_tables(
    tables: Tables,
    settings: ValidateSettings,
    previous_counts: dict[str, int] | None = None,
    now: pd.Timestamp | None = None,
) -> ValidationResult:
    """Accepted and quarantined rows of every present table.

    Args:
        tables: canonical tables (any dtypes that :func:`segmint.contracts.coerce_table` accepts).
        settings: the ``validate`` section.
        previous_counts: accepted row counts of the last run per table, for the row-count gate.
        now: the reference time for "not in the future" (default: the current time).

    Raises:
        BadInputError: a table-level breakage (missing table/column, uncoercible type, empty or
            all-null column, too many duplicate keys, quarantine or row-count gates).
    """
    result = assess_tables(tables, settings, previous_counts, now)
    if result.failure is not None:
        raise result.failure.error()
    return result


def assess_tables(
    tables: Tables,
    settings: ValidateSettings,
    previous_counts: dict[str, int] | None = None,
    now: pd.Timestamp | None = None,
) -> ValidationResult:
    """Like :func:`validate_tables`, but a table-level breakage is returned in ``.failure``.

    The summary and checks then cover the tables validated up to the failure, which is what a report
    written before the error is raised needs.
    """
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    horizon = now + pd.Timedelta(hours=settings.future_tolerance_hours)
    previous = previous_counts or {}
    accepted: dict[str, pd.DataFrame] = {}
    quarantine: dict[str, pd.DataFrame] = {}
    summary: dict[str, dict] = {}
    checks: list[dict] = []
    warnings: list[str] = []
    try:
        if tables is None or tables.customers is None:
            raise _Stop(ValidationFailure("customers", "table_required", "the customers table is required"))
        for name in TABLE_NAMES:
            frame = tables.get(name)
            if frame is None:
                continue
            df = _coerced(name, frame, checks)
            masks, df, repairs = _row_rules(name, df, settings, horizon, accepted)
            good, bad = _split(df, masks)
            unattributed = 0
            rule_counts = {rule: int(mask.sum()) for rule, mask in masks.items() if mask.any()}
            if name in UNATTRIBUTED_TABLES and UNATTRIBUTED_RULE in masks:
                others = np.zeros(len(df), dtype=bool)
                for rule, mask in masks.items():
                    if rule != UNATTRIBUTED_RULE:
                        others |= mask
                unattributed = int((masks[UNATTRIBUTED_RULE] & ~others).sum())
            flags = _campaign_flags(good) if name == "campaigns" else []
            warnings.extend(flags)
            summary[name] = {
                "input": len(df),
                "accepted": len(good),
                "quarantined": len(bad),
                "unattributed": unattributed,
                "rules": rule_counts,
                "repairs": repairs,
                "flags": flags,
            }
            accepted[name] = good
            quarantine[name] = bad
            _table_gates(name, summary[name], masks, settings, previous.get(name), checks)
    except _Stop as stop:
        return ValidationResult(
            accepted=None,
            quarantine=quarantine,
            summary=summary,
            checks=checks,
            warnings=tuple(warnings),
            failure=stop.failure,
        )
    return ValidationResult(
        accepted=Tables.from_mapping(accepted),
        quarantine=quarantine,
        summary=summary,
        checks=checks,
        warnings=tuple(warnings),
    )


def _check(
    checks: list[dict], table: str, check: str, column: str | None, ok: bool, observed, threshold
) -> bool:
    checks.append(
        {
            "table": table,
            "check": check,
            "column": column,
            "status": "passed" if ok else "failed",
            "observed": observed,
            "threshold": threshold,
        }
    )
    return ok


def _fail(checks: list[dict], failure: ValidationFailure, observed=None, threshold=None) -> None:
    _check(checks, failure.table, failure.rule, failure.column, False, observed, threshold)
    raise _Stop(failure)


def _already_canonical(name: str, df: pd.DataFrame) -> bool:
    expected = {
        "str": ("object", "string"),
        "timestamp": ("datetime64[ns, UTC]",),
        "float": ("float64",),
        "int": ("int64", "Int64"),
        "bool": ("bool",),
    }
    schema = SCHEMAS[name]
    for column in df.columns:
        kind = schema.kind_of(column)
        if kind is not None and str(df[column].dtype) not in expected[kind]:
            return False
    return all(c in df.columns for c in schema.required)


def _coerced(name: str, frame: pd.DataFrame, checks: list[dict]) -> pd.DataFrame:
    """Canonical dtypes, or a table-level failure (missing column, uncoercible type, empty, all-null)."""
    schema = SCHEMAS[name]
    if len(frame) == 0:
        _fail(checks, ValidationFailure(name, "table_not_empty", "the table has no rows", count=0), 0, ">= 1")
    df = frame
    # Infinite values in integer columns would make coercion fail for the whole table; they are a
    # row-level problem, so they become nulls here and the *_finite rule quarantines those rows.
    for column, kind in {**schema.required, **schema.optional}.items():
        if kind == "int" and column in df.columns and pd.api.types.is_float_dtype(df[column].dtype):
            values = df[column].to_numpy()
            if np.isinf(values).any():
                df = df.assign(**{column: np.where(np.isinf(values), np.nan, values)})
    if not _already_canonical(name, df):
        try:
            df = coerce_table(name, df)
        except BadInputError as exc:
            _fail(checks, ValidationFailure(name, exc.rule, str(exc), exc.column, exc.count))
    else:
        df = df.reset_index(drop=True)
        if name == "orders" and "is_return" not in df.columns:
            df = df.assign(is_return=df["quantity"].fillna(0).to_numpy() < 0)
    _check(checks, name, "columns_present", None, True, sorted(df.columns), sorted(schema.required))
    exempt = _ALL_NULL_EXEMPT.get(name, ())
    for column in schema.required:
        if column in exempt:
            continue
        nulls = int(df[column].isna().sum())
        if nulls == len(df):
            _fail(
                checks,
                ValidationFailure(name, "column_not_all_null", "every value is null", column, nulls),
                nulls,
                f"< {len(df)}",
            )
    return df


def _as_polars(df: pd.DataFrame, column: str, cache: dict[str, pl.Series]) -> pl.Series:
    """The string column as a polars Series (converted once per table through Arrow)."""
    if column not in cache:
        arr = pa.array(df[column].to_numpy(dtype=object), type=pa.string(), from_pandas=True)
        cache[column] = pl.Series(column, arr)
    return cache[column]


def _nulls(df: pd.DataFrame, column: str, cache: dict[str, pl.Series]) -> np.ndarray:
    if df[column].dtype == object:
        return _as_polars(df, column, cache).is_null().to_numpy()
    return df[column].isna().to_numpy()


def _is_in(df: pd.DataFrame, column: str, known: pd.Series, cache: dict[str, pl.Series]) -> np.ndarray:
    """``df[column]`` values found in ``known`` (nulls: False); polars hashes strings faster than pandas."""
    values = _as_polars(df, column, cache)
    reference = pl.Series("known", pa.array(known.dropna().to_numpy(dtype=object), type=pa.string()))
    return values.is_in(reference.implode()).fill_null(False).to_numpy()


def _not_finite(values: pd.Series) -> np.ndarray:
    num = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()
    return ~np.isfinite(num)


def _row_rules(
    name: str,
    df: pd.DataFrame,
    settings: ValidateSettings,
    horizon: pd.Timestamp,
    accepted: dict[str, pd.DataFrame],
) -> tuple[dict[str, np.ndarray], pd.DataFrame, dict[str, int]]:
    """Per-rule boolean masks of rows that break the rule, the repaired frame, and repair counts."""
    masks: dict[str, np.ndarray] = {}
    repairs: dict[str, int] = {}
    schema = SCHEMAS[name]
    cache: dict[str, pl.Series] = {}
    for column in _ID_COLUMNS[name]:
        masks[f"{column}_not_null"] = _nulls(df, column, cache)
    ts_col = _TIMESTAMP_COLUMNS.get(name)
    if ts_col is not None:
        ts = df[ts_col]
        masks[f"{ts_col}_not_null"] = ts.isna().to_numpy()
        masks[f"{ts_col}_not_future"] = (ts > horizon).fillna(False).to_numpy(dtype=bool)
    if schema.key:
        complete = ~np.logical_or.reduce([df[c].isna().to_numpy() for c in schema.key])
        dup = df.duplicated(list(schema.key), keep="first").to_numpy() & complete
        masks["duplicate_key"] = dup

    if name == "products":
        masks["price_finite"] = _not_finite(df["price"])
        price = df["price"].to_numpy(dtype="float64", na_value=np.nan)
        with np.errstate(invalid="ignore"):
            masks["price_range"] = np.isfinite(price) & ((price <= 0) | (price > settings.max_price))
        category = df["category"]
        if category.isna().any():
            repairs["category_filled_unknown"] = int(category.isna().sum())
            df = df.assign(category=category.where(category.notna(), "unknown"))
    elif name == "customers":
        for column in ("country", "channel"):
            if df[column].isna().any():
                repairs[f"{column}_filled_unknown"] = int(df[column].isna().sum())
                df = df.assign(**{column: df[column].where(df[column].notna(), "unknown")})
    elif name == "events":
        masks["event_type_domain"] = ~df["event_type"].isin(EVENT_TYPES).to_numpy()
    elif name == "orders":
        df, order_masks, order_repairs = _order_rules(df, settings)
        masks.update(order_masks)
        repairs.update(order_repairs)
    elif name == "reviews":
        rating = pd.to_numeric(df["rating"], errors="coerce").astype("float64").to_numpy()
        masks["rating_finite"] = ~np.isfinite(rating)
        with np.errstate(invalid="ignore"):
            masks["rating_domain"] = np.isfinite(rating) & (
                (rating < 1) | (rating > 5) | (rating != np.round(rating))
            )
        df, text_repairs = _repaired_text(df, settings.max_text_chars)
        repairs.update(text_repairs)
    elif name == "campaigns":
        for column in ("converted", "revenue"):
            masks[f"{column}_finite"] = _not_finite(df[column])
        converted = pd.to_numeric(df["converted"], errors="coerce").astype("float64").to_numpy()
        revenue = df["revenue"].to_numpy(dtype="float64", na_value=np.nan)
        with np.errstate(invalid="ignore"):
            masks["converted_domain"] = np.isfinite(converted) & ~np.isin(converted, (0.0, 1.0))
            masks["revenue_range"] = np.isfinite(revenue) & (revenue < 0)

    if name in ("events", "orders", "reviews", "campaigns"):
        known = _is_in(df, "customer_id", accepted["customers"]["customer_id"], cache)
        masks["customer_known"] = ~masks["customer_id_not_null"] & ~known
    if name in ("events", "orders", "reviews") and "products" in accepted:
        known = _is_in(df, "product_id", accepted["products"]["product_id"], cache)
        masks["product_known"] = ~masks["product_id_not_null"] & ~known
    return {rule: masks[rule] for rule in RULES if rule in masks}, df, repairs


def _order_rules(df: pd.DataFrame, settings: ValidateSettings) -> tuple[pd.DataFrame, dict, dict]:
    masks: dict[str, np.ndarray] = {}
    repairs: dict[str, int] = {}
    quantity = pd.to_numeric(df["quantity"], errors="coerce").astype("float64").to_numpy()
    unit_price = df["unit_price"].to_numpy(dtype="float64", na_value=np.nan)
    masks["quantity_finite"] = ~np.isfinite(quantity)
    masks["quantity_nonzero"] = quantity == 0
    masks["unit_price_finite"] = ~np.isfinite(unit_price)
    with np.errstate(invalid="ignore"):
        masks["unit_price_range"] = np.isfinite(unit_price) & (
            (unit_price < 0) | (unit_price > settings.max_price)
        )
    if "discount" in df.columns:
        masks["discount_finite"] = df["discount"].notna().to_numpy() & _not_finite(df["discount"])
    is_return = df["is_return"].to_numpy(dtype=bool)
    negative = np.nan_to_num(quantity, nan=0.0) < 0
    masks["return_consistent"] = negative & ~is_return
    flip = negative & is_return
    if flip.any():
        repairs["return_quantity_made_positive"] = int(flip.sum())
        fixed = df["quantity"].abs() if flip.all() else df["quantity"].where(~flip, df["quantity"].abs())
        df = df.assign(quantity=fixed)
    # Order lines have no key: the same product can appear twice in an order. Only lines equal in
    # every canonical column are duplicates.
    line_cols = [c for c in (*SCHEMAS["orders"].required, *SCHEMAS["orders"].optional) if c in df.columns]
    masks["duplicate_line"] = df.duplicated(line_cols, keep="first").to_numpy()
    return df, masks, repairs


def _repaired_text(df: pd.DataFrame, max_chars: int) -> tuple[pd.DataFrame, dict[str, int]]:
    repairs: dict[str, int] = {}
    text = df["text"]
    has_control = text.str.contains(_CONTROL_CHARS, regex=True, na=False)
    if has_control.any():
        repairs["text_control_chars_removed"] = int(has_control.sum())
        text = text.where(~has_control, text.str.replace(_CONTROL_CHARS, "", regex=True))
    too_long = text.str.len().fillna(0).to_numpy() > max_chars
    if too_long.any():
        repairs["text_truncated"] = int(too_long.sum())
        text = text.where(~too_long, text.str.slice(0, max_chars))
    if repairs:
        df = df.assign(text=text)
    return df, repairs


def _split(df: pd.DataFrame, masks: dict[str, np.ndarray]) -> tuple[pd.DataFrame, pd.DataFrame]:
    bad = np.zeros(len(df), dtype=bool)
    for mask in masks.values():
        bad |= mask
    good = df[~bad].reset_index(drop=True) if bad.any() else df
    rows = df[bad].reset_index(drop=True)
    labels = np.full(int(bad.sum()), "", dtype=object)
    for rule, mask in masks.items():
        hit = mask[bad]
        if hit.any():
            labels[hit] = np.where(labels[hit] == "", rule, labels[hit] + ";" + rule)
    return good, rows.assign(rule=labels)


def _table_gates(
    name: str,
    summary: dict,
    masks: dict[str, np.ndarray],
    settings: ValidateSettings,
    previous: int | None,
    checks: list[dict],
) -> None:
    n = summary["input"]
    key = ",".join(SCHEMAS[name].key) or None
    dup = summary["rules"].get("duplicate_key", 0)
    if SCHEMAS[name].key:
        share = dup / n
        if not _check(
            checks,
            name,
            "max_duplicate_key_share",
            key,
            share <= settings.max_duplicate_key_share,
            round(share, 6),
            settings.max_duplicate_key_share,
        ):
            raise _Stop(
                ValidationFailure(
                    name,
                    "max_duplicate_key_share",
                    f"{share:.1%} of rows repeat a key ({key}); "
                    f"at most {settings.max_duplicate_key_share:.1%} allowed",
                    key,
                    dup,
                )
            )
    unattributed = summary["unattributed"]
    if name in UNATTRIBUTED_TABLES:
        share = unattributed / n
        if not _check(
            checks,
            name,
            "max_unattributed_share",
            "customer_id",
            share <= settings.max_unattributed_share,
            round(share, 6),
            settings.max_unattributed_share,
        ):
            raise _Stop(
                ValidationFailure(
                    name,
                    "max_unattributed_share",
                    f"{share:.1%} of rows have no customer id; "
                    f"at most {settings.max_unattributed_share:.1%} allowed",
                    "customer_id",
                    unattributed,
                )
            )
    counted = summary["quarantined"] - unattributed
    share = counted / n
    if not _check(
        checks,
        name,
        "max_quarantine_share",
        None,
        share <= settings.max_quarantine_share,
        round(share, 6),
        settings.max_quarantine_share,
    ):
        top = max(
            (r for r in summary["rules"] if r != UNATTRIBUTED_RULE or unattributed == 0),
            key=lambda r: summary["rules"][r],
            default=None,
        )
        detail = ", ".join(f"{r}: {c}" for r, c in sorted(summary["rules"].items(), key=lambda x: -x[1]))
        raise _Stop(
            ValidationFailure(
                name,
                "max_quarantine_share",
                f"{share:.1%} of rows quarantined ({detail}); "
                f"at most {settings.max_quarantine_share:.1%} allowed",
                RULES.get(top or "", "") or None,
                counted,
            )
        )
    if previous:
        ratio = summary["accepted"] / previous
        lo, hi = settings.min_row_ratio, settings.max_row_ratio
        if not _check(checks, name, "row_count_ratio", None, lo <= ratio <= hi, round(ratio, 6), [lo, hi]):
            raise _Stop(
                ValidationFailure(
                    name,
                    "row_count_ratio",
                    f"{summary['accepted']} accepted rows vs {previous} last time "
                    f"(ratio {ratio:.3f}, allowed "
                    f"[{lo}, {hi}])",
                    None,
                    summary["accepted"],
                )
            )


def _campaign_flags(campaigns: pd.DataFrame) -> list[str]:
    if len(campaigns) == 0:
        return []
    control = (campaigns["treatment"] == CONTROL).to_numpy()
    per = pd.DataFrame({"campaign_id": campaigns["campaign_id"].to_numpy(), "control": control})
    counts = per.groupby("campaign_id")["control"].agg(["sum", "size"])
    flags = []
    for campaign_id, row in counts.iterrows():
        if row["sum"] == row["size"]:
            flags.append(
                f"campaign {campaign_id!r} has only control rows: no treatment effect can be estimated"
            )
        elif row["sum"] == 0:
            flags.append(
                f"campaign {campaign_id!r} has no control rows: no treatment effect can be estimated"
            )
    return flags


def render_validation_report(
    result: ValidationResult, expectation_results: list[dict] | None = None, title: str = "Validation report"
) -> str:
    """A self-contained HTML page with the summary, table checks, expectation results and samples.

    Args:
        result: the validation outcome.
        expectation_results: per-expectation rows from the suites (``table``, ``expectation``,
            ``column``, ``rule``, ``success``, ``unexpected_count``, ``element_count``).
        title: the page title.

    Returns:
        HTML text; every data value is escaped.
    """
    e = html.escape

    def table(headers: list[str], rows: list[list]) -> str:
        head = "".join(f"<th>{e(str(h))}</th>" for h in headers)
        body = "".join("<tr>" + "".join(f"<td>{e(str(v))}</td>" for v in row) + "</tr>" for row in rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    status = "PASSED" if result.passed else "FAILED"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{e(title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;"
        "text-align:left}.failed{color:#b00}.passed{color:#070}</style></head><body>",
        f"<h1>{e(title)}</h1><p class='{status.lower()}'><b>{status}</b></p>",
    ]
    if result.failure is not None:
        f = result.failure
        parts.append(
            f"<p class='failed'>table <b>{e(f.table)}</b>, column <b>{e(str(f.column))}</b>, rule "
            f"<b>{e(f.rule)}</b>, count {e(str(f.count))}: {e(f.detail)}</p>"
        )
    for w in result.warnings:
        parts.append(f"<p>warning: {e(w)}</p>")
    rows = [
        [
            name,
            s["input"],
            s["accepted"],
            s["quarantined"],
            s["unattributed"],
            "; ".join(f"{r}={c}" for r, c in s["rules"].items()),
            "; ".join(f"{r}={c}" for r, c in s["repairs"].items()),
        ]
        for name, s in result.summary.items()
    ]
    parts.append(
        "<h2>Tables</h2>"
        + table(["table", "input", "accepted", "quarantined", "unattributed", "rules", "repairs"], rows)
    )
    parts.append(
        "<h2>Table checks</h2>"
        + table(
            ["table", "check", "column", "status", "observed", "threshold"],
            [
                [c["table"], c["check"], c["column"], c["status"], c["observed"], c["threshold"]]
                for c in result.checks
            ],
        )
    )
    if expectation_results:
        parts.append(
            "<h2>Expectation suites (sample of accepted rows)</h2>"
            + table(
                ["table", "expectation", "column", "rule", "success", "unexpected", "rows checked"],
                [
                    [
                        r.get("table"),
                        r.get("expectation"),
                        r.get("column"),
                        r.get("rule"),
                        r.get("success"),
                        r.get("unexpected_count"),
                        r.get("element_count"),
                    ]
                    for r in expectation_results
                ],
            )
        )
    for name, frame in result.quarantine.items():
        if len(frame):
            sample = frame.head(20).astype(str)
            parts.append(
                f"<h2>Quarantine sample: {e(name)}</h2>"
                + table(list(sample.columns), sample.to_numpy().tolist())
            )
    parts.append("</body></html>")
    return "\n".join(parts)
