"""The programme's "today": the calendar date in Asia/Shanghai, in Python and in SQL.

Dated rules (a title held today, a certificate expired today, an issue date not in the future)
use this date, not the process's local date nor the database session's CURRENT_DATE (sessions run
in UTC, so CURRENT_DATE is yesterday between 00:00 and 08:00 Shanghai time).
`tests/common/test_today.py` holds the two equal.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai_date(at: datetime | None = None) -> date:
    """The Shanghai calendar date at instant `at` (an aware datetime; now when None)."""
    return (at or datetime.now(SHANGHAI)).astimezone(SHANGHAI).date()


def today_shanghai() -> date:
    return shanghai_date()


def shanghai_date_sql(instant: str = "now()") -> str:
    """SQL: the Shanghai calendar date at the timestamptz `instant`."""
    return f"(({instant}) AT TIME ZONE 'Asia/Shanghai')::date"


# SQL: today in Shanghai (at the start of the transaction, as CURRENT_DATE would be).
TODAY_SQL = shanghai_date_sql()
