"""The markets' side of a ``store_batch`` transaction (:mod:`orderflow.chain.store`): the
batch's conditions, then every token its conditions, TokenRegistered logs, resolutions and V3 ids
define into the registry (before its trades, so they join their market directly), the market of
older trades whose token just became known, and the resolutions. A log without a known time is a
dead letter (:meth:`MarketSteps._timed`), but for tokens, which are facts about ids.
"""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from orderflow.chain import store_sql as sql
from orderflow.chain.block_times import BlockTimes
from orderflow.chain.contracts import ChainAddresses
from orderflow.chain.dead_letters import untimed_dead_letter
from orderflow.chain.decode import DecodedBatch
from orderflow.chain.events import ConditionPreparation, DeadLetter, LogRef
from orderflow.chain.store_markets_moved import move_conditions, moved_resolutions
from orderflow.chain.store_sql import row_count
from orderflow.chain.store_stats import StoreStats
from orderflow.chain.store_tokens import token_columns
from orderflow.chain.tokens import TokenInfo, condition_tokens, v3_token


class MarketSteps:
    """The steps of ``store._Writer`` that write markets: conditions and tokens
    (:meth:`registry`), back-filled markets, resolutions; and each log's time (:meth:`_timed`)."""

    conn: asyncpg.Connection
    chain_id: int
    times: BlockTimes
    addresses: ChainAddresses
    untimed_conditions: bool
    authoritative: bool  # the node's logs: its condition or resolution moves a stored one
    dead: list[DeadLetter]
    stats: StoreStats

    def _timed(self, ref: LogRef, kind: str) -> int | None:
        ts = self.times.epoch(ref)
        if ts is None:
            self.dead.append(untimed_dead_letter(ref, self.chain_id, kind))
        return ts

    async def registry(self, batch: DecodedBatch, v3_ids: Iterable[int]) -> list[str]:
        """Conditions, then every token they, resolutions, TokenRegistered and V3 ids define.

        Returns the token ids that are new to the registry (their older trades get a market).
        """
        conditions: list[tuple[ConditionPreparation, int | None]] = []
        for c in batch.conditions:
            if self.untimed_conditions:
                ts = self.times.epoch(c.ref)
            else:
                ts = self._timed(c.ref, "ConditionPreparation")
                if ts is None:
                    continue
            conditions.append((c, ts))
        if conditions and self.authoritative:  # a stored one elsewhere is not the chain's
            self.dead.extend(await move_conditions(self.conn, self.chain_id, conditions))
        if conditions:
            self.stats.conditions = row_count(
                await self.conn.execute(
                    sql.INSERT_CONDITIONS,
                    self.chain_id,
                    [c.condition_id for c, _ in conditions],
                    [c.oracle for c, _ in conditions],
                    [c.question_id for c, _ in conditions],
                    [c.outcome_slot_count for c, _ in conditions],
                    [c.neg_risk for c, _ in conditions],
                    [c.ref.block_number for c, _ in conditions],
                    [c.ref.block_hash for c, _ in conditions],
                    [c.ref.tx_hash for c, _ in conditions],
                    [c.ref.log_index for c, _ in conditions],
                    [ts for _, ts in conditions],
                )
            )
        tokens: dict[int, TokenInfo] = {}
        for cond, _ in conditions:
            for t in cond.tokens:
                tokens.setdefault(t.token_id, t)
        for reg in batch.registrations:
            # Tokens are facts about ids: registered even when the log's time is unknown (the
            # log itself is then kept as a dead letter for the record).
            self._timed(reg.ref, "TokenRegistered")
            for t in reg.tokens:
                tokens.setdefault(t.token_id, t)
        for res in batch.resolutions:
            # A resolution names the condition's oracle, question and outcome count: exactly
            # what its token ids are computed from, so markets prepared before our first
            # block are mapped too (facts about the ids, whatever the log's time).
            for t in condition_tokens(
                res.condition_id,
                res.oracle,
                res.question_id,
                res.outcome_slot_count,
                source="ConditionResolution",
                addresses=self.addresses,
            ):
                tokens.setdefault(t.token_id, t)
        for tid in v3_ids:
            if tid in tokens:
                continue
            info = v3_token(tid)
            if info is not None:
                tokens[tid] = info
        if not tokens:
            return []
        rows = await self.conn.fetch(sql.INSERT_TOKENS, *token_columns(tokens.values()))
        new = [r[0] for r in rows if r[1]]  # the others were Gamma's: now the chain's
        self.stats.tokens = len(new)
        return new

    async def backfill_markets(self, new_tokens: list[str]) -> None:
        self.stats.backfilled = row_count(
            await self.conn.execute(sql.BACKFILL_TRADE_MARKETS, new_tokens)
        )
        await self.conn.execute(sql.BACKFILL_MATCH_MARKETS, new_tokens)

    async def resolutions(self, batch: DecodedBatch) -> None:
        replace: set[str] = set()  # markets whose stored chain resolution is not the node's
        if self.authoritative:
            replace, letters = await moved_resolutions(self.conn, self.chain_id, batch.resolutions)
            self.dead.extend(letters)
        for res in batch.resolutions:
            ts = self._timed(res.ref, "ConditionResolution")
            if ts is None:
                continue
            self.stats.outcomes += row_count(
                await self.conn.execute(
                    sql.INSERT_OUTCOME,
                    res.condition_id,
                    res.oracle,
                    res.question_id,
                    res.outcome_slot_count,
                    [str(n) for n in res.payout_numerators],
                    [str(p) for p in res.payouts],
                    res.winning_outcome,
                    ts,
                    self.chain_id,
                    res.ref.block_number,
                    res.ref.block_hash,
                    res.ref.tx_hash,
                    res.ref.log_index,
                    res.condition_id in replace,
                )
            )
