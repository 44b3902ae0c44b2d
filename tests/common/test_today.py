"""The programme's today is the Shanghai calendar date, the same in Python and in SQL."""

from datetime import UTC, date, datetime

from services.common.today import TODAY_SQL, shanghai_date, shanghai_date_sql, today_shanghai


async def test_python_and_sql_agree_on_today_and_at_any_instant(db):
    assert await db.fetchval(f"SELECT {TODAY_SQL}") == today_shanghai()
    for instant, day in [
        (datetime(2026, 5, 31, 23, 30, tzinfo=UTC), date(2026, 6, 1)),  # 07:30 next day in Shanghai
        (datetime(2026, 12, 31, 15, 59, tzinfo=UTC), date(2026, 12, 31)),
        (datetime(2026, 12, 31, 16, 0, tzinfo=UTC), date(2027, 1, 1)),  # midnight in Shanghai
    ]:
        assert shanghai_date(instant) == day
        assert await db.fetchval(f"SELECT {shanghai_date_sql('$1::timestamptz')}", instant) == day


async def test_the_shanghai_date_at_23_30_utc_is_the_next_day_while_the_utc_session_date_is_not(db):
    instant = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    assert shanghai_date(instant) == date(2026, 3, 2)
    utc_day = await db.fetchval("SELECT ($1::timestamptz AT TIME ZONE 'UTC')::date", instant)
    assert utc_day == date(2026, 3, 1)
