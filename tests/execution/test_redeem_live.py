"""A live strategy's winning shares are redeemed: the wallet's collateral comes back.

End to end, with the official SDK's EOA path against the real ConditionalTokens on anvil
(tests/chain_live/ctf_chain.py) and the CLOB stand-in: a live strategy buys YES through the stand-in
(its shares put in the wallet on chain, as the exchange's settlement would), the market resolves
YES (on chain and in the database, the resolution ``REORG_WINDOW_BLOCKS`` under the listener's
checkpoint), and a maintenance pass settles the position and redeems the condition. Before
7 Dec 2026 nothing redeemed: the wallet's collateral stayed 0 (``assert 0 == 20000000``).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from polymarket import AsyncSecureClient
from polymarket.environments import PRODUCTION

from orderflow.errors import ExecutionError
from orderflow.execution.engine import Executor
from orderflow.execution.exchange_text import exchange_text
from orderflow.execution.live import LiveBroker
from orderflow.execution.redeem import FIRST_PAUSE, SENT_WAIT
from tests.chain_live.anvil_node import Anvil, free_port
from tests.chain_live.ctf_chain import CtfChain, GammaStandin, gamma_market
from tests.execution.clob_market import Market
from tests.execution.conftest import WHALE, add_token, add_trade, add_wallet, resolve
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import Clock, live_executor, live_strategy

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # anvil's first
WALLET = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
QUESTION = b"\x22" * 32
UNITS = 1_000_000  # base units of a share and of a dollar
WINDOW = 256  # REORG_WINDOW_BLOCKS (the default)


Connect = Callable[[Any, Anvil], Awaitable[LiveBroker]]  # the SDK's environment, the node


@dataclasses.dataclass
class World:
    anvil: Anvil
    chain: CtfChain
    condition: str
    tokens: tuple[int, int]
    gamma: GammaStandin
    clob: FakeClob
    broker: LiveBroker


@contextlib.asynccontextmanager
async def chain_world(connect: Connect) -> AsyncIterator[World]:
    """anvil with the CTF and a prepared condition, Gamma and the CLOB stand-ins, and the broker
    ``connect`` logs in with the SDK environment pointing at them."""
    node = Anvil(free_port())
    node.start()
    gamma, clob = GammaStandin([]), FakeClob()
    try:
        chain = await CtfChain.deploy(node)
        condition = await chain.prepare(QUESTION)
        tokens = (await chain.token_id(condition, 1), await chain.token_id(condition, 2))
        gamma.markets.append(gamma_market(condition, tokens))
        clob.add_market(
            Market(condition_id=condition, tokens=tokens, asks={tokens[0]: Decimal("0.50")})
        )
        await gamma.start()
        await clob.start()
        config = dataclasses.replace(
            _production(),
            clob_url=clob.url,
            gamma_url=gamma.url,
            rpc_url=node.http_url,
            collateral_token=chain.usd,
            conditional_tokens=chain.ctf,
            collateral_adapter=chain.ctf,  # the same redeemPositions (the adapter: no package)
            relayer_poll_frequency_ms=20,
        )
        broker = await connect(config, node)
        try:
            yield World(node, chain, condition, tokens, gamma, clob, broker)
        finally:
            await broker.close()
    finally:
        await clob.stop()
        await gamma.stop()
        await node.aclose()
        node.stop()


async def _eoa(config: Any, node: Anvil) -> LiveBroker:
    client = await AsyncSecureClient.create(
        private_key=KEY, wallet=WALLET, environment=_with(config)
    )
    return LiveBroker(client)


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async with chain_world(_eoa) as w:
        yield w


def _production() -> Any:
    from polymarket._internal.environment import get_environment_config

    return get_environment_config(PRODUCTION)


def _with(config: Any) -> Any:
    from polymarket._internal.environment import with_environment_config

    return with_environment_config(PRODUCTION, config=config)


async def holding_a_win(
    pool: asyncpg.Pool,
    dsn: str,
    w: World,
    *,
    depth: int = WINDOW,
    wallet: str = WALLET,
    **settings: Any,
) -> Executor:
    """The live strategy bought YES through the stand-in; the shares are ``wallet``'s on chain
    (split from collateral, the NO given away; a proxy or Safe wallet's address impersonated);
    YES won, its resolution ``depth`` blocks under the listener's checkpoint."""
    await live_strategy(pool)
    async with pool.acquire() as conn:
        await add_token(conn, w.tokens[0], w.condition, 0)
        await add_token(conn, w.tokens[1], w.condition, 1)
        await add_wallet(conn, WHALE, 8.5)
    ex = live_executor(pool, dsn, w.broker, clock=Clock(), **settings)
    async with pool.acquire() as conn:
        await ex.registry.refresh(conn)
        await add_trade(conn, token_id=w.tokens[0], market=w.condition, price="0.50")
    await ex.catch_up()
    shares = await pool.fetchval("SELECT shares FROM orderflow_positions WHERE mode = 'live'")
    assert shares and shares > 0, "the live strategy bought nothing"
    units = int(Decimal(shares) * UNITS)
    await w.chain.split(wallet, w.condition, units)
    await w.chain.give(wallet, w.chain.oracle, w.tokens[1], units)
    await w.chain.report(QUESTION, [1, 0])
    async with pool.acquire() as conn:
        await resolve(conn, w.condition, ["1", "0"])  # stored at block 2
        await conn.execute(
            "INSERT INTO orderflow_sync_checkpoints (chain_id, stream, block_number)"
            " VALUES (137, 'listener', $1)",
            2 + depth,
        )
    return ex


async def nonce(w: World) -> int:
    return int(await w.anvil.rpc("eth_getTransactionCount", WALLET, "latest"), 16)


async def redemption(pool: asyncpg.Pool) -> asyncpg.Record | None:
    return await pool.fetchrow("SELECT * FROM orderflow_redemptions")


def later(ex: Executor, by: timedelta) -> None:
    clock = ex.clock
    assert isinstance(clock, Clock)
    clock.offset += by


async def test_a_settled_live_win_is_redeemed_once(
    pool: asyncpg.Pool, dsn: str, world: World
) -> None:
    ex = await holding_a_win(pool, dsn, world)
    shares = await world.chain.shares(WALLET, world.tokens[0])
    assert await world.chain.collateral(WALLET) == 0
    await ex.maintenance()
    position = await pool.fetchrow("SELECT status, close_reason FROM orderflow_positions")
    assert (position["status"], position["close_reason"]) == ("CLOSED", "resolved")
    assert await world.chain.collateral(WALLET) == shares  # 1 per winning share
    assert await world.chain.shares(WALLET, world.tokens[0]) == 0
    row = await redemption(pool)
    assert row is not None and (row["status"], row["attempts"]) == ("SENT", 1)
    assert row["wallet"] == WALLET.lower() and row["tx_hash"].startswith("0x")
    sent = await nonce(world)
    await ex.maintenance()  # too soon to look again: nothing
    later(ex, SENT_WAIT)
    await ex.maintenance()  # its balance read: none left, DONE; nothing sent again
    row = await redemption(pool)
    assert row is not None and (row["status"], row["reason"]) == ("DONE", "redeemed")
    later(ex, SENT_WAIT)
    await ex.maintenance()
    assert await nonce(world) == sent
    assert [g["condition_ids"] for g in world.gamma.asked] == [world.condition]


async def test_a_resolution_not_yet_final_is_not_redeemed(
    pool: asyncpg.Pool, dsn: str, world: World
) -> None:
    ex = await holding_a_win(pool, dsn, world, depth=WINDOW - 1)
    before = await nonce(world)
    await ex.maintenance()
    assert await pool.fetchval("SELECT status FROM orderflow_positions") == "CLOSED"  # settled
    assert await redemption(pool) is None  # a reorg could still take the resolution back
    assert (await nonce(world), await world.chain.collateral(WALLET)) == (before, 0)


async def test_redeemed_elsewhere_is_done_without_a_transaction(
    pool: asyncpg.Pool, dsn: str, world: World
) -> None:
    ex = await holding_a_win(pool, dsn, world)
    await (await world.broker.client.redeem_positions(condition_id=world.condition)).wait()
    by_hand = await world.chain.collateral(WALLET)  # the user redeemed on the site
    before = await nonce(world)
    await ex.maintenance()
    row = await redemption(pool)
    assert row is not None and (row["status"], row["reason"]) == ("DONE", "no balance to redeem")
    assert (await nonce(world), await world.chain.collateral(WALLET)) == (before, by_hand)


async def test_a_failed_redemption_is_retried_after_its_pause(
    pool: asyncpg.Pool, dsn: str, world: World
) -> None:
    ex = await holding_a_win(pool, dsn, world)
    listed = list(world.gamma.markets)
    world.gamma.markets.clear()  # Gamma does not list the market (yet): the SDK refuses
    await ex.maintenance()
    row = await redemption(pool)
    assert row is not None and (row["status"], row["attempts"]) == ("FAILED", 1)
    assert "No market found" in row["reason"]
    assert row["next_try_at"] - row["updated_at"] == FIRST_PAUSE
    world.gamma.markets.extend(listed)
    await ex.maintenance()  # its pause not over: not tried
    assert await world.chain.collateral(WALLET) == 0
    later(ex, FIRST_PAUSE)
    await ex.maintenance()
    row = await redemption(pool)
    assert row is not None and (row["status"], row["attempts"]) == ("SENT", 2)
    assert await world.chain.collateral(WALLET) > 0


async def test_nothing_is_redeemed_when_switched_off(
    pool: asyncpg.Pool, dsn: str, world: World
) -> None:
    ex = await holding_a_win(pool, dsn, world, EXECUTOR_REDEEM=False)
    await ex.maintenance()
    assert await pool.fetchval("SELECT status FROM orderflow_positions") == "CLOSED"
    assert await redemption(pool) is None
    assert await world.chain.collateral(WALLET) == 0


async def test_a_paper_win_is_never_redeemed(pool: asyncpg.Pool, dsn: str, world: World) -> None:
    ex = await holding_a_win(pool, dsn, world)
    await pool.execute("UPDATE orderflow_positions SET mode = 'paper'")
    await ex.maintenance()
    assert await pool.fetchval("SELECT status FROM orderflow_positions") == "CLOSED"
    assert await redemption(pool) is None
    assert await world.chain.collateral(WALLET) == 0


async def test_the_node_url_is_a_secret(pool: asyncpg.Pool) -> None:
    """``POLY_RPC_URL`` (a node's URL often carries its API key) is the SDK's RPC, and no text
    of a failure through it — a log line, a row's reason — carries it: it is a secret of the
    settings and registered with the redaction at log-in (``keep_out``)."""
    from orderflow.execution.credentials import LiveCredentials
    from orderflow.execution.live_connect import open_live_broker
    from tests.execution.livekit import start_clob

    clob = await start_clob()
    node = f"{clob.url}/v2/node-api-key-0123456789abcdef"  # no such route: answered 404
    try:
        creds = LiveCredentials(POLY_PRIVATE_KEY=KEY, POLY_CLOB_URL=clob.url, POLY_RPC_URL=node)
        assert "node-api-key" not in repr(creds)
        broker = await open_live_broker(creds)
        try:
            assert broker.client._ctx.environment_config.rpc_url == node
            with pytest.raises(ExecutionError) as failed:
                await broker.held_shares([1, 2])
        finally:
            await broker.close()
    finally:
        await clob.stop()
    assert str(failed.value).startswith("balance read failed")
    assert "node-api-key" not in str(failed.value)
    # The SDK's errors name no URL today; a text that did is redacted (the log-in registered it)
    assert "node-api-key" not in exchange_text(f"Server error '503' for url '{node}'")
