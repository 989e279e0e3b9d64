"""Write trades, tokens and resolutions the way the listener stores them (test data builders)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

T0 = datetime(2026, 5, 1, tzinfo=UTC)
EXCHANGE = "0xe111180000d2663c0091e4f400237545b87b996b"
ORACLE = "0xd91e80cf2e7be2e162c6513ced06f1dd0da35296"
_counter = itertools.count(1)


def wallet(n: int) -> str:
    return f"0x{n:040x}"


def market(n: int) -> str:
    return f"0x{n:064x}"


def token(market_no: int, outcome: int) -> int:
    return market_no * 10 + outcome


def h(n: int) -> str:
    return f"0x{n:064x}"


@dataclass
class Ledger:
    """Buffers rows, then :meth:`flush` writes them with COPY-free plain inserts."""

    trades: list[tuple[Any, ...]] = field(default_factory=list)
    outcomes: list[tuple[Any, ...]] = field(default_factory=list)
    tokens: list[tuple[Any, ...]] = field(default_factory=list)

    def trade(
        self,
        who: int,
        side: str,
        shares: str | Decimal,
        price: str | Decimal,
        *,
        market_no: int | None = 1,
        outcome: int | None = 0,
        token_id: int | None = None,
        at: datetime | timedelta = timedelta(0),
        fee: str = "0",
        fee_asset: str = "COLLATERAL",
        version: str = "V2",
        taker_aggregate: bool = False,
    ) -> None:
        n = next(_counter)
        size = Decimal(shares)
        p = Decimal(price)
        ts = T0 + at if isinstance(at, timedelta) else at
        tok = token_id if token_id is not None else token(market_no or 0, outcome or 0)
        self.trades.append(
            (
                137,
                h(n),
                n % 1000,
                1000 + n,
                h(10**9 + n),
                ts,
                EXCHANGE,
                version,
                h(2 * 10**9 + n),
                wallet(who),
                EXCHANGE if taker_aggregate else wallet(999_999),
                taker_aggregate,
                side,
                Decimal(tok),
                market(market_no) if market_no is not None else None,
                outcome if market_no is not None else None,
                p,
                size,
                (size * p).quantize(Decimal("0.000001")),
                Decimal(fee),
                fee_asset,
            )
        )

    def resolve(self, market_no: int, payouts: list[str], at: datetime | timedelta) -> None:
        ts = T0 + at if isinstance(at, timedelta) else at
        nums = [Decimal(x) for x in payouts]
        total = sum(nums, Decimal(0))
        ps = [n / total for n in nums] if total else nums
        winner = ps.index(max(ps)) if ps.count(max(ps)) == 1 and max(ps) > 0 else None
        n = next(_counter)
        self.outcomes.append(
            (
                market(market_no),
                ORACLE,
                h(3 * 10**9 + n),
                len(ps),
                ps,
                ps,
                winner,
                ts,
                137,
                2000 + n,
                h(4 * 10**9 + n),
                h(5 * 10**9 + n),
                n % 1000,
            )
        )

    def register_token(self, token_id: int, market_no: int, outcome: int) -> None:
        self.tokens.append((Decimal(token_id), market(market_no), outcome, "CTF", "test"))

    async def flush(self, db: asyncpg.Pool | asyncpg.Connection) -> None:
        if self.trades:
            await db.executemany(
                """INSERT INTO orderflow_trades (chain_id, tx_hash, log_index, block_number,
                   block_hash, timestamp, exchange, exchange_version, order_hash, wallet_address,
                   taker_address, is_taker_aggregate, side, token_id, market_id, outcome_index,
                   price, size, usdc_size, fee, fee_asset)
                   VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,
                           $20,$21)""",
                self.trades,
            )
        if self.outcomes:
            await db.executemany(
                """INSERT INTO orderflow_market_outcomes (market_id, oracle, question_id,
                   outcome_slot_count, payout_numerators, payouts, winning_outcome, resolved_at,
                   chain_id, block_number, block_hash, tx_hash, log_index)
                   VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)""",
                self.outcomes,
            )
        if self.tokens:
            await db.executemany(
                """INSERT INTO orderflow_tokens (token_id, condition_id, outcome_index,
                   generation, source) VALUES ($1,$2,$3,$4,$5)""",
                self.tokens,
            )
        self.trades.clear()
        self.outcomes.clear()
        self.tokens.clear()
