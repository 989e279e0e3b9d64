"""Executors on different keys sharing one database: another wallet's redemption row neither
holds back ours nor makes work for us.

Before 7 Dec 2026 ``HAS_WORK`` looked for a final winning condition with no row of any wallet:
once the executor of wallet A had a row for a condition (even DONE), the executor of wallet B,
holding winning shares of the same condition, found nothing to do and never queued or redeemed
them (``assert 0 == 400160000``: B's collateral never came back); and a row of A due made B log
in for nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from orderflow.execution.credentials import LiveCredentials, requested_wallet
from orderflow.execution.live_lazy import LazyLiveBroker
from orderflow.execution.redeem import has_work
from tests.execution.test_redeem_live import (
    KEY,
    WALLET,
    WINDOW,
    World,
    _eoa,
    chain_world,
    holding_a_win,
)

OTHER = "0x" + "ab" * 20  # the wallet of another executor on the same database


@pytest.fixture
async def eoa() -> AsyncIterator[World]:
    async with chain_world(_eoa) as w:
        yield w


async def test_another_wallets_row_does_not_hold_back_ours(
    pool: asyncpg.Pool, dsn: str, eoa: World
) -> None:
    ex = await holding_a_win(pool, dsn, eoa)
    shares = await eoa.chain.shares(WALLET, eoa.tokens[0])
    await pool.execute(
        "INSERT INTO orderflow_redemptions (condition_id, wallet, status, reason)"
        " VALUES ($1, $2, 'DONE', 'redeemed')",
        eoa.condition,
        OTHER,
    )
    await ex.maintenance()
    assert await eoa.chain.collateral(WALLET) == shares
    ours = await pool.fetchval(
        "SELECT status FROM orderflow_redemptions WHERE wallet = $1", WALLET.lower()
    )
    assert ours == "SENT"


async def test_another_wallets_due_row_is_no_work_of_ours(pool: asyncpg.Pool) -> None:
    """Control of the log-in's trigger: a row of another wallet due is work for an executor whose
    wallet is not known yet (not logged in, the SDK to find it), not for one whose wallet is."""
    condition = "0x" + "cd" * 32
    await pool.execute(
        "INSERT INTO orderflow_redemptions (condition_id, wallet) VALUES ($1, $2)", condition, OTHER
    )
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        assert await has_work(conn, WINDOW, now, None)
        assert await has_work(conn, WINDOW, now, OTHER.upper().replace("0X", "0x"))
        assert not await has_work(conn, WINDOW, now, WALLET)


async def test_the_wallet_is_known_before_the_log_in() -> None:
    """The lazy broker (nothing live at start-up) knows its wallet from the credentials, so
    ``has_work`` needs no log-in to tell ours from another executor's."""

    async def never() -> LazyLiveBroker:
        raise AssertionError("logged in")

    creds = LiveCredentials(POLY_PRIVATE_KEY=KEY)
    assert requested_wallet(creds) == WALLET
    assert LazyLiveBroker(never, wallet=requested_wallet(creds)).redeem_wallet() == WALLET
    assert requested_wallet(LiveCredentials(POLY_PRIVATE_KEY=KEY, POLY_FUNDER=OTHER)) == OTHER
    assert requested_wallet(LiveCredentials(POLY_PRIVATE_KEY=KEY, POLY_SIGNATURE_TYPE=3)) is None
