"""Sync logic shared by assets and jobs, free of Dagster: fetch, parse, write."""
