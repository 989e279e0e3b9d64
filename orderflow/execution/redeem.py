"""Live winnings redeemed: each condition whose settled live positions hold winning shares is
redeemed once on the wallet, after its resolution is final (docs/executor.md, "Redeeming live
winnings").

A settled position's winning shares are collateral only once ``redeemPositions`` is sent for its
condition; until then the wallet holds less than the strategies' cash says and their BUYs are
refused ``wallet_collateral``. Each maintenance pass (leader only, ``EXECUTOR_REDEEM``):

1. queues (PENDING) every condition with a settled live position holding winning shares
   (``settled_payout`` > 0) whose resolution's block is at least ``REORG_WINDOW_BLOCKS`` under
   the listener's checkpoint: deeper than the listener follows a reorg, so no redemption is ever
   sent for a resolution that could be taken back. Paper positions are never queued; a killed
   strategy's are (redemption trades nothing, and it redeems the wallet's whole balance of the
   condition, whichever strategy bought it);
2. for each row due, reads the wallet's shares of the condition on chain: none left is DONE —
   ``redeemed`` after our transaction, ``no balance to redeem`` otherwise (redeemed on
   Polymarket's site, by its auto-redeem operator) — with no transaction sent;
3. sends the redemption of a PENDING or FAILED row: the row is SENT (no hash, the attempt
   counted) before it goes out, then given the hash or relayer id; a SENT row is looked at again
   :data:`SENT_WAIT` later by its balance, and, shares still held, the first one looked up
   (:class:`Lookup`: an EOA's receipt or whether the node still has it, the relayer's state; a
   relayed one without its id found by its :func:`memo` among the relayer's recent ones):
   still pending, it waits (SENT, looked at again :data:`SENT_WAIT` later), never sent twice;
   gone (dropped, unknown, or no hash recorded and nothing of the wallet pending), it is sent
   again at once; reverted, failed or mined without redeeming, FAILED. A failure before anything
   went out (the node, Gamma, a revert) is FAILED with its reason, tried again after a pause
   doubling from :data:`FIRST_PAUSE` to :data:`LONGEST_PAUSE`; a send that raised after it went
   out (:class:`RedemptionInDoubt`: its answer lost) stays SENT with what identifies it, looked
   up as any SENT row before anything is sent again.

Texts of the exchange or the node are redacted (:func:`~orderflow.execution.exchange_text.
exchange_text`): no key or secret reaches a log or a row.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal, NamedTuple, Protocol, runtime_checkable

import asyncpg

from orderflow.errors import ExecutionError
from orderflow.execution import redeem_queries as q
from orderflow.execution.exchange_text import exchange_text
from orderflow.telemetry import meter

log = logging.getLogger(__name__)
redemptions = meter("orderflow.execution").create_counter(
    "orderflow_redemptions_total",
    description=(
        "Live redemptions by outcome: sent, in_doubt, redeemed, no_balance, pending, failed"
    ),
)

SENT_WAIT = timedelta(minutes=5)  # more than the SDK waits for a receipt (200 s)
FIRST_PAUSE = timedelta(minutes=1)
LONGEST_PAUSE = timedelta(hours=1)


class Lookup(NamedTuple):
    """What became of a redemption sent earlier: ``pending`` (the node or the relayer still has
    it, not mined), ``gone`` (never sent, dropped, unknown: safe to send again), ``failed``
    (reverted, the relayer's FAILED/INVALID) or ``mined``; ``what`` says which, for the row."""

    state: Literal["pending", "gone", "failed", "mined"]
    what: str


class RedemptionInDoubt(ExecutionError):
    """The redemption went out and its answer was lost (the connection dropped, a gateway's 5xx,
    no answer in time): whether it is on its way is not known. ``sent`` is what identifies it
    for the look-up (an EOA's transaction hash, computed from the signed transaction before it
    was handed to the node; the relayer's id), None when nothing does."""

    def __init__(self, message: str, sent: str | None) -> None:
        super().__init__(message)
        self.sent = sent


class Redeemer(Protocol):
    """The logged-in live broker's side of a redemption (:class:`~orderflow.execution.live.
    LiveBroker`)."""

    @property
    def wallet(self) -> str: ...

    async def held_shares(self, token_ids: Sequence[int]) -> int: ...

    async def redeem(self, condition_id: str, memo: str) -> str: ...

    async def look_up(self, sent: str | None, memo: str) -> Lookup: ...


@runtime_checkable
class CanRedeem(Protocol):
    """A broker that can redeem (live ones; a paper broker cannot)."""

    async def redeemer(self) -> Redeemer: ...

    def redeem_wallet(self) -> str | None:
        """The wallet (lower case) when known without logging in; None otherwise."""
        ...


def memo(condition_id: str, attempt: int) -> str:
    """What a redemption is sent with (the relayer's metadata of the transaction), one per
    attempt of the row: a relayed redemption whose id was never stored is found again by it."""
    return f"orderflow: redeem {condition_id} (attempt {attempt})"


def pause_after(attempts: int) -> timedelta:
    """The pause before the next try of a row that failed ``attempts`` times."""
    doubled: timedelta = FIRST_PAUSE * 2 ** min(max(attempts - 1, 0), 16)
    return min(doubled, LONGEST_PAUSE)


async def has_work(conn: asyncpg.Connection, depth: int, now: datetime, wallet: str | None) -> bool:
    """Whether a pass has anything to do for ``wallet`` (any wallet when None: not known before
    the log-in), so an idle executor never logs in for it."""
    since = now - SENT_WAIT
    wallet = None if wallet is None else wallet.lower()
    return bool(await conn.fetchval(q.HAS_WORK, q.LISTENER_STREAM, depth, now, since, wallet))


async def redeem_pass(
    conn: asyncpg.Connection, redeemer: Redeemer, now: datetime, depth: int
) -> dict[str, int]:
    """Queue the conditions now final, act on every row due; the outcomes counted."""
    wallet = redeemer.wallet
    await q.queue_final(conn, wallet, depth, now)
    outcomes: dict[str, int] = {}
    for row in await q.due(conn, wallet, now, now - SENT_WAIT):
        outcome = await _act(conn, redeemer, row, now)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        redemptions.add(1, {"outcome": outcome})
    return outcomes


async def _act(
    conn: asyncpg.Connection, redeemer: Redeemer, row: asyncpg.Record, now: datetime
) -> str:
    condition, wallet = str(row["condition_id"]), redeemer.wallet
    attempts = int(row["attempts"])
    try:
        held = await redeemer.held_shares([int(t) for t in row["tokens"]])
    except ExecutionError as exc:
        if row["status"] == "SENT":  # the first may be pending: looked up before a second
            return await _wait(conn, condition, wallet, now, str(exc))
        return await _failed(conn, condition, wallet, now, str(exc), attempts)
    if held == 0:
        reason = "redeemed" if row["status"] == "SENT" else "no balance to redeem"
        await q.set_state(conn, condition, wallet, "DONE", now=now, reason=reason)
        log.info("redemption done", extra={"condition": condition, "reason": reason})
        return "redeemed" if reason == "redeemed" else "no_balance"
    if row["status"] == "SENT":
        looked = await _look_up(conn, redeemer, row, held, now)
        if looked is not None:
            return looked
    await q.mark_sending(conn, condition, wallet, now)
    try:
        sent = await redeemer.redeem(condition, memo(condition, attempts + 1))
    except RedemptionInDoubt as exc:  # it may be on its way: looked up, never sent blindly
        return await _in_doubt(conn, condition, wallet, now, exc)
    except ExecutionError as exc:
        return await _failed(conn, condition, wallet, now, str(exc), attempts + 1)
    await q.set_state(conn, condition, wallet, "SENT", now=now, tx_hash=sent)
    log.info("redemption sent", extra={"condition": condition, "tx": sent, "shares": held})
    return "sent"


async def _look_up(
    conn: asyncpg.Connection, redeemer: Redeemer, row: asyncpg.Record, held: int, now: datetime
) -> str | None:
    """A SENT row whose wallet still holds shares: its outcome, or None when the first
    redemption is gone and the row is to be sent again now."""
    condition, wallet, sent = str(row["condition_id"]), redeemer.wallet, row["tx_hash"]
    try:
        state, what = await redeemer.look_up(sent, memo(condition, int(row["attempts"])))
    except ExecutionError as exc:  # not known whether it is pending: not sent again yet
        state, what = "pending", str(exc)
    if state == "gone":
        log.info("redemption sent again", extra={"condition": condition, "reason": what})
        return None
    if state == "pending":
        return await _wait(conn, condition, wallet, now, what)
    why = f"shares still held after the redemption {sent} was sent ({held} units): {what}"
    return await _failed(conn, condition, wallet, now, why, int(row["attempts"]))


async def _wait(
    conn: asyncpg.Connection, condition: str, wallet: str, now: datetime, what: str
) -> str:
    """Still SENT, looked at again :data:`SENT_WAIT` later (why: the row's reason)."""
    reason = exchange_text(f"waiting: {what}")
    await q.set_state(conn, condition, wallet, "SENT", now=now, reason=reason)
    log.warning("redemption still pending", extra={"condition": condition, "reason": reason})
    return "pending"


async def _in_doubt(
    conn: asyncpg.Connection, condition: str, wallet: str, now: datetime, exc: RedemptionInDoubt
) -> str:
    """SENT with what identifies it (if anything), looked at again :data:`SENT_WAIT` later: its
    balance, then the look-up, decide before anything is sent again."""
    reason = exchange_text(f"in doubt: {exc}")
    await q.set_state(conn, condition, wallet, "SENT", now=now, tx_hash=exc.sent, reason=reason)
    log.warning(
        "redemption in doubt; looked up before any resend",
        extra={"condition": condition, "tx": exc.sent, "reason": reason},
    )
    return "in_doubt"


async def _failed(
    conn: asyncpg.Connection,
    condition: str,
    wallet: str,
    now: datetime,
    why: str,
    attempts: int,
) -> str:
    """FAILED with its reason, tried again after the pause of ``attempts`` (the row's sends, the
    last one counted when it was marked)."""
    reason = exchange_text(why)
    later = now + pause_after(max(attempts, 1))
    await q.set_state(conn, condition, wallet, "FAILED", now=now, reason=reason, next_try_at=later)
    log.warning(
        "redemption failed; tried again later",
        extra={"condition": condition, "reason": reason, "next_try_at": later.isoformat()},
    )
    return "failed"


async def redeem_winnings(
    conn: asyncpg.Connection, broker: object, enabled: bool, depth: int, now: datetime
) -> dict[str, int]:
    """The maintenance pass's step: nothing unless redemption is on, the live broker can redeem
    and there is work (an executor with nothing to redeem never logs in for it); a broker that
    cannot log in now is asked again next pass."""
    if not enabled or not isinstance(broker, CanRedeem):
        return {}
    if not await has_work(conn, depth, now, broker.redeem_wallet()):
        return {}
    try:
        redeemer = await broker.redeemer()
    except ExecutionError as exc:
        log.warning("redemptions wait: %s", exchange_text(str(exc)))
        return {}
    return await redeem_pass(conn, redeemer, now, depth)
