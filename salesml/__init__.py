"""salesml — sales analytics and forecasting workbench.

Raw exports -> ingest (map, clean, reconcile) -> DuckDB warehouse -> analytics
(performance, customers, forecasts) -> papermill notebooks -> HTML reports.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("salesml")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
