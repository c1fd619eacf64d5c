"""Use cases, one per flow, free of Dagster: each takes parsed inputs down to SQL and returns one
result object (contracts of a UASG, tabs of a UASG, one contract, exports, imports, the portal,
health checks, cleanup, alerts)."""
