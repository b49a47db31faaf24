"""The error of the cleaning package: data that cannot be cleaned as configured.

It lives apart from the rules so that the modules the rules are built from (numbers, dates)
can raise it without importing the rules.
"""

from salesml.errors import SalesmlError


class CleaningError(SalesmlError, ValueError):
    """The data cannot be cleaned as configured (e.g. ambiguous dates); the message says how to fix it."""
