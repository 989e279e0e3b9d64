"""A second database per test: the reference the listener's path fills from raw logs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from orderflow import db
from tests.conftest import scratch_database


@pytest.fixture
async def chain_pool(pg_server_dsn: str, pg_template: str) -> AsyncIterator[asyncpg.Pool]:
    async with scratch_database(pg_server_dsn, template=pg_template, prefix="c") as url:
        p = await db.create_pool(url, min_size=1, max_size=3)
        try:
            yield p
        finally:
            await p.close()


# The real node of the listener's tests (anvil with the relay at the exchange addresses).
from tests.chain_live.conftest import anvil, anvil_process  # noqa: E402, F401
