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

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import NoReturn

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa

from segmint.contracts import CONTROL, EVENT_TYPES, SCHEMAS, BadInputError, Tables, coerce_table
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
# (rule, column, parent table, child tables): rows of a child table must name an accepted parent row.
_REFERENCES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("customer_known", "customer_id", "customers", ("events", "orders", "reviews", "campaigns")),
    ("product_known", "product_id", "products", ("events", "orders", "reviews")),
)


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
    """Outcome of :func:`assess_tables`; :meth:`checked` raises a table-level breakage.

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

    def checked(self) -> ValidationResult:
        """This result, or its table-level breakage raised.

        Raises:
            BadInputError: a table-level breakage (missing table/column, uncoercible type, empty or
                all-null column, too many duplicate keys, quarantine or row-count gates).
        """
        if self.failure is not None:
            raise self.failure.error()
        return self

    @property
    def passed(self) -> bool:
        """Whether no table-level gate failed."""
        return self.failure is None


class _Stop(Exception):
    """A table-level failure, with the checks made by the step that found it (the failed one last)."""

    def __init__(self, failure: ValidationFailure, checks: tuple[dict, ...] = ()) -> None:
        super().__init__(failure.detail)
        self.failure = failure
        self.checks = checks


@dataclass(frozen=True)
class _Coerced:
    """A table in canonical dtypes and the passed checks that got it there."""

    frame: pd.DataFrame
    checks: tuple[dict, ...]


@dataclass(frozen=True)
class _RuleMasks:
    """Rows that break each rule (one boolean mask per rule), the repaired frame and repair counts."""

    frame: pd.DataFrame
    masks: dict[str, np.ndarray]
    repairs: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _AssessedTable:
    """One table's accepted and quarantined rows and its summary entry."""

    accepted: pd.DataFrame
    quarantine: pd.DataFrame
    summary: dict


@dataclass(frozen=True)
class _GateOutcome:
    """A table-level check for the report, and the failure when it did not pass."""

    check: dict
    failure: ValidationFailure | None = None


def assess_tables(
    tables: Tables,
    settings: ValidateSettings,
    previous_counts: dict[str, int] | None = None,
    now: pd.Timestamp | None = None,
) -> ValidationResult:
    """Accepted and quarantined rows of every present table; a table-level breakage is in ``.failure``.

    Args:
        tables: canonical tables (any dtypes that :func:`segmint.contracts.coerce_table` accepts).
        settings: the ``validate`` section.
        previous_counts: accepted row counts of the last run per table, for the row-count gate.
        now: the reference time for "not in the future" (default: the current time).

    After a failure the summary and checks cover the tables validated up to it, which is what a report
    written before the error is raised needs.
    """
    horizon = _future_horizon(now, settings.future_tolerance_hours)
    previous = previous_counts or {}
    accepted: dict[str, pd.DataFrame] = {}
    quarantine: dict[str, pd.DataFrame] = {}
    summary: dict[str, dict] = {}
    checks: list[dict] = []
    try:
        if tables is None or tables.customers is None:
            raise _Stop(ValidationFailure("customers", "table_required", "the customers table is required"))
        for name, frame in tables.items():
            coerced = _coerced(name, frame)
            checks.extend(coerced.checks)
            table = _assessed_table(name, coerced.frame, settings, horizon, accepted)
            accepted[name], quarantine[name], summary[name] = table.accepted, table.quarantine, table.summary
            checks.extend(_table_gates(name, table.summary, settings, previous.get(name)))
    except _Stop as stop:
        return ValidationResult(
            accepted=None,
            quarantine=quarantine,
            summary=summary,
            checks=[*checks, *stop.checks],
            warnings=_warnings(summary),
            failure=stop.failure,
        )
    return ValidationResult(
        accepted=Tables.from_mapping(accepted),
        quarantine=quarantine,
        summary=summary,
        checks=checks,
        warnings=_warnings(summary),
    )


def _future_horizon(now: pd.Timestamp | None, tolerance_hours: float) -> pd.Timestamp:
    """The latest timestamp that is not "in the future": ``now`` (UTC) plus the tolerance."""
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    return now + pd.Timedelta(hours=tolerance_hours)


def _warnings(summary: dict[str, dict]) -> tuple[str, ...]:
    return tuple(flag for table in summary.values() for flag in table["flags"])


def _check_row(table: str, check: str, column: str | None, ok: bool, observed, threshold) -> dict:
    return {
        "table": table,
        "check": check,
        "column": column,
        "status": "passed" if ok else "failed",
        "observed": observed,
        "threshold": threshold,
    }


def _stop(
    failure: ValidationFailure, observed=None, threshold=None, earlier: tuple[dict, ...] = ()
) -> NoReturn:
    failed = _check_row(failure.table, failure.rule, failure.column, False, observed, threshold)
    raise _Stop(failure, (*earlier, failed))


def _already_canonical(name: str, df: pd.DataFrame) -> bool:
    expected = {
        "str": ("object", "string", "str"),
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
    return all(column in df.columns for column in schema.required)


def _infinite_ints_as_null(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with infinite values in integer columns made null.

    They would make coercion fail for the whole table; they are a row-level problem, so the
    ``*_finite`` rules quarantine those rows instead.
    """
    schema = SCHEMAS[name]
    df = frame
    for column, kind in {**schema.required, **schema.optional}.items():
        if kind == "int" and column in df.columns and pd.api.types.is_float_dtype(df[column].dtype):
            values = df[column].to_numpy()
            if np.isinf(values).any():
                df = df.assign(**{column: np.where(np.isinf(values), np.nan, values)})
    return df


def _coerced(name: str, frame: pd.DataFrame) -> _Coerced:
    """Canonical dtypes, or a table-level failure (missing column, uncoercible type, empty, all-null)."""
    schema = SCHEMAS[name]
    if len(frame) == 0:
        _stop(ValidationFailure(name, "table_not_empty", "the table has no rows", count=0), 0, ">= 1")
    df = _infinite_ints_as_null(name, frame)
    if not _already_canonical(name, df):
        try:
            df = coerce_table(name, df)
        except BadInputError as exc:
            _stop(ValidationFailure(name, exc.rule, str(exc), exc.column, exc.count))
    else:
        df = df.reset_index(drop=True)
        if name == "orders" and "is_return" not in df.columns:
            df = df.assign(is_return=df["quantity"].fillna(0).to_numpy() < 0)
    present = _check_row(name, "columns_present", None, True, sorted(df.columns), sorted(schema.required))
    exempt = _ALL_NULL_EXEMPT.get(name, ())
    for column in schema.required:
        if column in exempt:
            continue
        nulls = int(df[column].isna().sum())
        if nulls == len(df):
            _stop(
                ValidationFailure(name, "column_not_all_null", "every value is null", column, nulls),
                nulls,
                f"< {len(df)}",
                earlier=(present,),
            )
    return _Coerced(df, (present,))


def _assessed_table(
    name: str,
    df: pd.DataFrame,
    settings: ValidateSettings,
    horizon: pd.Timestamp,
    accepted: dict[str, pd.DataFrame],
) -> _AssessedTable:
    """The table's accepted and quarantined rows after the row rules, with its summary entry."""
    rules = _row_rules(name, df, settings, horizon, accepted)
    good, bad = _split(rules.frame, rules.masks)
    summary = {
        "input": len(rules.frame),
        "accepted": len(good),
        "quarantined": len(bad),
        "unattributed": _unattributed(name, rules.masks),
        "rules": {rule: int(mask.sum()) for rule, mask in rules.masks.items() if mask.any()},
        "repairs": rules.repairs,
        "flags": _campaign_flags(good) if name == "campaigns" else [],
    }
    return _AssessedTable(good, bad, summary)


def _unattributed(name: str, masks: dict[str, np.ndarray]) -> int:
    """Rows quarantined only for lacking a customer id (they count against their own share)."""
    if name not in UNATTRIBUTED_TABLES or UNATTRIBUTED_RULE not in masks:
        return 0
    others = np.zeros(len(masks[UNATTRIBUTED_RULE]), dtype=bool)
    for rule, mask in masks.items():
        if rule != UNATTRIBUTED_RULE:
            others |= mask
    return int((masks[UNATTRIBUTED_RULE] & ~others).sum())


def _as_polars(df: pd.DataFrame, column: str) -> pl.Series:
    """The string column as a polars Series (through Arrow; an Arrow-held column is not copied)."""
    values = df[column]
    source = values.to_numpy(dtype=object) if values.dtype == object else values
    return pl.Series(column, pa.array(source, type=pa.string(), from_pandas=True))


def _references(name: str, accepted: dict[str, pd.DataFrame]) -> list[tuple[str, str, str]]:
    """``(rule, column, parent table)`` of each reference ``name``'s rows must resolve in ``accepted``."""
    return [
        (rule, column, parent)
        for rule, column, parent, tables in _REFERENCES
        if name in tables and parent in accepted
    ]


def _polars_ids(name: str, df: pd.DataFrame, accepted: dict[str, pd.DataFrame]) -> dict[str, pl.Series]:
    """The id columns that polars reads, converted once per table.

    Polars finds nulls in object columns and hashes strings for the reference rules faster than pandas.
    """
    referenced = {column for _, column, _ in _references(name, accepted)}
    columns = [column for column in _ID_COLUMNS[name] if df[column].dtype == object or column in referenced]
    return {column: _as_polars(df, column) for column in columns}


def _nulls(df: pd.DataFrame, column: str, ids: dict[str, pl.Series]) -> np.ndarray:
    if df[column].dtype == object:
        return ids[column].is_null().to_numpy()
    return df[column].isna().to_numpy()


def _is_in(values: pl.Series, known: pd.Series) -> np.ndarray:
    """``values`` found in ``known`` (nulls: False)."""
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
) -> _RuleMasks:
    """Per-rule masks of rows that break the rule (in :data:`RULES` order), the repaired frame, repairs."""
    ids = _polars_ids(name, df, accepted)
    masks = _completeness_masks(name, df, horizon, ids)
    table = _TABLE_RULES[name](df, settings)
    masks.update(table.masks)
    for rule, column, parent in _references(name, accepted):
        known = _is_in(ids[column], accepted[parent][column])
        masks[rule] = ~masks[f"{column}_not_null"] & ~known
    return _RuleMasks(table.frame, {rule: masks[rule] for rule in RULES if rule in masks}, table.repairs)


def _completeness_masks(
    name: str, df: pd.DataFrame, horizon: pd.Timestamp, ids: dict[str, pl.Series]
) -> dict[str, np.ndarray]:
    """The rules every table has: ids and timestamp present, timestamp not in the future, unique key."""
    masks = {f"{column}_not_null": _nulls(df, column, ids) for column in _ID_COLUMNS[name]}
    ts_col = _TIMESTAMP_COLUMNS.get(name)
    if ts_col is not None:
        ts = df[ts_col]
        masks[f"{ts_col}_not_null"] = ts.isna().to_numpy()
        masks[f"{ts_col}_not_future"] = (ts > horizon).fillna(False).to_numpy(dtype=bool)
    key = SCHEMAS[name].key
    if key:
        complete = ~np.logical_or.reduce([df[column].isna().to_numpy() for column in key])
        masks["duplicate_key"] = df.duplicated(list(key), keep="first").to_numpy() & complete
    return masks


def _filled_unknown(df: pd.DataFrame, columns: tuple[str, ...]) -> _RuleMasks:
    """Missing descriptive values repaired to ``"unknown"``: the rest of the row stays usable."""
    repairs: dict[str, int] = {}
    for column in columns:
        if df[column].isna().any():
            repairs[f"{column}_filled_unknown"] = int(df[column].isna().sum())
            df = df.assign(**{column: df[column].where(df[column].notna(), "unknown")})
    return _RuleMasks(df, {}, repairs)


def _customer_rules(df: pd.DataFrame, settings: ValidateSettings) -> _RuleMasks:
    return _filled_unknown(df, ("country", "channel"))


def _product_rules(df: pd.DataFrame, settings: ValidateSettings) -> _RuleMasks:
    price = df["price"].to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        out_of_range = np.isfinite(price) & ((price <= 0) | (price > settings.max_price))
    filled = _filled_unknown(df, ("category",))
    masks = {"price_finite": _not_finite(df["price"]), "price_range": out_of_range}
    return _RuleMasks(filled.frame, masks, filled.repairs)


def _event_rules(df: pd.DataFrame, settings: ValidateSettings) -> _RuleMasks:
    return _RuleMasks(df, {"event_type_domain": ~df["event_type"].isin(EVENT_TYPES).to_numpy()})


def _order_rules(df: pd.DataFrame, settings: ValidateSettings) -> _RuleMasks:
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
    canonical = (*SCHEMAS["orders"].required, *SCHEMAS["orders"].optional)
    line_columns = [column for column in canonical if column in df.columns]
    masks["duplicate_line"] = df.duplicated(line_columns, keep="first").to_numpy()
    return _RuleMasks(df, masks, repairs)


def _review_rules(df: pd.DataFrame, settings: ValidateSettings) -> _RuleMasks:
    rating = pd.to_numeric(df["rating"], errors="coerce").astype("float64").to_numpy()
    masks = {"rating_finite": ~np.isfinite(rating)}
    with np.errstate(invalid="ignore"):
        masks["rating_domain"] = np.isfinite(rating) & (
            (rating < 1) | (rating > 5) | (rating != np.round(rating))
        )
    repaired, repairs = _repaired_text(df, settings.max_text_chars)
    return _RuleMasks(repaired, masks, repairs)


def _campaign_rules(df: pd.DataFrame, settings: ValidateSettings) -> _RuleMasks:
    masks = {f"{column}_finite": _not_finite(df[column]) for column in ("converted", "revenue")}
    converted = pd.to_numeric(df["converted"], errors="coerce").astype("float64").to_numpy()
    revenue = df["revenue"].to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        masks["converted_domain"] = np.isfinite(converted) & ~np.isin(converted, (0.0, 1.0))
        masks["revenue_range"] = np.isfinite(revenue) & (revenue < 0)
    return _RuleMasks(df, masks)


# The rules of each table beyond the ids, timestamp and key that every table has.
_TABLE_RULES: dict[str, Callable[[pd.DataFrame, ValidateSettings], _RuleMasks]] = {
    "customers": _customer_rules,
    "products": _product_rules,
    "events": _event_rules,
    "orders": _order_rules,
    "reviews": _review_rules,
    "campaigns": _campaign_rules,
}


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


def _table_gates(name: str, summary: dict, settings: ValidateSettings, previous: int | None) -> list[dict]:
    """The checks of the table-level gates, in order; the first that fails raises :class:`_Stop`."""
    outcomes = (
        _duplicate_key_gate(name, summary, settings),
        _unattributed_gate(name, summary, settings),
        _quarantine_gate(name, summary, settings),
        _row_count_gate(name, summary, settings, previous),
    )
    checks: list[dict] = []
    for outcome in outcomes:
        if outcome is None:
            continue
        checks.append(outcome.check)
        if outcome.failure is not None:
            raise _Stop(outcome.failure, tuple(checks))
    return checks


@dataclass(frozen=True)
class _ShareLimit:
    """A share-of-rows gate: ``count`` of ``total`` rows broke it; at most ``limit`` may."""

    rule: str
    column: str | None
    count: int
    total: int
    limit: float
    what: str  # what the counted rows did, for the message ("repeat a key (id)")


def _share_gate(name: str, gate: _ShareLimit, detail_suffix: str = "") -> _GateOutcome:
    share = gate.count / gate.total
    ok = share <= gate.limit
    check = _check_row(name, gate.rule, gate.column, ok, round(share, 6), gate.limit)
    if ok:
        return _GateOutcome(check)
    detail = f"{share:.1%} of rows {gate.what}{detail_suffix}; at most {gate.limit:.1%} allowed"
    return _GateOutcome(check, ValidationFailure(name, gate.rule, detail, gate.column, gate.count))


def _duplicate_key_gate(name: str, summary: dict, settings: ValidateSettings) -> _GateOutcome | None:
    if not SCHEMAS[name].key:
        return None
    key = ",".join(SCHEMAS[name].key)
    duplicates = summary["rules"].get("duplicate_key", 0)
    limit, total = settings.max_duplicate_key_share, summary["input"]
    gate = _ShareLimit("max_duplicate_key_share", key, duplicates, total, limit, f"repeat a key ({key})")
    return _share_gate(name, gate)


def _unattributed_gate(name: str, summary: dict, settings: ValidateSettings) -> _GateOutcome | None:
    if name not in UNATTRIBUTED_TABLES:
        return None
    limit, count, total = settings.max_unattributed_share, summary["unattributed"], summary["input"]
    gate = _ShareLimit("max_unattributed_share", "customer_id", count, total, limit, "have no customer id")
    return _share_gate(name, gate)


def _quarantine_gate(name: str, summary: dict, settings: ValidateSettings) -> _GateOutcome:
    unattributed = summary["unattributed"]
    rules = summary["rules"]
    # The column named is that of the most frequent rule; unattributed rows have their own gate.
    top = max(
        (rule for rule in rules if rule != UNATTRIBUTED_RULE or unattributed == 0),
        key=lambda rule: rules[rule],
        default=None,
    )
    counts = ", ".join(f"{rule}: {count}" for rule, count in sorted(rules.items(), key=lambda item: -item[1]))
    counted = summary["quarantined"] - unattributed
    limit = settings.max_quarantine_share
    gate = _ShareLimit("max_quarantine_share", None, counted, summary["input"], limit, "quarantined")
    outcome = _share_gate(name, gate, f" ({counts})")
    if outcome.failure is None:
        return outcome
    column = RULES.get(top or "", "") or None
    return _GateOutcome(outcome.check, replace(outcome.failure, column=column))


def _row_count_gate(
    name: str, summary: dict, settings: ValidateSettings, previous: int | None
) -> _GateOutcome | None:
    if not previous:
        return None
    ratio = summary["accepted"] / previous
    lo, hi = settings.min_row_ratio, settings.max_row_ratio
    ok = lo <= ratio <= hi
    check = _check_row(name, "row_count_ratio", None, ok, round(ratio, 6), [lo, hi])
    if ok:
        return _GateOutcome(check)
    accepted = summary["accepted"]
    detail = f"{accepted} accepted rows vs {previous} last time (ratio {ratio:.3f}, allowed [{lo}, {hi}])"
    return _GateOutcome(check, ValidationFailure(name, "row_count_ratio", detail, None, accepted))


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
