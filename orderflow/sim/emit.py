"""From the simulator's timeline to raw JSON-RPC logs, block by block, with the real encoding.

Every log is built by :mod:`orderflow.chain.encode` (the inverse of the listener's decoder), so
addresses, topics, ABI words and hex formatting are the contracts' own. Blocks are ~2 s apart
starting at ``config.first_block``; block and transaction hashes are SHA-256 of a label, the
seed and a counter (deterministic, unique, obviously synthetic; SHA-256 because hashlib's is
several times faster than a keccak object per hash, and nothing checks these hashes).

Per match, in log order (polymarket.md's maker/taker pattern): one OrderFilled per maker order
(``taker`` = the taker order's owner), then the taker order's aggregate OrderFilled (``taker`` =
the exchange itself), then OrdersMatched. V1 runs also register each condition's token pair on
the exchange (TokenRegistered, both orders of the pair), as the V1 operator did. Market makers'
splits and merges are the CTF's PositionSplit / PositionsMerge (:mod:`orderflow.chain.encode_ctf`).

Alongside the logs, :class:`IntendedFill` records say what each OrderFilled *means* — the
trades the listener must decode — so a test can check the round trip exactly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from orderflow.chain import contracts as c
from orderflow.chain.contracts import MAINNET, ChainAddresses, ExchangeVersion
from orderflow.chain.encode import (
    LogPosition,
    encode_condition_preparation,
    encode_condition_resolution,
    encode_token_registered,
)
from orderflow.chain.encode_ctf import (
    encode_adapter_split_or_merge,
    encode_position_split,
    encode_positions_converted,
    encode_positions_merge,
)
from orderflow.chain.encode_trades import encode_fill, encode_match
from orderflow.sim.exchange import Conversion, Match, Merge, Preparation, Resolution, Split
from orderflow.sim.markets import Condition
from orderflow.sim.world import World

BLOCK_SECS = 2


@dataclass(frozen=True, slots=True)
class IntendedFill:
    """One OrderFilled as the simulator meant it (what decoding must give back)."""

    tx_hash: str
    log_index: int
    exchange: str
    version: ExchangeVersion
    order_hash: str
    maker: str
    taker: str
    side: Literal["BUY", "SELL"]
    token_id: int
    shares: int
    collateral: int
    fee: int
    is_taker_aggregate: bool


@dataclass
class Emitted:
    logs: list[dict[str, Any]] = field(default_factory=list)
    fills: list[IntendedFill] = field(default_factory=list)


class _Chain:
    """Hands out block, transaction and log positions in time order."""

    def __init__(self, world: World) -> None:
        cfg = world.config
        self.seed = cfg.seed.to_bytes(8, "big")
        self.start = int(cfg.start_time.timestamp())
        self.first_block = cfg.first_block
        self.block = -1
        self.tx_index = 0
        self.log_index = 0
        self.txs = 0
        self.tx_hash = ""
        self.block_hash = ""
        self.prefix = b"orderflow.sim " + self.seed

    def _hash(self, label: bytes, n: int) -> str:
        return "0x" + hashlib.sha256(self.prefix + label + n.to_bytes(8, "big")).hexdigest()

    def new_tx(self, time: float) -> None:
        number = self.first_block + max(0, int(time) - self.start) // BLOCK_SECS
        if number != self.block:
            self.block, self.tx_index, self.log_index = number, 0, 0
            self.block_hash = self._hash(b"block", number)
        else:
            self.tx_index += 1
        self.txs += 1
        self.tx_hash = self._hash(b"tx", self.txs)

    def at(self) -> LogPosition:
        position = LogPosition(
            block_number=self.block,
            block_hash=self.block_hash,
            tx_hash=self.tx_hash,
            log_index=self.log_index,
            timestamp=self.start + (self.block - self.first_block) * BLOCK_SECS,
            tx_index=self.tx_index,
        )
        self.log_index += 1
        return position


def exchange_for(neg_risk: bool, version: ExchangeVersion) -> str:
    if version == "V1":
        return c.V1_NEG_RISK_CTF_EXCHANGE if neg_risk else c.V1_CTF_EXCHANGE
    return c.V2_NEG_RISK_CTF_EXCHANGE if neg_risk else c.V2_CTF_EXCHANGE


def emit(world: World, addresses: ChainAddresses = MAINNET) -> Emitted:
    """Encode the whole timeline."""
    version: ExchangeVersion = "V2" if world.config.exchange == "v2" else "V1"
    chain = _Chain(world)
    out = Emitted()
    for event in world.events:
        c_ = world.conditions[event.condition]
        chain.new_tx(event.time)
        if isinstance(event, Preparation):
            _prepare(out, chain, world, c_, version, addresses)
        elif isinstance(event, Resolution):
            out.logs.append(
                encode_condition_resolution(
                    at=chain.at(),
                    condition_id=c_.condition_id,
                    oracle=world.oracle_of(c_, addresses),
                    question_id=c_.question_id,
                    payout_numerators=list(c_.payouts),
                    ctf=addresses.ctf,
                )
            )
        elif isinstance(event, Split | Merge):
            _split_or_merge(out, chain, world, c_, event, addresses)
        elif isinstance(event, Conversion):
            _conversion(out, chain, world, event, addresses)
        else:
            _match(out, chain, c_, event, version)
    return out


def _split_or_merge(
    out: Emitted,
    chain: _Chain,
    world: World,
    cond: Condition,
    event: Split | Merge,
    addresses: ChainAddresses,
) -> None:
    """The CTF's PositionSplit / PositionsMerge; a neg-risk one goes through the adapter, which
    wraps the collateral first (the CTF sees the adapter and the wrapped collateral) and, with
    ``adapter_events``, logs its own event naming the wallet."""
    merge = isinstance(event, Merge)
    encode = encode_positions_merge if merge else encode_position_split
    out.logs.append(
        encode(
            at=chain.at(),
            stakeholder=addresses.neg_risk_adapter if cond.neg_risk else event.wallet,
            collateral=addresses.neg_risk_wrapped_collateral if cond.neg_risk else addresses.usdc_e,
            condition_id=cond.condition_id,
            amount=event.amount,
            ctf=addresses.ctf,
        )
    )
    if cond.neg_risk and world.config.adapter_events:
        out.logs.append(
            encode_adapter_split_or_merge(
                at=chain.at(),
                merge=merge,
                stakeholder=event.wallet,
                condition_id=cond.condition_id,
                amount=event.amount,
                adapter=addresses.neg_risk_adapter,
            )
        )


def _conversion(
    out: Emitted, chain: _Chain, world: World, event: Conversion, addresses: ChainAddresses
) -> None:
    """convertPositions: the adapter splits wrapped collateral on every leg whose YES the
    wallet receives (CTF PositionSplit, stakeholder the adapter), then logs PositionsConverted."""
    for leg in event.yes_legs:
        out.logs.append(
            encode_position_split(
                at=chain.at(),
                stakeholder=addresses.neg_risk_adapter,
                collateral=addresses.neg_risk_wrapped_collateral,
                condition_id=world.conditions[leg].condition_id,
                amount=event.amount,
                ctf=addresses.ctf,
            )
        )
    if world.config.adapter_events:
        out.logs.append(
            encode_positions_converted(
                at=chain.at(),
                stakeholder=event.wallet,
                market_id=event.market_id,
                index_set=event.index_set,
                amount=event.amount,
                adapter=addresses.neg_risk_adapter,
            )
        )


def _prepare(
    out: Emitted,
    chain: _Chain,
    world: World,
    cond: Condition,
    version: ExchangeVersion,
    addresses: ChainAddresses,
) -> None:
    out.logs.append(
        encode_condition_preparation(
            at=chain.at(),
            condition_id=cond.condition_id,
            oracle=world.oracle_of(cond, addresses),
            question_id=cond.question_id,
            outcome_slot_count=2,
            ctf=addresses.ctf,
        )
    )
    if version == "V1":
        exchange = exchange_for(cond.neg_risk, version)
        yes, no = cond.token_ids
        for token0, token1 in ((yes, no), (no, yes)):
            out.logs.append(
                encode_token_registered(
                    at=chain.at(),
                    token0=token0,
                    token1=token1,
                    condition_id=cond.condition_id,
                    exchange=exchange,
                )
            )


def _match(
    out: Emitted, chain: _Chain, cond: Condition, m: Match, version: ExchangeVersion
) -> None:
    exchange = exchange_for(cond.neg_risk, version)

    def fill(
        order_hash: str,
        maker: str,
        taker: str,
        side: Literal["BUY", "SELL"],
        outcome: int,
        shares: int,
        collateral: int,
        fee: int,
        aggregate: bool,
    ) -> None:
        at = chain.at()
        token = cond.token_ids[outcome]
        out.logs.append(
            encode_fill(
                version,
                at=at,
                order_hash=order_hash,
                maker=maker,
                taker=taker,
                side=side,
                token_id=token,
                shares=shares,
                collateral=collateral,
                fee=fee,
                exchange=exchange,
            )
        )
        out.fills.append(
            IntendedFill(
                at.tx_hash,
                at.log_index,
                exchange,
                version,
                order_hash,
                maker,
                taker,
                side,
                token,
                shares,
                collateral,
                fee,
                aggregate,
            )
        )

    for mk in m.makers:
        fill(mk.order_hash, mk.wallet, m.taker, mk.side, mk.outcome, mk.shares, mk.usdc, 0, False)
    fill(m.taker_order_hash, m.taker, exchange, m.side, m.outcome, m.shares, m.usdc, m.fee, True)
    out.logs.append(
        encode_match(
            version,
            at=chain.at(),
            taker_order_hash=m.taker_order_hash,
            taker_order_maker=m.taker,
            side=m.side,
            token_id=cond.token_ids[m.outcome],
            shares=m.shares,
            collateral=m.usdc,
            exchange=exchange,
        )
    )


def jsonl_lines(logs: list[dict[str, Any]]) -> Iterator[str]:
    for log in logs:
        yield json.dumps(log, separators=(",", ":")) + "\n"


def write_logs(logs: list[dict[str, Any]], path: Path) -> None:
    """One raw log object per line: what ``orderflow listen --from-file`` reads."""
    with path.open("w", encoding="utf-8") as fh:
        fh.writelines(jsonl_lines(logs))
