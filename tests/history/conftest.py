"""The history tests' second database: the reference the listener's path fills from raw logs."""

from __future__ import annotations

import asyncpg
import pytest


@pytest.fixture
def chain_pool(other_pool: asyncpg.Pool) -> asyncpg.Pool:
    """The shared second database (tests/conftest.py), named for what it holds here."""
    return other_pool


# The real node of the listener's tests (anvil with the relay at the exchange addresses).
from tests.chain_live.conftest import anvil, anvil_process  # noqa: E402, F401
