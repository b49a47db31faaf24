"""Forecasting: panels, models, backtests, reconciliation, landing, inventory."""
