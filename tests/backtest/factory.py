"""Hand-made trade histories written straight into the ledger tables (no chain encoding needed)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import asyncpg

EXCHANGE = "0xe111180000d2663c0091e4f400237545b87b996b"
ORACLE = "0x" + "0a" * 20


def h32(*parts: object) -> str:
    return "0x" + hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


def addr(name: str) -> str:
    return "0x" + hashlib.sha256(name.encode()).hexdigest()[:40]


MAKER = "0x" + "4d" * 20


def token_of(market: str, outcome: int) -> int:
    return int(h32("token", market, outcome), 16) >> 8


@dataclass
class History:
    trades: list[tuple[object, ...]] = field(default_factory=list)
    outcomes: list[tuple[object, ...]] = field(default_factory=list)
    tokens: list[tuple[object, ...]] = field(default_factory=list)
    _n: int = 0

    def market(self, name: str) -> str:
        market = h32("market", name)
        for outcome in (0, 1):
            self.tokens.append(
                (
                    Decimal(token_of(market, outcome)),
                    market,
                    outcome,
                    Decimal(token_of(market, 1 - outcome)),
                )
            )
        return market

    def trade(
        self,
        wallet: str,
        market: str,
        outcome: int,
        side: str,
        price: str,
        shares: str,
        at: datetime,
        *,
        taker: bool = True,
        taker_address: str | None = None,
        tx: int | None = None,
    ) -> None:
        """A fill of ``wallet``: its taker row (a decision) or, ``taker=False``, a maker row
        (``taker_address``: the wallet whose order hit it, a stand-in by default). ``tx``: the
        fill's transaction, shared with the other fills given it (each its own log index: one
        taker order matched against several makers); by default a transaction of its own."""
        self._n += 1
        p, s = Decimal(price), Decimal(shares)
        self.trades.append(
            (
                137,
                h32("tx", self._n) if tx is None else h32("shared tx", tx),
                1 if tx is None else self._n,
                1000 + self._n,
                h32("block", self._n),
                at,
                EXCHANGE,
                "V2",
                h32("order", self._n),
                wallet,
                EXCHANGE if taker else taker_address or addr("some taker"),
                taker,
                side,
                Decimal(token_of(market, outcome)),
                market,
                outcome,
                p,
                s,
                p * s,
                Decimal(0),
                "COLLATERAL",
            )
        )

    def ask(self, market: str, outcome: int, price: str, shares: str, at: datetime) -> None:
        """Resting liquidity revealed at ``at``: a market maker's SELL of the token was filled."""
        self.trade(MAKER, market, outcome, "SELL", price, shares, at, taker=False)

    def bid(self, market: str, outcome: int, price: str, shares: str, at: datetime) -> None:
        """A maker's BUY of the token, filled at ``at`` (a bid a follower could sell into)."""
        self.trade(MAKER, market, outcome, "BUY", price, shares, at, taker=False)

    def resolve(self, market: str, winner: int, at: datetime) -> None:
        self._n += 1
        numerators = [1, 0] if winner == 0 else [0, 1]
        self.outcomes.append(
            (
                market,
                ORACLE,
                h32("q", market),
                2,
                numerators,
                numerators,
                winner,
                at,
                137,
                2000 + self._n,
                h32("block", self._n),
                h32("tx", self._n),
                0,
            )
        )

    async def store(self, pool: asyncpg.Pool) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                "INSERT INTO orderflow_tokens (token_id, condition_id, outcome_index, "
                "complement_token_id, generation, source) VALUES ($1, $2, $3, $4, 'CTF', 'test')",
                self.tokens,
            )
            await conn.executemany(
                "INSERT INTO orderflow_trades (chain_id, tx_hash, log_index, block_number, "
                "block_hash, timestamp, exchange, exchange_version, order_hash, wallet_address, "
                "taker_address, is_taker_aggregate, side, token_id, market_id, outcome_index, "
                "price, size, usdc_size, fee, fee_asset) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                "$9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)",
                self.trades,
            )
            await conn.executemany(
                "INSERT INTO orderflow_market_outcomes (market_id, oracle, question_id, "
                "outcome_slot_count, payout_numerators, payouts, winning_outcome, resolved_at, "
                "chain_id, block_number, block_hash, tx_hash, log_index) VALUES ($1, $2, $3, $4, "
                "$5, $6, $7, $8, $9, $10, $11, $12, $13)",
                self.outcomes,
            )
