"""Maintenance flows free of Dagster: failure alerts, cleanup."""
