"""The warehouse's SQLAlchemy ``MetaData`` and the column types every table module shares."""

import sqlalchemy as sa

metadata = sa.MetaData()

Money = sa.Numeric(18, 2)
TS = sa.DateTime(timezone=True)
# Sums of money: unbounded, so thousands of 13-digit values cannot overflow.
Total = sa.Numeric()
