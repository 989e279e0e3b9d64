"""The SDK's side of a live redemption (:mod:`orderflow.execution.redeem`): the wallet's shares of
a condition, and ``redeemPositions`` sent.

The SDK's ``redeem_positions(condition_id=…)`` looks the market up on Gamma, then sends one
``redeemPositions`` to the environment's collateral adapter (the neg-risk one for a neg-risk
market): an EOA wallet signs and broadcasts it through the environment's RPC (``POLY_RPC_URL``),
a proxy, Safe or deposit wallet goes through Polymarket's relayer (gasless). On a CTF market it
reads no balance first — an empty redemption is a transaction that pays nothing —, so the
balances are read here, on the ConditionalTokens contract (standard and neg-risk outcomes are
both its ERC-1155 positions), through the SDK's RPC client.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from polymarket import AsyncSecureClient, PolymarketError
from polymarket._internal.actions.relayer.calls import (
    decode_erc1155_balance_of_batch_result,
    erc1155_balance_of_batch_call,
)

from orderflow.errors import ExecutionError
from orderflow.execution.exchange_text import exchange_text


async def held_shares(client: AsyncSecureClient, token_ids: Sequence[int]) -> int:
    """The wallet's balance (base units) of the tokens, summed, read from the chain."""
    ctx: Any = client._ctx  # the SDK's RPC client and contract addresses: no public accessor
    call = erc1155_balance_of_batch_call(
        token_address=ctx.environment_config.conditional_tokens,
        owners=[ctx.wallet] * len(token_ids),
        token_ids=[str(t) for t in token_ids],
    )
    try:
        answer = await ctx.rpc.eth_call(to=str(call.to), data=call.data)
        return sum(decode_erc1155_balance_of_batch_result(cast(str, answer)))
    except (PolymarketError, OSError) as exc:
        raise ExecutionError(f"balance read failed: {_why(exc)}") from None


async def send_redemption(client: AsyncSecureClient, condition_id: str) -> str:
    """Send the condition's redemption; the transaction's hash (an EOA's) or the relayer's id."""
    try:
        handle = await client.redeem_positions(condition_id=condition_id)
    except (PolymarketError, OSError) as exc:
        raise ExecutionError(f"redemption not sent: {_why(exc)}") from None
    sent = handle.transaction_hash or handle.transaction_id
    return str(sent)


def _why(exc: BaseException) -> str:
    return exchange_text(f"{type(exc).__name__}: {exc}")
