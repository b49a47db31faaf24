"""Forecasting: panels, models, backtests, reconciliation, landing, inventory."""

#: the registry kind of stored forecasts (``salesml train forecast``), here so that a reader of
#: the stored runs (the workbench) need not load the forecasting libraries
KIND = "forecast"
