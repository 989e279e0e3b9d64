"""Control tests of the SDK's redemption, EOA path, against the real ConditionalTokens on anvil.

The executor does not redeem yet (docs/executor.md, "Redeeming live winnings (designed, not built
yet)"); these pin down the SDK behaviour that design rests on, so a change of the SDK shows here:

* ``redeem_positions(condition_id=…)`` looks the market up on Gamma (``/markets/keyset``, closed
  markets), then an EOA wallet signs and sends ``redeemPositions`` itself through the
  environment's RPC (chain id 137): the winning shares come back as collateral;
* it reads no balance first on a CTF market: redeeming again sends a transaction that succeeds and
  pays nothing (gas spent for nothing — the executor must read the balances itself);
* a condition Gamma does not list is refused before anything is sent.

The SDK sends a CTF market's redemption to the environment's collateral adapter (Polymarket's, in
no package): here the adapter's address is the CTF itself, which has the same ``redeemPositions``.
Addresses are checksummed: the SDK's signer refuses a lower-case ``to``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
from polymarket import AsyncSecureClient
from polymarket.environments import PRODUCTION
from polymarket.errors import UserInputError

from orderflow.chain.tokens import ctf_position_ids
from tests.chain_live.anvil_node import Anvil
from tests.chain_live.ctf_chain import CtfChain, GammaStandin, gamma_market
from tests.execution.fake_clob import FakeClob

# anvil's first account (its well-known test key): the EOA wallet that trades and redeems.
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
WALLET = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
QUESTION = b"\x11" * 32
STAKE = 10_000_000  # 10 USD in base units (6 decimals)


@pytest.fixture
async def world(anvil: Anvil) -> AsyncIterator[tuple[CtfChain, str, tuple[int, int]]]:
    """A resolved market (YES won) in which the wallet holds 10 YES shares and no NO."""
    chain = await CtfChain.deploy(anvil)
    condition = await chain.prepare(QUESTION)
    await chain.split(WALLET, condition, STAKE)
    tokens = (await chain.token_id(condition, 1), await chain.token_id(condition, 2))
    await chain.give(WALLET, chain.oracle, tokens[1], STAKE)  # the losing side sold
    await chain.report(QUESTION, [1, 0])
    yield chain, condition, tokens


async def sdk_client(anvil: Anvil, chain: CtfChain, gamma: GammaStandin, clob: FakeClob) -> Any:
    from polymarket._internal.environment import get_environment_config, with_environment_config

    config = dataclasses.replace(
        get_environment_config(PRODUCTION),
        clob_url=clob.url,
        gamma_url=gamma.url,
        rpc_url=anvil.http_url,
        collateral_token=chain.usd,
        conditional_tokens=chain.ctf,
        collateral_adapter=chain.ctf,
        relayer_poll_frequency_ms=20,
    )
    env = with_environment_config(PRODUCTION, config=config)
    return await AsyncSecureClient.create(private_key=KEY, wallet=WALLET, environment=env)


@pytest.fixture
async def servers() -> AsyncIterator[tuple[GammaStandin, FakeClob]]:
    gamma, clob = GammaStandin([]), FakeClob()
    await gamma.start()
    await clob.start()
    try:
        yield gamma, clob
    finally:
        await clob.stop()
        await gamma.stop()


async def nonce(anvil: Anvil) -> int:
    return int(await anvil.rpc("eth_getTransactionCount", WALLET, "latest"), 16)


async def test_eoa_redeem_pays_the_winning_shares_back(
    anvil: Anvil, world: tuple[CtfChain, str, tuple[int, int]], servers: Any
) -> None:
    chain, condition, tokens = world
    gamma, clob = servers
    gamma.markets.append(gamma_market(condition, tokens))
    client = await sdk_client(anvil, chain, gamma, clob)
    try:
        assert client.wallet_type == "EOA"
        assert tokens == ctf_position_ids(condition, 2, chain.usd)  # the contract's own ids
        assert await chain.collateral(WALLET) == 0
        assert await chain.shares(WALLET, tokens[0]) == STAKE
        handle = await client.redeem_positions(condition_id=condition)
        outcome = await handle.wait()
    finally:
        await client.close()
    assert outcome.transaction_hash == handle.transaction_hash
    assert await chain.collateral(WALLET) == STAKE
    assert await chain.shares(WALLET, tokens[0]) == 0
    assert gamma.asked == [{"closed": "true", "condition_ids": condition, "limit": "1"}]


async def test_redeeming_again_sends_a_transaction_that_pays_nothing(
    anvil: Anvil, world: tuple[CtfChain, str, tuple[int, int]], servers: Any
) -> None:
    chain, condition, tokens = world
    gamma, clob = servers
    gamma.markets.append(gamma_market(condition, tokens))
    client = await sdk_client(anvil, chain, gamma, clob)
    try:
        await (await client.redeem_positions(condition_id=condition)).wait()
        sent = await nonce(anvil)
        await (await client.redeem_positions(condition_id=condition)).wait()
    finally:
        await client.close()
    assert await nonce(anvil) == sent + 1  # a second transaction mined, its gas paid
    assert await chain.collateral(WALLET) == STAKE  # and nothing more redeemed


async def test_a_condition_gamma_does_not_list_is_refused_before_sending(
    anvil: Anvil, world: tuple[CtfChain, str, tuple[int, int]], servers: Any
) -> None:
    chain, condition, _ = world
    gamma, clob = servers
    client = await sdk_client(anvil, chain, gamma, clob)
    before = await nonce(anvil)
    try:
        with pytest.raises(UserInputError, match="No market found"):
            await client.redeem_positions(condition_id=condition)
    finally:
        await client.close()
    assert await nonce(anvil) == before
    assert await chain.collateral(WALLET) == 0
