"""When a failed delivery is tried again, and when an endpoint is given up on.

- Retries after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h (the delay after the
  first, second, … failed attempt), each with ±10 % jitter so that a receiver coming back up is
  not met by every delivery at the same second; then the delivery is `failed` (a manual retry
  sends it once more). About 3 days 4 hours from the first attempt to the last.
- A `Retry-After` (seconds or an HTTP date) on a failed answer moves the next attempt later when
  it asks for more than the schedule (at most 24 h); never earlier.
- An endpoint answering `410 Gone` is disabled at once; one whose every attempt has failed for
  `EAGLET_WEBHOOKS__DISABLE_AFTER_FAILING_H` (5 days) is disabled with that reason. Any
  success ends the failing period. One whose place in a feed has expired (disabled for longer
  than the event horizon) is disabled too: enabled again, it starts at the feed's present.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
)
JITTER = 0.1
MAX_RETRY_AFTER = timedelta(hours=24)
GONE = 410


def next_attempt_at(
    attempts: int, failed_at: datetime, retry_after: timedelta | None = None, rng: random.Random | None = None
) -> datetime | None:
    """When to try again after the `attempts`-th attempt failed at `failed_at`; None: give up."""
    if attempts < 1 or attempts > len(RETRY_DELAYS):
        return None
    factor = 1 + (rng or random).uniform(-JITTER, JITTER)
    delay = RETRY_DELAYS[attempts - 1] * factor
    if retry_after is not None and retry_after > delay:
        delay = min(retry_after, MAX_RETRY_AFTER)
    return failed_at + delay


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A `Retry-After` header's wait: delay-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=min(int(value), int(MAX_RETRY_AFTER.total_seconds())))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    wait = when - now
    return wait if wait > timedelta(0) else None


def gone_reason(at: datetime) -> str:
    return f"the receiver answered 410 Gone at {at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def expired_reason(service: str) -> str:
    return (
        f"the {service} feed no longer holds the events after this endpoint's place in it (older than "
        "the event horizon; the exports have them); enabled again, it receives events from then on"
    )


def failing_reason(since: datetime, hours: float, last: str) -> str:
    return (
        f"every delivery failed for more than {hours:g} hours "
        f"(since {since.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC); "
        f"last: {last}"
    )
