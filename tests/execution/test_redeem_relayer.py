"""A proxy wallet's winnings are redeemed through Polymarket's relayer: its collateral comes back.

End to end as tests/execution/test_redeem_live.py, but the wallet is the key's Polymarket proxy
(``POLY_FUNDER``, ``POLY_SIGNATURE_TYPE=1``), logged in by the executor's own
``open_live_broker``: the SDK's gasless path goes to the relayer stand-in
(tests/execution/relayer_standin.py), which carries the decoded call out on anvil as the proxy.
Before 7 Dec 2026 the executor passed no relayer key: every redemption of such a wallet was
FAILED ("Gasless transactions require a Builder API Key or Relayer API Key") and its collateral
never came back (``assert 0 == 2000000``).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from polymarket._internal.wallet import (
    derive_beacon_deposit_wallet_address,
    derive_proxy_wallet_address,
    derive_safe_wallet_address,
)

from orderflow.execution import live_connect
from orderflow.execution.credentials import LiveCredentials
from orderflow.execution.live import LiveBroker
from orderflow.execution.redeem import FIRST_PAUSE, SENT_WAIT
from tests.chain_live.anvil_node import Anvil
from tests.execution.relayer_standin import RelayerStandin
from tests.execution.test_redeem_live import (
    KEY,
    QUESTION,
    UNITS,
    WALLET,
    World,
    _production,
    _with,
    chain_world,
    holding_a_win,
    later,
    redemption,
)
from tests.execution.test_redeem_twice import done_after

PROXY = derive_proxy_wallet_address(WALLET, _production().wallet_derivation)
SAFE = derive_safe_wallet_address(WALLET, _production().wallet_derivation)
DEPOSIT = derive_beacon_deposit_wallet_address(WALLET, _production().wallet_derivation)
SIGNATURE_TYPE = {PROXY: 1, SAFE: 2, DEPOSIT: 3}
RELAYER_KEY = "relayer-key-5f1e2d3c4b5a69788796a5b4"


@dataclasses.dataclass
class Relayed:
    world: World
    relayer: RelayerStandin
    wallet: str


@pytest.fixture
async def proxy(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Relayed]:
    async with relayed(monkeypatch, PROXY) as r:
        yield r


@pytest.fixture(params=[PROXY, SAFE], ids=["proxy", "safe"])
async def gasless(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> AsyncIterator[Relayed]:
    async with relayed(monkeypatch, request.param) as r:
        yield r


@contextlib.asynccontextmanager
async def relayed(monkeypatch: pytest.MonkeyPatch, wallet: str) -> AsyncIterator[Relayed]:
    """The world of tests/execution/test_redeem_live.py, its broker logged in by the executor's
    ``open_live_broker`` for ``wallet`` (the key's proxy, Safe or deposit wallet) with a Relayer
    API key."""
    relayers: list[RelayerStandin] = []

    async def connect(config: Any, node: Anvil) -> LiveBroker:
        relayer = RelayerStandin(node, key=RELAYER_KEY, key_address=WALLET)
        relayer.wallets.add(wallet.lower())
        relayers.append(relayer)
        await relayer.start()
        environment = _with(dataclasses.replace(config, relayer_url=relayer.url))
        monkeypatch.setattr(live_connect, "_environment", lambda *_: environment)
        await node.rpc("anvil_impersonateAccount", wallet)  # its shares split as the wallet
        await node.rpc("anvil_setBalance", wallet, hex(10**18))
        creds = LiveCredentials(
            POLY_PRIVATE_KEY=KEY,
            POLY_FUNDER=wallet,
            POLY_SIGNATURE_TYPE=SIGNATURE_TYPE[wallet],
            POLY_RELAYER_API_KEY=RELAYER_KEY,
            POLY_RELAYER_API_KEY_ADDRESS=WALLET,
        )
        return await live_connect.open_live_broker(creds)

    try:
        async with chain_world(connect) as world:
            yield Relayed(world, relayers[0], wallet)
    finally:
        for relayer in relayers:
            await relayer.stop()


async def test_a_gasless_wallets_win_is_redeemed_through_the_relayer(
    pool: asyncpg.Pool, dsn: str, gasless: Relayed
) -> None:
    """A proxy or a Safe wallet: the SDK's payload of each carried out as the wallet."""
    w, relayer, wallet = gasless.world, gasless.relayer, gasless.wallet
    ex = await holding_a_win(pool, dsn, w, wallet=wallet)
    shares = await w.chain.shares(wallet, w.tokens[0])
    await ex.maintenance()
    row = await redemption(pool)
    assert row is not None and row["reason"] is None, row and row["reason"]
    assert (row["status"], row["attempts"]) == ("SENT", 1)
    assert row["wallet"] == wallet.lower() and row["tx_hash"] == relayer.submitted[0].id
    assert await w.chain.collateral(wallet) == shares  # 1 per winning share, to the wallet
    assert await w.chain.shares(wallet, w.tokens[0]) == 0
    submit = [h for m, p, h in relayer.requests if p == "/submit"]
    assert len(submit) == 1 and submit[0]["RELAYER_API_KEY"] == RELAYER_KEY
    later(ex, SENT_WAIT)
    await ex.maintenance()
    row = await redemption(pool)
    assert row is not None and (row["status"], row["reason"]) == ("DONE", "redeemed")
    assert len(relayer.submitted) == 1


async def test_a_deposit_wallets_redemption_goes_through_the_relayer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The deposit wallet's batch (``WALLET``) through the broker the executor logs in: the stand-in
    CLOB cannot take its orders (their ERC-1271 signature is not an EOA's: "invalid signature"),
    so its shares are split on chain by hand rather than bought by a strategy."""
    async with relayed(monkeypatch, DEPOSIT) as r:
        w = r.world
        await w.chain.split(DEPOSIT, w.condition, 3 * UNITS)
        await w.chain.give(DEPOSIT, w.chain.oracle, w.tokens[1], 3 * UNITS)
        await w.chain.report(QUESTION, [1, 0])
        sent = await w.broker.redeem(w.condition, "a deposit wallet's redemption")
        assert sent == r.relayer.submitted[0].id
        assert await w.chain.collateral(DEPOSIT) == 3 * UNITS
        assert await w.broker.held_shares(list(w.tokens)) == 0


async def test_a_busy_relayer_is_asked_again_and_redeems_once(
    pool: asyncpg.Pool, dsn: str, proxy: Relayed
) -> None:
    w, relayer = proxy.world, proxy.relayer
    ex = await holding_a_win(pool, dsn, w, wallet=PROXY)
    relayer.busy = 2  # 429 twice: the SDK's submit tries again
    await ex.maintenance()
    row = await redemption(pool)
    assert row is not None and row["status"] == "SENT", row and row["reason"]
    assert len(relayer.submitted) == 1 and await w.chain.collateral(PROXY) > 0


async def test_a_refused_relayed_redemption_fails_and_is_tried_again(
    pool: asyncpg.Pool, dsn: str, proxy: Relayed
) -> None:
    w, relayer = proxy.world, proxy.relayer
    ex = await holding_a_win(pool, dsn, w, wallet=PROXY)
    relayer.refuse = "wallet not allowed"
    await ex.maintenance()
    row = await redemption(pool)
    assert row is not None and (row["status"], row["attempts"]) == ("FAILED", 1)
    assert "wallet not allowed" in row["reason"] and RELAYER_KEY not in row["reason"]
    assert await w.chain.collateral(PROXY) == 0
    relayer.refuse = None
    later(ex, FIRST_PAUSE)
    await ex.maintenance()
    assert await w.chain.collateral(PROXY) > 0


def test_the_relayer_key_is_a_secret() -> None:
    creds = LiveCredentials(
        POLY_PRIVATE_KEY=KEY, POLY_RELAYER_API_KEY=RELAYER_KEY, POLY_RELAYER_API_KEY_ADDRESS=WALLET
    )
    assert RELAYER_KEY not in repr(creds) and RELAYER_KEY not in str(creds.model_dump())
    with pytest.raises(ValueError, match="POLY_RELAYER_API_KEY_ADDRESS"):
        LiveCredentials(POLY_PRIVATE_KEY=KEY, POLY_RELAYER_API_KEY=RELAYER_KEY)
    with pytest.raises(ValueError, match="POLY_BUILDER_SECRET"):
        LiveCredentials(POLY_PRIVATE_KEY=KEY, POLY_BUILDER_API_KEY="builder-key-0123456789")


async def test_a_relayed_redemption_still_pending_is_not_submitted_again(
    pool: asyncpg.Pool, dsn: str, proxy: Relayed
) -> None:
    w, relayer = proxy.world, proxy.relayer
    ex = await holding_a_win(pool, dsn, w, wallet=PROXY)
    relayer.hold = True  # accepted, left STATE_NEW
    await ex.maintenance()
    later(ex, SENT_WAIT)
    await ex.maintenance()
    row = await redemption(pool)
    assert row is not None and row["status"] == "SENT", row and row["reason"]
    assert row["reason"] == f"waiting: relayer transaction {row['tx_hash']} STATE_NEW"
    later(ex, SENT_WAIT + FIRST_PAUSE)
    await ex.maintenance()
    assert len(relayer.submitted) == 1  # no second relayer transaction
    await relayer.release()
    row = await done_after(ex, pool)
    assert len(relayer.submitted) == 1 and await w.chain.collateral(PROXY) > 0


async def test_a_relayed_redemption_that_failed_is_submitted_again(
    pool: asyncpg.Pool, dsn: str, proxy: Relayed
) -> None:
    w, relayer = proxy.world, proxy.relayer
    ex = await holding_a_win(pool, dsn, w, wallet=PROXY)
    relayer.fail = True  # accepted, then STATE_FAILED: nothing done on chain
    await ex.maintenance()
    relayer.fail = False
    later(ex, SENT_WAIT)
    await ex.maintenance()
    row = await redemption(pool)
    assert row is not None and row["status"] == "FAILED", row and row["reason"]
    assert "STATE_FAILED: execution reverted" in row["reason"]
    later(ex, FIRST_PAUSE)
    await ex.maintenance()
    assert len(relayer.submitted) == 2 and await w.chain.collateral(PROXY) > 0


def test_the_relayer_keys_are_masked_in_logs() -> None:
    """``orderflow.telemetry`` masks the relayer's keys, as it does the CLOB's."""
    from orderflow.telemetry import redact

    env = {
        "POLY_RELAYER_API_KEY": RELAYER_KEY,
        "POLY_BUILDER_API_KEY": "builder-key-0a1b2c3d4e5f",
        "POLY_BUILDER_SECRET": "YnVpbGRlci1zZWNyZXQtdmFsdWU=",
        "POLY_BUILDER_PASSPHRASE": "builder-passphrase-77aa",
    }
    line = redact(" ".join(f"{k}={v}" for k, v in env.items()), env)
    assert all(v not in line for v in env.values()), line


async def test_a_relayer_text_never_carries_the_key(
    pool: asyncpg.Pool, dsn: str, proxy: Relayed
) -> None:
    """The log-in registers the relayer's key with the exchange texts' redaction (keep_out): a
    relayer's answer quoting it reaches no row."""
    w, relayer = proxy.world, proxy.relayer
    ex = await holding_a_win(pool, dsn, w, wallet=PROXY)
    relayer.refuse = f"key {RELAYER_KEY} not allowed for this wallet"
    await ex.maintenance()
    row = await redemption(pool)
    assert row is not None and row["status"] == "FAILED"
    assert "not allowed" in row["reason"] and RELAYER_KEY not in row["reason"]
