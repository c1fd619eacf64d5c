"""Use cases, one per flow, free of Dagster: API -> parse/validate -> warehouse."""
