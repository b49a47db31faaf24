"""salesml — sales analytics and forecasting workbench.

Raw exports -> ingest (map, clean, reconcile) -> DuckDB warehouse -> analytics
(performance, customers, forecasts) -> papermill notebooks -> HTML reports.

In a notebook: ``import salesml as sm; wh = sm.open()`` and then ``wh.perf()``,
``wh.bridge()``, ``wh.segments()``, ... (see :mod:`salesml.api`).
"""

import sys
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("salesml")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

# jsonschema — which nbformat imports for papermill (every report rendered) and plotly's
# widgets for the workbench — loads an IRI syntax checker that builds ~35 parsers at import:
# 1.5-2 s of every `salesml report` and of every workbench opened, for a format that salesml
# and Jupyter's own schemas never use (python-jsonschema/jsonschema#1428). In a process that
# imports salesml before jsonschema, jsonschema goes without it: a value declared in the
# "iri" or "iri-reference" format is then not checked, as when the checker is not installed.
if "jsonschema" not in sys.modules:
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]  # None: "not importable"

#: the Python API (salesml.api), imported on first use so that `import salesml` and the
#: CLI's --help stay light (no pandas, DuckDB or models until a warehouse is opened)
_API = ("open", "Warehouse", "Backtest")

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from salesml import api

        return getattr(api, name)
    raise AttributeError(f"module 'salesml' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
