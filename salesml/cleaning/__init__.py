"""Cleaning: named pure rules (DataFrame in, DataFrame and a rule log out)."""

from salesml.cleaning.log import RuleLog
from salesml.cleaning.rules import RULES, CleaningError, Context, clean

__all__ = ["RULES", "CleaningError", "Context", "RuleLog", "clean"]
