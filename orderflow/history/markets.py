"""Gamma ``/markets`` rows → the token registry and (exact) resolutions.

A row's ``clobTokenIds`` (in the order of ``outcomes``) are trusted only when they are the CTF
position ids of its ``conditionId`` (``orderflow.chain.tokens``): under the wrapped NegRisk
collateral when ``negRisk`` is true, under USDC.e otherwise (both are tried when the row does
not say). A row that disagrees is reported as a dead letter and nothing of it is stored.

A resolution is taken only from a closed market whose final ``outcomePrices`` are exactly 0 and
1 (one winner), one for each of its tokens (else the row is a dead letter, its verified tokens
stored all the same: three prices for two tokens named a winner the condition does not have),
and which says when it closed (``closedTime``: a time past datetime's range makes the row a dead
letter, its verified tokens stored all the same); it is stored with
``source = 'gamma'`` and replaced by the chain's ConditionResolution when the listener stores it
(a chain resolution is never replaced); Gamma's resolution is kept beside it (``gamma_*``), so a
reorg orphaning the chain's resolution gives the market back to Gamma's. Prices like 0.9995 or a
50/50 split are not guessed at. Gamma naming another winner than the chain's resolution (or a
winner where the chain split the payout), or than an earlier Gamma import's, is a
``Disagreement``: counted, reported and warned about by the import; the stored resolution
stands.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import asyncpg

from orderflow.chain.contracts import ChainAddresses
from orderflow.chain.dead_letters import insert_dead_letters
from orderflow.chain.events import DeadLetter
from orderflow.chain.store_sql import WRITER_LOCK
from orderflow.chain.store_tokens import write_tokens
from orderflow.chain.tokens import TokenInfo, ctf_tokens
from orderflow.history.dead import dead_row
from orderflow.history.layouts import map_columns
from orderflow.history.row_batches import Row
from orderflow.history.rows import MAX_SECONDS, RowError, address, hash32, timestamp, uint

# A new market gets Gamma's resolution (source 'gamma'); on a market the chain has resolved,
# Gamma's resolution is only noted (the gamma_* columns, migration 036: what a reorg orphaning
# the chain's resolution hands the market back to) and the row stays the chain's. The first
# resolution Gamma gave a market stays. ``inserted`` (xmax = 0) tells new resolutions apart.
INSERT_GAMMA_OUTCOMES = """
INSERT INTO orderflow_market_outcomes (
    market_id, oracle, question_id, outcome_slot_count, payout_numerators, payouts,
    winning_outcome, resolved_at, chain_id, source,
    gamma_oracle, gamma_question_id, gamma_payouts, gamma_resolved_at)
SELECT o.market_id, o.oracle, o.question_id, o.slots, o.numerators::numeric[],
       o.numerators::numeric[], o.winner, to_timestamp(o.ts), $1, 'gamma',
       o.oracle, o.question_id, o.numerators::numeric[], to_timestamp(o.ts)
  FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::int[],
              $8::bigint[]) AS o(market_id, oracle, question_id, slots, numerators, winner, ts)
ON CONFLICT (market_id) DO UPDATE
   SET gamma_oracle = EXCLUDED.gamma_oracle, gamma_question_id = EXCLUDED.gamma_question_id,
       gamma_payouts = EXCLUDED.gamma_payouts, gamma_resolved_at = EXCLUDED.gamma_resolved_at
 WHERE orderflow_market_outcomes.gamma_payouts IS NULL
RETURNING xmax = 0 AS inserted
"""

# The stored resolutions Gamma's (of this batch) name another winner for, before they are
# noted: the chain's (a split payout, winning_outcome NULL, disagrees with any single winner)
# and an earlier Gamma import's (a 'gamma' row's winner is Gamma's first).
DISAGREEING = """
SELECT o.market_id, o.winning_outcome, g.winner, o.source
  FROM unnest($1::text[], $2::int[]) AS g(market_id, winner)
  JOIN orderflow_market_outcomes o ON o.market_id = g.market_id
 WHERE o.winning_outcome IS DISTINCT FROM g.winner
 ORDER BY o.market_id
"""


@dataclass(slots=True)
class Resolution:
    condition_id: str
    oracle: str | None
    question_id: str | None
    prices: tuple[int, ...]
    resolved_at: int

    @property
    def winner(self) -> int:
        return self.prices.index(1)


@dataclass(frozen=True, slots=True)
class Disagreement:
    """Gamma's winner of a market the chain, or an earlier Gamma row (``source`` 'gamma'),
    resolved otherwise: the stored resolution stands (the first Gamma gave stays)."""

    market_id: str
    chain_winner: int | None  # the stored winner; None: the chain split the payout
    gamma_winner: int
    source: str = "chain"

    def __str__(self) -> str:
        if self.source == "gamma":
            return (
                f"{self.market_id} (earlier Gamma: outcome {self.chain_winner}, this file: "
                f"outcome {self.gamma_winner})"
            )
        chain = "split" if self.chain_winner is None else f"outcome {self.chain_winner}"
        return f"{self.market_id} (chain: {chain}, Gamma: outcome {self.gamma_winner})"


@dataclass(slots=True)
class MarketsStored:
    """What ``store_markets`` stored of one batch."""

    tokens: int = 0  # new registry rows
    trades_joined: int = 0  # older trades that got their market
    resolutions: int = 0  # new resolutions (source 'gamma')
    disagreements: list[Disagreement] = field(default_factory=list)


@dataclass(slots=True)
class MarketBatch:
    tokens: list[TokenInfo] = field(default_factory=list)
    resolutions: list[Resolution] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    markets: int = 0
    skipped: int = 0  # rows without CLOB tokens (AMM-era markets) or not yet tradeable


def _list(value: object, name: str) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        try:
            parsed = json.loads(text)
        except ValueError:
            raise RowError(f"{name} is not a JSON list: {text[:80]!r}") from None
        if isinstance(parsed, list):
            return parsed
    if value is None:
        return []
    raise RowError(f"{name} is not a list: {str(value)[:80]!r}")


def _flag(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    if isinstance(value, int):
        return bool(value)
    return None


def _exact_prices(values: list[Any]) -> tuple[int, ...] | None:
    """(0, 1, …) when every final price is exactly 0 or 1 and exactly one is 1."""
    out: list[int] = []
    for v in values:
        try:
            d = Decimal(str(v).strip())
        except InvalidOperation:
            return None
        if not d.is_finite() or d not in (0, 1):  # comparing a signalling NaN raises
            return None
        out.append(int(d))
    return tuple(out) if out.count(1) == 1 else None


class MarketRows:
    """Verifies one file's Gamma rows (one instance per file)."""

    def __init__(self, source: str, unit: str, chain_id: int, addresses: ChainAddresses) -> None:
        self.source = source
        self.unit = unit
        self.chain_id = chain_id
        self.addresses = addresses
        self._columns: dict[tuple[str, ...], dict[str, str]] = {}

    def _fields(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """canonical field -> this row's value, from the row's own keys: an API's objects (a
        Gamma reply, JSON lines) leave out what they have no value for (an open market has no
        ``closedTime``), so the first row's keys are not the file's columns (a CSV row has the
        header's). Rows with the same keys share their mapping."""
        keys = tuple(values)
        columns = self._columns.get(keys)
        if columns is None:
            if len(self._columns) >= 1024:  # bounded whatever the file
                self._columns.clear()
            columns = self._columns[keys] = map_columns(keys)
        return {canonical: values[column] for canonical, column in columns.items()}

    def _dead(self, row: Row, reason: str) -> DeadLetter:
        return dead_row(
            self.source, self.unit, row.number, reason, self.chain_id, values=row.values
        )

    def parse(self, rows: Sequence[Row]) -> MarketBatch:
        out = MarketBatch()
        for row in rows:
            try:
                self._row(row, out)
            except RowError as exc:
                out.dead.append(self._dead(row, str(exc)))
        return out

    def _row(self, row: Row, out: MarketBatch) -> None:
        v = self._fields(row.values)
        ids = _list(v.get("clob_token_ids"), "clobTokenIds")
        tokens = [uint(t, "clobTokenIds entry") for t in ids]
        if not tokens:
            out.skipped += 1
            return
        condition = hash32(v.get("condition_id"), "conditionId")
        outcomes = _list(v.get("outcomes"), "outcomes")
        if outcomes and len(outcomes) != len(tokens):
            raise RowError(f"{len(outcomes)} outcomes but {len(tokens)} clobTokenIds")
        if len(tokens) < 2:
            raise RowError(f"{len(tokens)} clobTokenIds: a condition has at least 2 outcomes")
        neg_risk = _flag(v.get("neg_risk"))
        infos = self._verified(condition, tokens, neg_risk)
        out.tokens.extend(infos)
        out.markets += 1
        resolution = self._resolution(v, condition, len(tokens))
        if resolution is not None:
            out.resolutions.append(resolution)

    def _verified(
        self, condition: str, tokens: list[int], neg_risk: bool | None
    ) -> tuple[TokenInfo, ...]:
        tried = (neg_risk,) if neg_risk is not None else (False, True)
        for nr in tried:
            infos = ctf_tokens(
                condition, len(tokens), neg_risk=nr, source="gamma", addresses=self.addresses
            )
            if [t.token_id for t in infos] == tokens:
                return infos
        expected = ctf_tokens(
            condition,
            len(tokens),
            neg_risk=bool(neg_risk),
            source="gamma",
            addresses=self.addresses,
        )
        ids = [t.token_id for t in expected]
        how = (
            "in the other order"
            if sorted(ids) == sorted(tokens)
            else f"expected {[str(i) for i in ids]}"
        )
        raise RowError(
            f"clobTokenIds do not match the CTF position ids of condition {condition} "
            f"(negRisk={neg_risk}): {how}; not stored"
        )

    def _resolution(self, v: Mapping[str, Any], condition: str, slots: int) -> Resolution | None:
        closed = _flag(v.get("closed"))
        if closed is False or "outcome_prices" not in v:
            return None
        prices = _exact_prices(_list(v.get("outcome_prices"), "outcomePrices"))
        if prices is None:
            return None
        try:
            when = timestamp(v.get("closed_time"))
        except RowError as exc:  # the row's tokens stay (verified); a dead letter
            raise RowError(f"closedTime: {exc}: resolution not stored") from None
        if when is None:
            return None  # no time: a resolution at an invented time would leak look-ahead
        if len(prices) != slots:  # a winner the condition lacks, or payouts for some outcomes
            raise RowError(
                f"{len(prices)} outcomePrices for {slots} clobTokenIds: resolution not stored"
            )
        if not 0 <= when <= MAX_SECONDS:  # the row's tokens stay (verified); a dead letter
            raise RowError(f"closedTime {when} is not a valid time: resolution not stored")
        oracle_raw, question_raw = v.get("resolved_by"), v.get("question_id")
        try:
            oracle = address(oracle_raw, "resolvedBy") if oracle_raw else None
        except RowError:
            oracle = None
        try:
            question = hash32(question_raw, "questionID") if question_raw else None
        except RowError:
            question = None
        return Resolution(condition, oracle, question, prices, when)


async def store_markets(
    conn: asyncpg.Connection, chain_id: int, batch: MarketBatch
) -> MarketsStored:
    """New tokens, trades that got their market, new gamma resolutions, and where Gamma names
    another winner than the chain's resolution; and the batch's dead letters.

    One transaction under the ledger's writer lock, like the listener's ``store_batch`` and
    ``rollback_from``: a rollback never runs between the batch's tokens and its resolutions, nor
    beside them (one that had read the outcomes before Gamma's note on a chain resolution and
    deleted them after would lose the note, and the market). The dead letters are in it too:
    a failure or a crash stores all of the batch or none of it (before, they were committed
    after the rows, in a transaction of their own).
    """
    out = MarketsStored()
    if not batch.tokens and not batch.resolutions and not batch.dead:
        return out
    async with conn.transaction():
        await conn.execute(WRITER_LOCK)
        out.tokens, out.trades_joined = await write_tokens(conn, batch.tokens)
        await _write_resolutions(conn, chain_id, batch.resolutions, out)
        if batch.dead:
            await insert_dead_letters(conn, chain_id, batch.dead)
    return out


async def _write_resolutions(
    conn: asyncpg.Connection,
    chain_id: int,
    resolutions: Sequence[Resolution],
    out: MarketsStored,
) -> None:
    """New gamma resolutions (the others are noted on the chain's) and disagreements with the
    chain, into ``out``; in the caller's transaction."""
    if resolutions:
        # A market listed twice in one batch: its first resolution (the first Gamma gave stays;
        # ON CONFLICT DO UPDATE refuses a row touched twice in one statement).
        first: dict[str, Resolution] = {}
        twice: list[Disagreement] = []
        for r in resolutions:
            kept = first.setdefault(r.condition_id, r)
            if kept.winner != r.winner:
                twice.append(Disagreement(r.condition_id, kept.winner, r.winner, "gamma"))
        rs = list(first.values())
        disagreeing = await conn.fetch(
            DISAGREEING, [r.condition_id for r in rs], [r.winner for r in rs]
        )
        out.disagreements = [Disagreement(r[0], r[1], r[2], r[3]) for r in disagreeing] + twice
        rows = await conn.fetch(
            INSERT_GAMMA_OUTCOMES,
            chain_id,
            [r.condition_id for r in rs],
            [r.oracle for r in rs],
            [r.question_id for r in rs],
            [len(r.prices) for r in rs],
            ["{" + ",".join(str(p) for p in r.prices) + "}" for r in rs],
            [r.winner for r in rs],
            [r.resolved_at for r in rs],
        )
        out.resolutions = sum(1 for r in rows if r[0])  # others: noted on a chain resolution
