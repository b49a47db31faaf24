"""The import: source rows -> canonical rows in the warehouse, with every row accounted for.

One file (or one SQL query) becomes one load batch, through these steps, in this order —
each a module taking the previous step's table and returning its own:

1. **read** (:mod:`salesml.ingest.read`, :mod:`salesml.io`): the file as text rows, whatever
   its compression and encoding; malformed lines are set aside with their line number and
   raw text; rows repeated exactly are found on the row as read.
2. **map** (:mod:`salesml.ingest.mapping`): the canonical columns from source columns,
   literals, ``@seq``/``@row``, arithmetic or DuckDB SQL expressions; text normalised
   (NFKC, whitespace); lines without a customer get the source's anonymous id, if any.
3. **user rules**: the source's case rules, code translations (``values``), the company's
   aliases, and the source's own ``rules`` (regex -> set columns). What a user rule sets is
   never undone by a later built-in step.
4. **built-in cleaning** (:mod:`salesml.cleaning.rules`): numbers and dates in the source's
   styles, derived amounts, negative quantities as returns, duplicate keys, required values,
   future dates, unknown keys, the schema's checks; then the checks of a set of rows
   (overlapping stints, split shares, price outliers) on the rows still in.
5. **linking**: each return to the sale it reverses (by reference, else the same customer
   and product's latest earlier sale); a return with none follows ``unlinked_returns``.
6. **load** (:mod:`salesml.ingest.load`): keys already loaded from another file are
   quarantined; the rows, quarantine, fixes and the batch's reconciliation are written —
   all of a source's batches in one transaction.

Statuses of order lines, and what they do:

* ``completed`` — a sale: its amount counts in revenue, in the month of the sale, credited
  to the rep on the line.
* ``returned`` — a return (negative quantity and amount): it lowers revenue, in the month of
  the sale it reverses when it is linked, else in the month it happened (``unlinked``).
  In a closed month it is posted as an adjustment in the first open one.
* ``cancelled`` — counts nothing, in revenue or the ledger, whatever its sign; a line that
  is cancelled after it was posted is reversed by a correction.
"""

from salesml.ingest.load import LoadResult, load_file
from salesml.ingest.load import ingest_source as ingest_source
from salesml.ingest.read import IngestError, canonical_source, source_files

__all__ = ["IngestError", "LoadResult", "canonical_source", "ingest_source", "load_file", "source_files"]
