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
from polymarket._internal.actions.relayer.poll import fetch_gasless_transaction
from polymarket._internal.eoa.rpc import JsonRpcCallError
from polymarket.errors import RateLimitError, RequestRejectedError
from polymarket.models.clob.relayer import RelayerTransactionState as Relayed
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from orderflow.chain.tokens import keccak256
from orderflow.errors import ExecutionError
from orderflow.execution.exchange_text import exchange_text
from orderflow.execution.redeem import Lookup, RedemptionInDoubt


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


async def send_redemption(client: AsyncSecureClient, condition_id: str, memo: str) -> str:
    """Send the condition's redemption, ``memo`` its relayer metadata (what finds a relayed one
    again: :func:`look_up`); the transaction's hash (an EOA's) or the relayer's id. Raises
    :class:`~orderflow.execution.redeem.RedemptionInDoubt` when it may have gone out (an EOA's
    signed transaction handed to the node, or the relayer's ``/submit`` sent, and the answer
    lost), ExecutionError when nothing went out (refused, or failed before the send)."""
    sends = _Sends(client._ctx)
    try:
        with sends:
            handle = await client.redeem_positions(condition_id=condition_id, metadata=memo)
    except (PolymarketError, OSError) as exc:
        if sends.out and not _refused(exc):
            what = sends.sent or "submitted to the relayer"
            why = f"redemption {what} sent, its answer lost: {_why(exc)}"
            raise RedemptionInDoubt(why, sends.sent) from None
        raise ExecutionError(f"redemption not sent: {_why(exc)}") from None
    sent = handle.transaction_hash or handle.transaction_id
    return str(sent)


class _Sends:
    """While entered, whether the SDK's send went out: an EOA's signed transaction handed to the
    node (``eth_sendRawTransaction``: its hash, the keccak of the signed bytes, kept in
    :attr:`sent` before it goes out) or the relayer's ``POST /submit`` made (its id is in the
    answer only). This client's calls, for this send only."""

    def __init__(self, ctx: Any) -> None:
        self.rpc, self.relayer = ctx.rpc, ctx.relayer
        self.out, self.sent = False, cast(str | None, None)

    def __enter__(self) -> _Sends:
        send_raw, post = self.rpc.eth_send_raw_transaction, self.relayer.post_json

        async def raw_sent(signed_hex: str) -> str:
            self.out = True
            self.sent = "0x" + keccak256(bytes.fromhex(signed_hex.removeprefix("0x"))).hex()
            return cast(str, await send_raw(signed_hex))

        async def posted(path: str, **kwargs: Any) -> Any:
            self.out = self.out or path == "/submit"
            return await post(path, **kwargs)

        self.rpc.eth_send_raw_transaction, self.relayer.post_json = raw_sent, posted
        return self

    def __exit__(self, *_: object) -> None:
        del self.rpc.eth_send_raw_transaction, self.relayer.post_json  # the SDK's methods again


def _refused(exc: BaseException) -> bool:
    """The answer refused the send, so nothing of it is on its way: the node's JSON-RPC error
    (not in its pool, unless it says it has it already), the relayer's 4xx or rate limit. A 5xx,
    no answer, an answer the SDK cannot read: it may have been taken."""
    if isinstance(exc, JsonRpcCallError):
        known = ("already known", "known transaction")
        return not any(k in exc.message.lower() for k in known)
    if isinstance(exc, RateLimitError):
        return True
    return isinstance(exc, RequestRejectedError) and 400 <= exc.status < 500


async def look_up(client: AsyncSecureClient, sent: str | None, memo: str) -> Lookup:
    """What became of a redemption sent earlier (:class:`~orderflow.execution.redeem.Lookup`):
    ``sent`` is an EOA's transaction hash, the relayer's id, or None (its answer lost, or the
    pass that sent it stopped before it stored either); ``memo`` the metadata it was sent with."""
    ctx: Any = client._ctx
    try:
        if str(client.wallet_type) == "EOA":
            return await _eoa(ctx.rpc, str(ctx.wallet), sent)
        if sent is None:
            sent = await _relayed_by_memo(ctx.relayer, str(ctx.wallet), memo)
            if sent is None:
                return Lookup("gone", f"no relayer transaction of the wallet named {memo!r}")
        return await _relayed(ctx.relayer, sent)
    except (PolymarketError, OSError, ValidationError) as exc:
        raise ExecutionError(f"redemption not looked up: {_why(exc)}") from None


class _Listed(BaseModel):
    """One of the relayer's recent transactions of the key's owner (``GET /transactions``)."""

    transaction_id: str = Field(validation_alias="transactionID")
    metadata: str | None = None
    proxy_address: str | None = Field(default=None, validation_alias="proxyAddress")


async def _relayed_by_memo(relayer: Any, wallet: str, memo: str) -> str | None:
    """The id of the wallet's relayer transaction sent with ``memo`` (each attempt's is its own),
    from the relayer's recent transactions of the key's owner; None when it has none."""
    listed = TypeAdapter(list[_Listed]).validate_python(await relayer.get_json("/transactions"))
    for tx in listed:
        ours = tx.proxy_address is None or tx.proxy_address.lower() == wallet.lower()
        if ours and tx.metadata == memo:
            return tx.transaction_id
    return None


async def _eoa(rpc: Any, wallet: str, sent: str | None) -> Lookup:
    if sent is None:  # the wallet's transactions in the node's pool, not mined yet
        queued = await rpc.eth_get_transaction_count(wallet, "pending")
        if queued > await rpc.eth_get_transaction_count(wallet, "latest"):
            return Lookup("pending", "a transaction of the wallet is pending")
        return Lookup("gone", "no transaction of the wallet pending")
    receipt = await rpc.eth_get_transaction_receipt(sent)
    if receipt is not None:
        if receipt.get("status") == "0x1":
            return Lookup("mined", f"{sent} mined")
        return Lookup("failed", f"{sent} reverted")
    if await rpc._call("eth_getTransactionByHash", [sent]) is not None:
        return Lookup("pending", f"{sent} pending")
    return Lookup("gone", f"{sent} unknown to the node (dropped)")


async def _relayed(relayer: Any, sent: str) -> Lookup:
    try:
        tx = await fetch_gasless_transaction(relayer, transaction_id=sent)
    except PolymarketError as exc:
        if getattr(exc, "status", None) == 404:
            return Lookup("gone", f"relayer transaction {sent} unknown")
        raise
    if tx.state == Relayed.CONFIRMED:
        return Lookup("mined", f"relayer transaction {sent} confirmed")
    if tx.state in (Relayed.FAILED, Relayed.INVALID):
        return Lookup("failed", f"relayer transaction {sent} {tx.state.value}: {tx.error_msg}")
    return Lookup("pending", f"relayer transaction {sent} {tx.state.value}")


def _why(exc: BaseException) -> str:
    return exchange_text(f"{type(exc).__name__}: {exc}")
