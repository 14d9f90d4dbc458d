"""Source adapters: map a real dataset (or a folder in the canonical schema) to :class:`Tables`.

Every adapter returns canonical tables with UTC timestamps (via :func:`segmint.contracts.coerce_table`)
and never drops an input row silently: rows that cannot be attributed to a customer are kept with a
null ``customer_id`` so validation quarantines them with a reason. What an adapter did beyond a plain
column mapping (rows collapsed, products left without a price, ...) is listed in
:attr:`LoadedSource.notes`.

Choices per source (documented here because they shape every downstream number):

* ``canonical`` — ``<table>.parquet`` or ``<table>.csv`` per table. CSV must be UTF-8: a file that is
  not is a :class:`BadInputError` (rule ``encoding_utf8``) rather than a silent latin-1 guess, because a
  wrong guess corrupts ids and text without any later check noticing.
* ``online_retail`` — UCI Online Retail (2010–2011) or Online Retail II (2009–2010). Cancellations
  (invoice starting with ``C``) and other negative quantities become return rows (``is_return=True``,
  positive quantity). Lines without a customer id stay as order rows with ``customer_id=None``.
  Product category comes from a keyword map over the description (:data:`RETAIL_CATEGORY_KEYWORDS`,
  first match wins; non-merchandise stock codes such as ``POST`` or ``BANK CHARGES`` are ``service``),
  price is the median positive unit price; stock codes never sold at a positive price get no product
  row (their order lines are then quarantined as unknown products, and the count is in the notes).
* ``cdnow`` — one synthetic product ``CD`` (category ``music``): the log has only the number of CDs and
  the amount, so a purchase record is one order line of ``number_of_cds`` at the average price.
* ``hillstrom`` — customers with the covariates as attributes, one campaign ``hillstrom_2008``.
  ``signup_ts`` is the latest date consistent with the covariates (``recency`` months before the send,
  and at least twelve months before it for a customer who is not a ``newbie``). ``converted`` is the
  ``visit`` outcome (a site visit in the two weeks after the e-mail, 14.7 % of customers): the
  e-mails' purpose and the response the uplift models learn; a purchase (``conversion``, 0.9 %) is
  too rare for a per-customer effect to be told from noise. ``revenue`` is ``spend``, and the
  source's ``conversion`` is kept as an extra column.
* ``amazon_reviews`` — reviews, reviewers as customers, ASINs as products with the subset name as
  category. The data carries no prices: products get a unit placeholder price of 1.0 (flagged by the
  extra column ``price_observed=False``). Verified reviews imply a purchase and become one order line
  each (quantity 1 at the placeholder price), so purchase-based stages can run; exact duplicate
  reviews, which the published 5-core files contain, are collapsed and counted in the notes.
"""

from __future__ import annotations

import gzip
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from segmint.contracts import CONTROL, TABLE_NAMES, BadInputError, Tables, coerce_table

ADAPTERS: tuple[str, ...] = ("canonical", "online_retail", "cdnow", "hillstrom", "amazon_reviews")

# The shared public datasets sit beside the project checkout; adapters fall back to them when no
# path is given, so `segmint ingest --source online_retail` works without arguments in CI.
SHARED_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_PATHS: dict[str, Path] = {
    "online_retail": SHARED_DATA_DIR / "online_retail_2010_2011",
    "cdnow": SHARED_DATA_DIR / "cdnow",
    "hillstrom": SHARED_DATA_DIR / "hillstrom",
    "amazon_reviews": SHARED_DATA_DIR / "amazon_reviews_5core",
}

HILLSTROM_TREATMENTS: dict[str, str] = {
    "Mens E-Mail": "mens_email",
    "Womens E-Mail": "womens_email",
    "No E-Mail": CONTROL,
}
HILLSTROM_SENT_TS = pd.Timestamp("2008-03-01", tz="UTC")
HILLSTROM_CAMPAIGN_ID = "hillstrom_2008"

# Ordered: the first keyword found in a description decides, so specific words come before generic
# ones ("CHRISTMAS CANDLE" is seasonal, "CANDLE HOLDER" is lighting).
RETAIL_CATEGORY_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("seasonal", ("CHRISTMAS", "XMAS", "EASTER", "ADVENT", "HALLOWEEN", "SANTA", "REINDEER")),
    (
        "jewellery",
        ("NECKLACE", "EARRINGS", "BRACELET", "RING", "CHARM", "DIAMANTE", "BEAD", "BROOCH", "HAIR"),
    ),
    ("lighting", ("CANDLE", "T-LIGHT", "LIGHT", "LANTERN", "LAMP", "HOLDER")),
    ("bags", ("BAG", "PURSE", "TOTE", "SHOPPER")),
    (
        "kitchen",
        (
            "MUG",
            "CUP",
            "BOWL",
            "PLATE",
            "CAKE",
            "TEA",
            "CUTLERY",
            "KITCHEN",
            "JAR",
            "BOTTLE",
            "TRAY",
            "LUNCH",
            "SPOON",
            "NAPKIN",
            "BAKING",
            "PANTRY",
            "CHOCOLATE",
            "TIN",
            "TINS",
        ),
    ),
    (
        "stationery",
        (
            "CARD",
            "CARDS",
            "PAPER",
            "WRAP",
            "NOTEBOOK",
            "PENCIL",
            "PEN",
            "STICKER",
            "LETTER",
            "ENVELOPE",
            "CALENDAR",
            "BOOK",
            "TAPE",
        ),
    ),
    ("toys", ("TOY", "DOLLY", "GAME", "PUZZLE", "SPACEBOY", "SOLDIER", "SKIPPING", "PLAYHOUSE", "KIT")),
    ("garden", ("GARDEN", "PLANT", "FLOWER", "POT", "BIRD", "WATERING")),
    (
        "home_decor",
        (
            "SIGN",
            "FRAME",
            "CLOCK",
            "MIRROR",
            "CUSHION",
            "DOORMAT",
            "HOOK",
            "DECORATION",
            "GARLAND",
            "HANGING",
            "WALL",
            "DRAWER",
            "CABINET",
            "STORAGE",
            "BOX",
            "TILE",
            "HEART",
            "ORNAMENT",
            "VASE",
        ),
    ),
    ("party", ("PARTY", "BUNTING", "BALLOON", "BIRTHDAY", "RIBBON", "RIBBONS")),
)
# Stock codes that are postage, fees and manual adjustments rather than merchandise.
RETAIL_SERVICE_CODE = re.compile(
    r"^(POST|DOT|M|m|C2|D|S|B|PADS|CRUK|BANK CHARGES|AMAZONFEE|ADJUST\w*|TEST\w*|gift_\w+|DCGS\w*)$"
)


@dataclass(frozen=True)
class LoadedSource:
    """Canonical tables of one source plus what the adapter did beyond a plain mapping.

    Attributes:
        tables: the canonical tables, timestamps in UTC.
        notes: counts and decisions worth showing to a reviewer (e.g. ``orders_without_customer``).
    """

    tables: Tables
    notes: dict[str, object] = field(default_factory=dict)


def load_source(name: str, path: str | Path | None = None) -> Tables:
    """The canonical tables of source ``name`` read from ``path``.

    Args:
        name: one of :data:`ADAPTERS`.
        path: a folder or file of the source; ``None`` means the shared public copy (not allowed for
            ``canonical``).

    Raises:
        ValueError: an unknown adapter name (the message lists the valid ones).
        BadInputError: a file that is empty, unreadable, not UTF-8 or not in the expected shape.
    """
    return load_source_with_notes(name, path).tables


def load_source_with_notes(name: str, path: str | Path | None = None) -> LoadedSource:
    """Like :func:`load_source`, with the adapter's notes (counts of collapsed/unattributable rows)."""
    if name not in ADAPTERS:
        raise ValueError(f"unknown source {name!r}; valid sources: {', '.join(ADAPTERS)}")
    if path is None:
        if name == "canonical":
            raise ValueError("the canonical source needs a folder path")
        path = DEFAULT_PATHS[name]
    path = Path(path)
    if not path.exists():
        raise BadInputError(name, "source_exists", f"{path} does not exist")
    loader: Callable[[Path], LoadedSource] = _LOADERS[name]
    return loader(path)


def _first_seen_customers(activity: pd.DataFrame) -> pd.DataFrame:
    """A customer row per id in ``activity``: signed up at their first timestamp, country unknown."""
    first = activity.groupby("customer_id")["ts"].min()
    return pd.DataFrame(
        {
            "customer_id": first.index,
            "signup_ts": first.to_numpy(),
            "country": "unknown",
            "channel": "unknown",
        }
    )


# --------------------------------------------------------------------------------------------------
# canonical


def _read_csv_table(table: str, file: Path) -> pd.DataFrame:
    raw = file.read_bytes()
    if not raw.strip():
        raise BadInputError(table, "file_not_empty", f"{file.name} is empty (0 bytes)", count=0)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInputError(
            table,
            "encoding_utf8",
            f"{file.name} is not UTF-8 (invalid byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "re-save it as UTF-8",
        ) from None
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=True, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise BadInputError(table, "file_readable", f"{file.name} is not a readable CSV ({exc})") from None
    if df.shape[1] == 1:
        header = str(df.columns[0])
        for delim, label in ((";", "';'"), ("\t", "a tab"), ("|", "'|'")):
            if delim in header:
                raise BadInputError(
                    table,
                    "csv_delimiter",
                    f"{file.name} has one column whose header holds {label}: the file is separated by "
                    f"{label}, not ','",
                    column=header[:80],
                )
    return df


def _read_parquet_table(table: str, file: Path) -> pd.DataFrame:
    if file.stat().st_size == 0:
        raise BadInputError(table, "file_not_empty", f"{file.name} is empty (0 bytes)", count=0)
    try:
        return pq.read_table(file).to_pandas()
    except (pa.ArrowException, OSError) as exc:
        raise BadInputError(
            table, "file_readable", f"{file.name} is not a readable Parquet file ({exc})"
        ) from None


def _load_canonical(folder: Path) -> LoadedSource:
    if not folder.is_dir():
        raise BadInputError("customers", "source_exists", f"{folder} is not a folder of <table> files")
    frames: dict[str, pd.DataFrame] = {}
    for table in TABLE_NAMES:
        candidates = [folder / f"{table}.parquet", folder / f"{table}.csv"]
        present = [file for file in candidates if file.exists()]
        if len(present) > 1:
            raise BadInputError(
                table, "table_unambiguous", f"both {present[0].name} and {present[1].name} exist; keep one"
            )
        if not present:
            continue
        file = present[0]
        df = _read_parquet_table(table, file) if file.suffix == ".parquet" else _read_csv_table(table, file)
        if len(df) == 0:
            raise BadInputError(table, "table_not_empty", f"{file.name} has a header but no rows", count=0)
        frames[table] = coerce_table(table, df)
    if "customers" not in frames:
        raise BadInputError(
            "customers", "table_required", f"{folder} holds no customers.parquet or customers.csv"
        )
    return LoadedSource(Tables.from_mapping(frames), {"tables": sorted(frames)})


# --------------------------------------------------------------------------------------------------
# online retail


_RETAIL_COLUMNS = {
    "InvoiceNo": "invoice",
    "Invoice": "invoice",
    "StockCode": "stock_code",
    "Description": "description",
    "Quantity": "quantity",
    "InvoiceDate": "ts",
    "UnitPrice": "unit_price",
    "Price": "unit_price",
    "CustomerID": "customer_id",
    "Customer ID": "customer_id",
    "Country": "country",
}


def _retail_file(path: Path) -> Path:
    if path.is_file():
        return path
    files = sorted(path.glob("*.parquet")) or sorted(path.glob("*.csv")) or sorted(path.glob("*.xlsx"))
    if not files:
        raise BadInputError("orders", "source_exists", f"{path} holds no .parquet, .csv or .xlsx file")
    return files[0]


def retail_categories(descriptions: pd.Series, stock_codes: pd.Series) -> pd.Series:
    """Product category per row from the description keywords; see :data:`RETAIL_CATEGORY_KEYWORDS`.

    Args:
        descriptions: free-text product descriptions (may be null).
        stock_codes: the matching stock codes; service codes map to ``service``.

    Returns:
        A string Series aligned with the inputs; ``other`` when no keyword matches.
    """
    text = (
        " "
        + descriptions.fillna("").astype(str).str.upper().str.replace(r"[^A-Z0-9\-]+", " ", regex=True)
        + " "
    )
    out = pd.Series("other", index=descriptions.index, dtype=object)
    decided = np.zeros(len(out), dtype=bool)
    for category, words in RETAIL_CATEGORY_KEYWORDS:
        pattern = " (?:" + "|".join(re.escape(word) for word in words) + ") "
        hit = text.str.contains(pattern, regex=True).to_numpy() & ~decided
        out[hit] = category
        decided |= hit
    service = stock_codes.astype(str).str.match(RETAIL_SERVICE_CODE).to_numpy()
    out[service] = "service"
    return out


def _read_retail_file(file: Path) -> pd.DataFrame:
    """The rows of an Online Retail file as read, after checking it has the columns of one."""
    if file.suffix == ".parquet":
        raw = _read_parquet_table("orders", file)
    elif file.suffix == ".csv":
        raw = _read_csv_table("orders", file)
    else:
        raw = pd.read_excel(file)
    required = ("StockCode", "Quantity", "InvoiceDate", "Country")
    missing = [column for column in required if column not in raw.columns]
    if missing or not ({"InvoiceNo", "Invoice"} & set(raw.columns)):
        raise BadInputError(
            "orders",
            "column_required",
            f"not an Online Retail file; found {list(raw.columns)}",
            missing[0] if missing else "Invoice",
        )
    return raw


def _retail_customer_ids(values: pd.Series) -> pd.Series:
    # CustomerID is stored as a float (12346.0): the id is its integer text.
    ids = pd.to_numeric(values).astype("Int64").astype("string").astype(object)
    return ids.where(ids.notna(), None)


def _retail_lines(raw: pd.DataFrame) -> pd.DataFrame:
    """The invoice lines with our column names and types (``None`` where a line has no customer)."""
    df = raw.rename(columns=_RETAIL_COLUMNS)
    return df.assign(
        invoice=df["invoice"].astype(str),
        stock_code=df["stock_code"].astype(str),
        quantity=pd.to_numeric(df["quantity"]).astype("int64"),
        unit_price=pd.to_numeric(df["unit_price"]).astype("float64"),
        customer_id=_retail_customer_ids(df["customer_id"]),
        ts=pd.to_datetime(df["ts"], format="mixed") if df["ts"].dtype == object else df["ts"],
    )


def _retail_orders(lines: pd.DataFrame) -> pd.DataFrame:
    """One order row per invoice line; cancellations and negative quantities are returns."""
    is_return = lines["invoice"].str.startswith("C").to_numpy() | (lines["quantity"].to_numpy() < 0)
    return pd.DataFrame(
        {
            "order_id": lines["invoice"],
            "customer_id": lines["customer_id"],
            "product_id": lines["stock_code"],
            "quantity": np.abs(lines["quantity"].to_numpy()),
            "unit_price": lines["unit_price"],
            "ts": lines["ts"],
            "is_return": is_return,
        }
    )


def _most_frequent(frame: pd.DataFrame, key: str, value: str) -> pd.Series:
    """Per ``key``, the ``value`` it occurs with most often (ties: the first seen)."""
    return (
        frame.groupby([key, value], sort=False)
        .size()
        .rename("n")
        .reset_index()
        .sort_values([key, "n"], ascending=[True, False], kind="stable")
        .drop_duplicates(key)
        .set_index(key)[value]
    )


@dataclass(frozen=True)
class _RetailProducts:
    """The product rows and the stock codes never sold at a positive price (they get no row)."""

    frame: pd.DataFrame
    unpriced: pd.Index


def _retail_products(lines: pd.DataFrame) -> _RetailProducts:
    """The most frequent description names a product; its price is the median positive price."""
    names = _most_frequent(lines.dropna(subset=["description"]), "stock_code", "description")
    prices = lines[lines["unit_price"] > 0].groupby("stock_code")["unit_price"].median()
    products = pd.DataFrame({"product_id": prices.index.astype(str), "price": prices.to_numpy()})
    products = products.assign(name=products["product_id"].map(names))
    products = products.assign(
        category=retail_categories(products["name"], products["product_id"]).to_numpy()
    )
    unpriced = pd.Index(lines["stock_code"].unique()).difference(prices.index)
    return _RetailProducts(products[["product_id", "category", "price", "name"]], unpriced)


def _retail_customers(lines: pd.DataFrame) -> pd.DataFrame:
    """The first invoice is the signup; the country is the one a customer ordered from most."""
    attributed = lines[lines["customer_id"].notna()]
    first = attributed.groupby("customer_id")["ts"].min()
    country = _most_frequent(attributed, "customer_id", "country")
    return pd.DataFrame(
        {
            "customer_id": first.index.astype(str),
            "signup_ts": first.to_numpy(),
            "country": country.reindex(first.index).to_numpy(),
            "channel": "unknown",
        }
    )


def _load_online_retail(path: Path) -> LoadedSource:
    file = _retail_file(path)
    lines = _retail_lines(_read_retail_file(file))
    orders = _retail_orders(lines)
    products = _retail_products(lines)
    tables = Tables(
        customers=coerce_table("customers", _retail_customers(lines)),
        products=coerce_table("products", products.frame),
        orders=coerce_table("orders", orders),
    )
    notes = {
        "file": file.name,
        "order_lines": len(orders),
        "orders_without_customer": int(orders["customer_id"].isna().sum()),
        "return_lines": int(orders["is_return"].sum()),
        "products_without_positive_price": len(products.unpriced),
        "order_lines_of_unpriced_products": int(orders["product_id"].isin(products.unpriced).sum()),
    }
    return LoadedSource(tables, notes)


# --------------------------------------------------------------------------------------------------
# cdnow


def _load_cdnow(path: Path) -> LoadedSource:
    file = path if path.is_file() else path / "CDNOW_master.txt"
    if not file.exists():
        raise BadInputError("orders", "source_exists", f"{file} does not exist")
    head = file.read_text(encoding="ascii", errors="replace").split("\n", 1)[0]
    names = ["customer_id", "date", "number_of_cds", "dollar_value"]
    df = pd.read_csv(
        file,
        sep=r"\s+",
        header=0 if "customer_id" in head else None,
        names=names,
        dtype={"customer_id": str, "date": str},
        engine="c",
    )
    df = df.assign(ts=pd.to_datetime(df["date"], format="%Y%m%d", utc=True))
    # Several purchases of one customer on one day are separate records: number them.
    seq = df.groupby(["customer_id", "date"], sort=False).cumcount().astype(str)
    cds = df["number_of_cds"].astype("int64")
    unit = (df["dollar_value"] / cds.where(cds != 0)).astype("float64")
    orders = pd.DataFrame(
        {
            "order_id": df["customer_id"] + "-" + df["date"] + "-" + seq,
            "customer_id": df["customer_id"],
            "product_id": "CD",
            "quantity": cds,
            "unit_price": unit,
            "ts": df["ts"],
            "is_return": False,
        }
    )
    price = float(unit[unit > 0].median())
    products = pd.DataFrame({"product_id": ["CD"], "category": ["music"], "price": [price], "name": ["CD"]})
    tables = Tables(
        customers=coerce_table("customers", _first_seen_customers(df)),
        products=coerce_table("products", products),
        orders=coerce_table("orders", orders),
    )
    return LoadedSource(tables, {"file": file.name, "order_lines": len(orders)})


# --------------------------------------------------------------------------------------------------
# hillstrom


def _load_hillstrom(path: Path) -> LoadedSource:
    file = path if path.is_file() else next(iter(sorted(path.glob("*.csv"))), None)
    if file is None:
        raise BadInputError("customers", "source_exists", f"{path} holds no .csv file")
    df = pd.read_csv(file)
    required = ("recency", "newbie", "channel", "segment", "visit", "conversion", "spend")
    missing = [column for column in required if column not in df]
    if missing:
        raise BadInputError(
            "customers", "column_required", f"not the Hillstrom file; found {list(df)}", missing[0]
        )
    unknown = sorted(set(df["segment"].dropna()) - set(HILLSTROM_TREATMENTS))
    if unknown:
        raise BadInputError("campaigns", "treatment_domain", f"unknown segment values {unknown}", "treatment")
    customer_id = "h" + pd.Series(np.arange(1, len(df) + 1), index=df.index).astype(str).str.zfill(5)
    months_before = np.where(df["newbie"].to_numpy() == 1, df["recency"], np.maximum(df["recency"], 12))
    signup = HILLSTROM_SENT_TS - pd.to_timedelta(months_before * 30.4375, unit="D")
    attributes = ["recency", "history_segment", "history", "mens", "womens", "zip_code", "newbie"]
    customers = pd.DataFrame(
        {"customer_id": customer_id, "signup_ts": signup, "country": "US", "channel": df["channel"]}
    ).join(df[attributes])
    campaigns = pd.DataFrame(
        {
            "campaign_id": HILLSTROM_CAMPAIGN_ID,
            "customer_id": customer_id,
            "treatment": df["segment"].map(HILLSTROM_TREATMENTS),
            "sent_ts": HILLSTROM_SENT_TS,
            "converted": df["visit"],
            "revenue": df["spend"],
            "conversion": df["conversion"],
        }
    )
    tables = Tables(
        customers=coerce_table("customers", customers), campaigns=coerce_table("campaigns", campaigns)
    )
    return LoadedSource(tables, {"file": file.name, "customers": len(customers)})


# --------------------------------------------------------------------------------------------------
# amazon reviews


def _amazon_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(path.glob("*.json.gz")) + sorted(path.glob("*.json"))
    if not files:
        raise BadInputError("reviews", "source_exists", f"{path} holds no .json.gz or .json file")
    return files


def _subset_name(file: Path) -> str:
    stem = file.name.removesuffix(".gz").removesuffix(".json")
    return re.sub(r"_5$", "", stem)


# The columns that make two review rows the same review (the 5-core files hold exact duplicates).
_AMAZON_CONTENT = ["reviewerID", "asin", "unixReviewTime", "overall", "summary", "reviewText"]


def _amazon_rows(path: Path) -> pd.DataFrame:
    """Every review row of every subset file, with the subset name as ``category``."""
    parts = []
    for file in _amazon_files(path):
        opener = gzip.open if file.suffix == ".gz" else open
        with opener(file, "rt", encoding="utf-8") as fh:
            part = pd.read_json(fh, lines=True, dtype={"reviewerID": str, "asin": str})
        parts.append(part.assign(category=_subset_name(file)))
    return pd.concat(parts, ignore_index=True)


def _amazon_reviews(rows: pd.DataFrame) -> pd.DataFrame:
    """Canonical review rows: the summary and the review text joined into one text."""
    text = (
        rows["summary"].fillna("").astype(str) + ". " + rows["reviewText"].fillna("").astype(str)
    ).str.strip(". ")
    return pd.DataFrame(
        {
            "review_id": rows["reviewerID"] + ":" + rows["asin"] + ":" + rows["unixReviewTime"].astype(str),
            "customer_id": rows["reviewerID"],
            "product_id": rows["asin"],
            "rating": rows["overall"],
            "text": text,
            "ts": pd.to_datetime(rows["unixReviewTime"], unit="s", utc=True),
        }
    )


def _amazon_products(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per ASIN at the placeholder price (the data has none), flagged as not observed."""
    catalogue = rows.drop_duplicates("asin")
    return pd.DataFrame(
        {
            "product_id": catalogue["asin"],
            "category": catalogue["category"],
            "price": 1.0,
            "price_observed": False,
        }
    )


def _amazon_orders(rows: pd.DataFrame, reviews: pd.DataFrame) -> pd.DataFrame:
    """One order line per verified review (every review when the data has no ``verified`` flag)."""
    verified = (
        rows["verified"].fillna(False).astype(bool).to_numpy()
        if "verified" in rows
        else np.ones(len(rows), bool)
    )
    bought = reviews[verified]
    return pd.DataFrame(
        {
            "order_id": "r:" + bought["review_id"],
            "customer_id": bought["customer_id"],
            "product_id": bought["product_id"],
            "quantity": 1,
            "unit_price": 1.0,
            "ts": bought["ts"],
            "is_return": False,
        }
    )


def _load_amazon(path: Path) -> LoadedSource:
    raw = _amazon_rows(path)
    duplicated = raw.duplicated(_AMAZON_CONTENT)
    rows = raw[~duplicated]
    reviews = _amazon_reviews(rows)
    orders = _amazon_orders(rows, reviews)
    tables = Tables(
        customers=coerce_table("customers", _first_seen_customers(reviews)),
        products=coerce_table("products", _amazon_products(rows)),
        orders=coerce_table("orders", orders),
        reviews=coerce_table("reviews", reviews),
    )
    notes = {
        "subsets": sorted(raw["category"].unique().tolist()),
        "review_rows": len(raw),
        "exact_duplicate_reviews_collapsed": int(duplicated.sum()),
        "orders_from_verified_reviews": len(orders),
    }
    return LoadedSource(tables, notes)


_LOADERS: dict[str, Callable[[Path], LoadedSource]] = {
    "canonical": _load_canonical,
    "online_retail": _load_online_retail,
    "cdnow": _load_cdnow,
    "hillstrom": _load_hillstrom,
    "amazon_reviews": _load_amazon,
}

__all__ = [
    "ADAPTERS",
    "DEFAULT_PATHS",
    "LoadedSource",
    "load_source",
    "load_source_with_notes",
    "retail_categories",
]
