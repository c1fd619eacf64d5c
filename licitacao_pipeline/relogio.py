"""The project's clock: every date people see is São Paulo's."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

TIMEZONE = "America/Sao_Paulo"


def local_today(now: datetime | None = None) -> date:
    """Today's date in São Paulo at the instant ``now`` (an aware datetime; default: this
    instant): the vigência window's "today", also between 21:00 and 24:00 local time, when
    UTC is already on the next day."""
    return (now or datetime.now(UTC)).astimezone(ZoneInfo(TIMEZONE)).date()
