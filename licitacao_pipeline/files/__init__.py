"""Files people open and files we are given: cell formatting (money, dates, formula
neutralization), atomic writes, paths confined to their directory, race-free opening, encoding
sniffing, and one streaming writer per export format. Dagster-free and database-free."""
