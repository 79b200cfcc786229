"""Aggregation of per-cell results into tables and figures."""
