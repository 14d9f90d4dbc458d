"""Online Retail 2010-2011 as canonical tables, for the recommender benchmarks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from segmint.contracts import Tables, coerce_table

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "online_retail_2010_2011"


def online_retail_tables(folder: Path = DATA) -> Tables:
    """Canonical tables (customers, products, orders) from the raw UCI file.

    Uses ``segmint.adapters.load_source`` when it exists; otherwise maps the file here: lines with
    no CustomerID are dropped, cancellations (invoice "C…" or negative quantity) become return rows
    with a positive quantity.
    """
    try:
        from segmint.adapters import load_source  # type: ignore[import-not-found]

        return load_source("online_retail", folder)
    except (ImportError, ValueError, KeyError, FileNotFoundError, TypeError):
        pass
    raw = pd.read_parquet(folder / "online_retail.parquet")
    raw = raw[raw["CustomerID"].notna()].copy()
    is_return = raw["InvoiceNo"].astype(str).str.startswith("C") | (raw["Quantity"] < 0)
    orders = pd.DataFrame(
        {
            "order_id": raw["InvoiceNo"].astype(str),
            "customer_id": raw["CustomerID"].astype(np.int64).astype(str),
            "product_id": raw["StockCode"].astype(str),
            "quantity": raw["Quantity"].abs().astype(np.int64),
            "unit_price": raw["UnitPrice"].astype(float),
            "ts": raw["InvoiceDate"],
            "is_return": is_return.to_numpy(),
        }
    )
    first = orders.groupby("customer_id")["ts"].min()
    country = raw.assign(customer_id=orders["customer_id"]).groupby("customer_id")["Country"].first()
    customers = pd.DataFrame(
        {
            "customer_id": first.index,
            "signup_ts": first.to_numpy(),
            "country": country.reindex(first.index).to_numpy(),
            "channel": "online",
        }
    )
    products = (
        orders[~orders["is_return"]]
        .groupby("product_id")["unit_price"]
        .median()
        .clip(lower=0.01)
        .rename("price")
        .reset_index()
        .assign(category="unknown")
    )
    return Tables(
        customers=coerce_table("customers", customers),
        products=coerce_table("products", products),
        orders=coerce_table("orders", orders),
    )
