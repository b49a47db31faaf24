"""The workbench: filter, compare, drill into and export the sales figures of one scope.

This package owns the interactive exploration of ``notebooks/explore.ipynb`` (served by Voilà
as the dashboard): :mod:`~salesml.explore.query` reads the warehouse and runs the one
aggregate a selection costs, :mod:`~salesml.explore.controller` holds the selection and
makes the figures and tables (:class:`Workbench`, no widgets inside, tested without a
browser), and :mod:`~salesml.explore.widgets` is its ipywidgets view (:func:`workbench`).
Imports go one way: query <- controller <- widgets; nothing in salesml imports this package.
"""

from salesml.explore.controller import ExploreError, Selection, Workbench
from salesml.explore.widgets import workbench

__all__ = ["ExploreError", "Selection", "Workbench", "workbench"]
