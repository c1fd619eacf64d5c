"""Files people open: cell formatting (money, dates, formula neutralization), atomic writes,
paths confined to their directory, and one streaming writer per export format.

Dagster-free and database-free: ``sync.portal``, ``sync.exportacao`` and ``sync.importacao``
use it.
"""
