"""Markets and trades as raw chain logs, imported through the listener's own pipeline.

Every trade is a real match: one OrderFilled per maker order (its owner, the counterparty taker
wallet, the maker's side), one OrderFilled for the taker order (taker = the exchange: the
aggregate row) and an OrdersMatched, encoded by :mod:`orderflow.chain.encode` and stored by
:func:`orderflow.chain.ingest.ingest_logs` -- what ``orderflow listen --from-file`` does. Markets
are ConditionPreparation logs (neg-risk legs share their event's question-id prefix, as the
NegRiskAdapter makes them), resolutions ConditionResolution logs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import asyncpg

from orderflow.chain import contracts as c
from orderflow.chain.encode import (
    LogPosition,
    encode_condition_preparation,
    encode_condition_resolution,
)
from orderflow.chain.encode_trades import encode_fill, encode_match
from orderflow.chain.ingest import ingest_logs
from orderflow.chain.tokens import condition_id, ctf_tokens

T0 = 1_779_000_000  # 2026-05-17T06:40:00Z
STANDARD_ORACLE = "0x" + "0b" * 20
UNIT = 1_000_000

Side = Literal["BUY", "SELL"]


def wallet(n: int) -> str:
    return f"0x{0xA0000000 + n:040x}"


@dataclass(frozen=True, slots=True)
class Market:
    condition_id: str
    question_id: str
    oracle: str
    neg_risk: bool
    tokens: tuple[int, int]  # YES, NO

    @property
    def exchange(self) -> str:
        return c.V2_NEG_RISK_CTF_EXCHANGE if self.neg_risk else c.V2_CTF_EXCHANGE


@dataclass
class Chain:
    """A synthetic Polygon history: append markets, trades and resolutions, then :meth:`ingest`."""

    logs: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    _tx: int = 0
    _order: int = 0
    _questions: int = 0
    # Log indexes are per block on a real chain: each transaction's logs start after the
    # previous transaction's in the same block ((block, log index) is a log's identity).
    _tx_base: dict[int, int] = field(default_factory=dict)
    _block_next: dict[int, int] = field(default_factory=dict)

    def _at(self, t: float, log_index: int) -> LogPosition:
        secs = int(t)
        block = 1_000_000 + secs // 2
        base = self._tx_base.setdefault(self._tx, self._block_next.get(block, 0))
        index = base + log_index
        self._block_next[block] = max(self._block_next.get(block, 0), index + 1)
        return LogPosition(
            block_number=block,
            block_hash=f"0x{block:064x}",
            tx_hash=f"0x{0xF0000000 + self._tx:064x}",
            log_index=index,
            timestamp=T0 + secs - secs % 2,
        )

    def _new_tx(self) -> None:
        self._tx += 1

    def _push(self, t: float, log: dict[str, Any]) -> None:
        self.logs.append((int(t), log))

    def market(self, t: float = 0.0, *, event: int | None = None, leg: int = 0) -> Market:
        """A binary market; ``event`` makes it leg ``leg`` of a neg-risk event."""
        if event is None:
            self._questions += 1
            question = f"0x{0xC0000000 + self._questions:064x}"
            oracle, neg_risk = STANDARD_ORACLE, False
        else:
            question = f"0x{0xE0000000 + event:062x}{leg:02x}"
            oracle, neg_risk = c.NEG_RISK_ADAPTER, True
        cond = condition_id(oracle, question, 2)
        rows = ctf_tokens(cond, 2, neg_risk=neg_risk, source="test")
        self._new_tx()
        self._push(
            t,
            encode_condition_preparation(
                at=self._at(t, 0),
                condition_id=cond,
                oracle=oracle,
                question_id=question,
                outcome_slot_count=2,
            ),
        )
        return Market(cond, question, oracle, neg_risk, (rows[0].token_id, rows[1].token_id))

    def trade(
        self,
        m: Market,
        t: float,
        taker: str,
        side: Side,
        outcome: int,
        shares: float,
        price: float,
        maker: str,
        *,
        fee: float = 0.0,
        mint: bool = False,
    ) -> None:
        """``taker`` crosses ``maker``'s resting order at one price.

        Normally the maker is on the other side of the same token. With ``mint`` (a taker BUY
        only) the maker's order is a BUY of the complementary outcome at 1 - price: the exchange
        mints the pair, as it does when two buyers of opposite outcomes meet.
        """
        self._new_tx()
        token = m.tokens[outcome]
        n_shares = round(shares * UNIT)
        collateral = round(shares * price * UNIT)
        maker_side: Side = "SELL" if side == "BUY" else "BUY"
        maker_terms = {"token_id": token, "shares": n_shares, "collateral": collateral}
        if mint:
            assert side == "BUY"
            maker_side = "BUY"
            maker_terms = {
                "token_id": m.tokens[1 - outcome],
                "shares": n_shares,
                "collateral": n_shares - collateral,
            }
        self._order += 2
        maker_hash = f"0x{0xD0000000 + self._order:064x}"
        taker_hash = f"0x{0xD0000001 + self._order:064x}"
        common = {"token_id": token, "shares": n_shares, "collateral": collateral}
        self._push(
            t,
            encode_fill(
                "V2",
                at=self._at(t, 0),
                order_hash=maker_hash,
                maker=maker,
                taker=taker,
                side=maker_side,
                exchange=m.exchange,
                **maker_terms,
            ),
        )
        self._push(
            t,
            encode_fill(
                "V2",
                at=self._at(t, 1),
                order_hash=taker_hash,
                maker=taker,
                taker=m.exchange,
                side=side,
                fee=round(fee * UNIT),
                exchange=m.exchange,
                **common,
            ),
        )
        self._push(
            t,
            encode_match(
                "V2",
                at=self._at(t, 2),
                taker_order_hash=taker_hash,
                taker_order_maker=taker,
                side=side,
                exchange=m.exchange,
                **common,
            ),
        )

    def resolve(self, m: Market, t: float, winner: int) -> None:
        self._new_tx()
        self._push(
            t,
            encode_condition_resolution(
                at=self._at(t, 0),
                condition_id=m.condition_id,
                oracle=m.oracle,
                question_id=m.question_id,
                payout_numerators=[1, 0] if winner == 0 else [0, 1],
            ),
        )

    async def ingest(self, pool: asyncpg.Pool) -> None:
        """Store every log in block order through the listener's ingest pipeline."""
        ordered = [log for _, log in sorted(self.logs, key=lambda x: (x[0], _key(x[1])))]
        report = await ingest_logs(pool, ordered, chain_id=137)
        assert report.stored.dead_letters == 0, report.summary()
        self.logs.clear()


def _key(log: dict[str, Any]) -> tuple[str, int]:
    return log["transactionHash"], int(log["logIndex"], 16)


def at_time(t: float) -> int:
    """Unix seconds of chain time ``t`` (seconds after T0, rounded to the block)."""
    secs = int(t)
    return T0 + secs - secs % 2
