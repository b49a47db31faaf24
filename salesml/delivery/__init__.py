"""Delivery: scheduled reports (schedules, their audiences, the record of what ran) on top of
the report runner. Layered above :mod:`salesml.reports`; the command line calls it."""
