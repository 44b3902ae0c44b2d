"""Fixtures of the finance tests."""

import asyncpg
import pytest

from services.common.db import plain_url


@pytest.fixture
async def holder(database_url):
    """A second connection of the test's, for holding rows in an open transaction."""
    conn = await asyncpg.connect(plain_url(database_url))
    yield conn
    await conn.close()
