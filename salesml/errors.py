"""The base of every error salesml reports to a user as one clear line (no traceback)."""


class SalesmlError(Exception):
    """An expected failure whose message says what and where (file, row, parameter)."""
