"""An online shop's invoice lines over 9-13 months, for the customer models: written in the
format of the UCI "Online Retail" export (see tests/data/exports/README.md, ``shop/``), with
customers who buy, complain, get credit notes and stop buying.

:func:`write` makes the CSV with fixed seeds (numpy) and returns what it wrote, in plain
Python (``Decimal`` money), for tests to check against. The customers' behaviour:

* each customer buys at their own rate (Gamma across customers: a few buy weekly, most every
  one to three months), more in November and December;
* each customer may stop buying for good: a constant hazard per day (Gamma across
  customers, Pareto/NBD-like), doubled after a credit note and raised by buying at a steep
  discount; a third of the customers were buying before the export starts;
* 4% of invoices get a credit note a week or two later (``C`` + number, the returned lines
  negative): returns of goods, not named to their sale;
* a quarter of the invoices are guest checkouts (``CustomerID`` empty): revenue, nobody's
  purchases;
* ``CustomerID`` written as a float ("17850.0"), ``InvoiceDate`` as "12/1/2010 8:26".

Loaded with :data:`MAPPING` (the shop_export example's mapping, with credit notes as returns).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np

GUEST = "GUEST"
COUNTRIES = ("United Kingdom", "United Kingdom", "United Kingdom", "Germany", "France", "EIRE", "Netherlands")

#: the source block of a salesml.toml that loads the file (``{files}``: its glob)
MAPPING = """
[sources.shop]
format = "csv"
encoding = "auto"
anonymous_customer = "GUEST"

[sources.shop.tables.order_lines]
files = [{files}]
date_format = ["%m/%d/%Y %H:%M"]

[sources.shop.tables.order_lines.columns]
order_id = "InvoiceNo"
line_no = "@seq(InvoiceNo)"
order_date = "InvoiceDate"
customer_id = "num(CustomerID)"
product_id = "StockCode"
quantity = "Quantity"
unit_price = "UnitPrice"
region = "Country"
currency = "'GBP'"
status = "'completed'"
"""


@dataclass
class Shop:
    """What :func:`write` wrote: the file, its first and last day, the customers, and per line
    (invoice, customer or None, day, amount to the cent, a credit note or not)."""

    path: Path
    first: date
    last: date
    customers: int
    lines: list[tuple[str, str | None, date, Decimal, bool]] = field(default_factory=list)

    def anonymous(self, through: date) -> dict:
        """Lines, orders and net revenue of the guest checkouts up to ``through``."""
        mine = [ln for ln in self.lines if ln[1] is None and ln[2] <= through]
        return {"lines": len(mine), "orders": len({ln[0] for ln in mine}), "revenue": sum((ln[3] for ln in mine), Decimal("0"))}


def _money(x: float) -> Decimal:
    return Decimal(repr(float(x))).quantize(Decimal("0.01"), ROUND_HALF_UP)


def write(folder: Path, customers: int = 1000, months: int = 11, seed: int = 7, first: date = date(2010, 12, 1),
          max_lines: int = 6) -> Shop:
    """Write ``online_retail_<first>_<last>.csv`` into ``folder`` and return what it holds
    (invoices of 1 to ``max_lines`` lines; the real export averages about 20)."""
    rng = np.random.default_rng(seed)
    last = (datetime(first.year + (first.month - 1 + months) // 12, (first.month - 1 + months) % 12 + 1, 1) - timedelta(days=1)).date()
    days = (last - first).days + 1
    n_products = 300
    price = np.round(rng.lognormal(1.0, 0.8, n_products), 2) + 0.29
    stock = [f"{84000 + 37 * k}" + ("" if k % 5 else "A") for k in range(n_products)]
    names = [f"GIFT ITEM {k:03d}" for k in range(n_products)]
    season = np.array([1.6 if (first + timedelta(days=int(d))).month in (11, 12) else 1.0 for d in range(days)])

    rate = rng.gamma(1.3, 1 / 45, customers)                 # purchases a day
    hazard = rng.gamma(1.0, 1 / 500, customers)              # dropout a day
    deal_seeker = rng.random(customers) < 0.25               # buys at a steep discount, leaves sooner
    hazard = np.where(deal_seeker, hazard * 1.8, hazard)
    start = np.where(rng.random(customers) < 0.35, -rng.integers(1, 365, customers), rng.integers(0, days - 30, customers))
    country = rng.integers(0, len(COUNTRIES), customers)

    invoices: list[tuple[int, int | None, bool]] = []  # (day, customer or None, a credit note follows)
    for c in range(customers):
        day, credited = int(start[c]), False
        if day >= 0:
            note = bool(rng.random() < 0.04)
            invoices.append((day, c, note))  # the first purchase
            credited = note
        while True:
            gap = rng.exponential(1 / rate[c])
            if rng.exponential(1 / (hazard[c] * (2.0 if credited else 1.0))) < gap:
                break  # stopped buying before the next purchase, for good
            day += max(1, round(gap))
            if day >= days:
                break
            if day < 0 or rng.random() > season[day] / 1.6:  # before the export, or a quiet season's purchase not made
                continue
            note = bool(rng.random() < 0.04)
            invoices.append((day, c, note))
            credited = credited or note
    n_guest = len(invoices) // 3
    for day in rng.integers(0, days, n_guest):
        invoices.append((int(day), None, False))
    invoices.sort(key=lambda x: (x[0], -1 if x[1] is None else x[1]))

    shop = Shop(folder / f"online_retail_{first:%Y-%m}_{last:%Y-%m}.csv", first, last, customers)
    rows = []
    number = 536365
    credit = 0
    for day, c, note in invoices:
        d = first + timedelta(days=day)
        if d.weekday() == 5:  # no Saturdays
            d += timedelta(days=1)
        if d > last:
            continue
        when = datetime(d.year, d.month, d.day, int(rng.integers(8, 18)), int(rng.integers(0, 60)))
        stamp = f"{when.month}/{when.day}/{when.year} {when.hour}:{when.minute:02d}"
        cust = "" if c is None else f"{12346 + c}.0"
        where = COUNTRIES[0] if c is None else COUNTRIES[country[c]]
        invoice = str(number)
        number += 1
        picked = rng.choice(n_products, int(rng.integers(1, max_lines + 1)), replace=False)
        bought = []
        for p in picked:
            qty = int(rng.choice([1, 2, 3, 4, 6, 12, 24]))
            unit = round(float(price[p] * (2.0 if c is None else (0.6 if deal_seeker[c] and rng.random() < 0.5 else 1.0))), 2)
            rows.append([invoice, stock[p], names[p], qty, stamp, repr(unit), cust, where])
            shop.lines.append((invoice, None if c is None else str(12346 + c), d, _money(qty * unit), False))
            bought.append((p, qty, unit))
        if note:  # a credit note a week or two later
            cd = d + timedelta(days=int(rng.integers(7, 15)))
            if cd <= last:
                credit += 1
                cstamp = f"{cd.month}/{cd.day}/{cd.year} 10:{credit % 60:02d}"
                p, qty, unit = bought[0]
                back = -min(qty, int(rng.integers(1, 3)))
                rows.append([f"C{number + 100000 + credit}", stock[p], names[p], back, cstamp, repr(unit), cust, where])
                shop.lines.append((f"C{number + 100000 + credit}", str(12346 + c), cd, _money(back * unit), True))
    folder.mkdir(parents=True, exist_ok=True)
    with open(shop.path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"])
        w.writerows(rows)
    return shop
