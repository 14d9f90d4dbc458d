"""Personal data: which columns hold it, keyed pseudonyms for customer ids, and erasure.

Personal columns (name, e-mail, phone, address, birth date, …) are recognised by their name and, for
e-mail addresses and phone numbers, by their content. Ingest drops them unless a project allow-lists
them, and :mod:`segmint.features` never turns them into features. With pseudonymisation on, every
``customer_id`` is replaced by an HMAC-SHA256 of it under a secret key that the caller supplies and
never stores; the same key gives the same pseudonym, so a shop can map plans back to its customers.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from segmint.contracts import SCHEMAS, Tables

# Column names (lower case, separators removed) that hold personal data, each with what it is.
_PERSONAL_NAMES: tuple[tuple[str, str], ...] = (
    (r"(first|last|given|family|full|sur|middle|user|customer|contact)?name", "a name"),
    (r"e?mail(address)?", "an e-mail address"),
    (r"(phone|mobile|cell|telephone|tel|fax)(number|no)?", "a phone number"),
    (r"(street|home|postal|billing|shipping|delivery)?(address|street)(line)?\d*", "an address"),
    (r"(zip|post|postal)(code)?", "a postal code"),
    (r"(date|day)?of?birth(date|day)?|dob|birthday|birthdate", "a birth date"),
    (
        r"(ssn|socialsecurity(number)?|nationalid|passport(number)?|taxid|iban|creditcard(number)?)",
        "an identity number",
    ),
    (r"(ip|ipaddress)", "an IP address"),
)
_NAME_PATTERNS = tuple((re.compile(f"^{pattern}$"), what) for pattern, what in _PERSONAL_NAMES)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[\d\s().-]{7,20}$")
_CONTENT_SAMPLE = 200
_CONTENT_SHARE = 0.5
# Columns the model may never use, whatever the project allows: consent is not a customer trait.
NEVER_FEATURES: frozenset[str] = frozenset({"opted_out"})


@dataclass(frozen=True)
class PersonalColumn:
    """One column recognised as personal data, and how."""

    table: str
    column: str
    reason: str

    @property
    def qualified(self) -> str:
        """``table.column``."""
        return f"{self.table}.{self.column}"


def _squashed(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def personal_by_name(column: str) -> str | None:
    """What personal data the column name says it holds, or ``None``."""
    squashed = _squashed(column)
    return next((what for pattern, what in _NAME_PATTERNS if pattern.match(squashed)), None)


def personal_by_content(values: pd.Series) -> str | None:
    """``"e-mail addresses"`` / ``"phone numbers"`` when most sampled non-empty strings are such."""
    if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_datetime64_any_dtype(values.dtype):
        return None
    sample = values.dropna().astype(str).str.strip()
    sample = sample[sample != ""].head(_CONTENT_SAMPLE)
    if sample.empty:
        return None
    if sample.str.match(_EMAIL).mean() >= _CONTENT_SHARE:
        return "e-mail addresses (by content)"
    digits = sample.str.count(r"\d")
    if (sample.str.match(_PHONE) & (digits >= 7)).mean() >= _CONTENT_SHARE:
        return "phone numbers (by content)"
    return None


def personal_columns(tables: Tables) -> list[PersonalColumn]:
    """Every non-canonical column of every table that holds personal data, by name or content.

    The canonical columns of :data:`segmint.contracts.SCHEMAS` (ids, timestamps, product names…) are
    never reported: they are the contract, and ``customer_id`` is handled by pseudonymisation.
    """
    found: list[PersonalColumn] = []
    for name, frame in tables.items():
        schema = SCHEMAS[name]
        for column in frame.columns:
            if column in schema.required or column in schema.optional:
                continue
            reason = personal_by_name(str(column)) or personal_by_content(frame[column])
            if reason is not None:
                found.append(PersonalColumn(name, str(column), reason))
    return found


def _allowed(column: PersonalColumn, allow: Iterable[str]) -> bool:
    allowed = set(allow)
    return column.column in allowed or column.qualified in allowed


@dataclass(frozen=True)
class Minimised:
    """Tables without their personal columns, and what was dropped or kept by the allow-list."""

    tables: Tables
    dropped: tuple[PersonalColumn, ...]
    kept: tuple[PersonalColumn, ...]


def without_personal_columns(tables: Tables, allow: Iterable[str] = ()) -> Minimised:
    """``tables`` less every personal column not in ``allow`` (``column`` or ``table.column``)."""
    allow = tuple(allow)
    found = personal_columns(tables)
    dropped = tuple(c for c in found if not _allowed(c, allow))
    kept = tuple(c for c in found if _allowed(c, allow))
    out = {
        name: frame.drop(columns=[c.column for c in dropped if c.table == name])
        for name, frame in tables.items()
    }
    return Minimised(Tables.from_mapping(out), dropped, kept)


def pseudonyms(ids: Iterable[str], key: bytes) -> dict[str, str]:
    """Each distinct id → ``"p"`` + the first 24 hex digits of HMAC-SHA256(key, id)."""
    if not key:
        raise ValueError("the pseudonym key is empty")
    return {
        value: "p" + hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:24]
        for value in dict.fromkeys(ids)
    }


def pseudonymised(tables: Tables, key: bytes) -> Tables:
    """``tables`` with every ``customer_id`` replaced by its keyed pseudonym (missing ids stay missing)."""
    present = [frame["customer_id"] for _, frame in tables.items() if "customer_id" in frame.columns]
    distinct = pd.concat(present).dropna().astype(str).unique() if present else []
    mapping = pseudonyms(distinct, key)
    out = {}
    for name, frame in tables.items():
        if "customer_id" in frame.columns:
            ids = frame["customer_id"]
            frame = frame.assign(customer_id=ids.where(ids.isna(), ids.astype(str).map(mapping)))
        out[name] = frame
    return Tables.from_mapping(out)
