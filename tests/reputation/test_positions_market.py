"""One join for a position's market gives the rows of the three joins it replaced, to the bit.

``positions_sql`` reads a position's event, resolution, payouts text, market problem and payout
from one per-market relation (``markets``: the gated outcomes and ``orderflow_conditions``); the
statement before it joined ``payouts`` per (market, outcome), ``markets`` and the conditions
(frozen: :func:`tests.reputation.positions_reference.old_positions`). Both run on data with every
branch, in every variant (trade scan, stored sums, a wallet subset, the light columns) and at two
cut-offs, and must make the same ``rep_positions``: same columns, types and collations, same rows.
Three broken variants of the new statement (the payout read at ``outcome_index`` instead of
``outcome_index + 1``; the payouts not renumbered from 1; every condition's question id taken for
an event, not only a neg-risk one's) must differ, so the comparison bites.
"""

from __future__ import annotations

import struct
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from orderflow.reputation.positions_sql import positions
from tests.reputation.builders import ORACLE, T0, Ledger, h, market
from tests.reputation.positions_reference import old_positions as _frozen


def old_positions(*, stored: bool = False, only: str = "", light: bool = False) -> str:
    """The frozen statement with the columns added since (``net_u``, the round trips' shares
    bought less sold: the same sums, a new difference; the gross amounts ``exited``,
    ``exit_price`` and ``short`` are made of, which WALLETS' adj adjusts; the light variant has
    no such column)."""
    sql = _frozen(stored=stored, only=only, light=light)
    if light:
        return sql
    old = "       v.bought_gross_u + v.sold_gross_u AS shares_u,\n"
    assert sql.count(old) == 1
    sql = sql.replace(old, old + "       v.bought_gross_u - v.sold_gross_u AS net_u,\n")
    old = "ELSE 0.0 END AS short_price,\n"
    assert sql.count(old) == 1
    return sql.replace(old, old + "       v.bought_gross_u, v.sold_gross_u, v.received_gross_u,\n")


DAY = timedelta(days=1)
# a cut-off before some fills and resolutions (as_of), and one after everything (the present)
EARLY = T0 + 3 * DAY
LATE = T0 + 30 * DAY
UNKNOWN_TOKEN = 999_001
TOKEN_ONLY = 999_002  # its market comes only from orderflow_tokens (market 8, outcome 1)

# market -> payouts stored as given (no normalisation: the bad vectors), resolved at day 2
_RAW_PAYOUTS = {
    3: "{0.6,0.6}",  # sum != 1
    4: "{1.2,-0.2}",  # a negative
    5: "{1,NULL}",  # a NULL element
    13: "[0:1]={0,1}",  # lower bound 0: outcome 0 is the first element
    14: "{{0,1},{0,0}}",  # two dimensions: read flattened
    15: "{}",  # no outcomes: ZERO_PAYOUT
}
# market -> (neg_risk, question_id); markets 9 and 10 are legs of one neg-risk event
_CONDITIONS = {
    2: (False, h(202)),
    6: (False, h(206)),
    8: (True, "0x" + "ab" * 31 + "03"),
    9: (True, "0x" + "cd" * 31 + "00"),
    10: (True, "0x" + "cd" * 31 + "01"),
    11: (False, h(211)),
    12: (False, h(212)),
    20: (True, "0x" + "ef" * 31 + "02"),  # a condition no position names
}
_COLUMNS = """SELECT attname, atttypid::regtype::text, atttypmod, attcollation
  FROM pg_attribute WHERE attrelid = 'rep_positions'::regclass AND attnum > 0
 ORDER BY attnum"""


async def _world(pool: asyncpg.Pool) -> None:
    led = Ledger()
    n = 0

    def fills(market_no: int | None, outcome: int | None, *, token_id: int | None = None) -> None:
        # a few wallets per token: held, sold out, sold more than bought, a late fill
        nonlocal n
        for who, side, shares, price, day in (
            (1, "BUY", "100", "0.40", 0),
            (1, "SELL", "30", "0.55", 1),
            (2, "BUY", "10.5", "0.30", 1),
            (2, "SELL", "10.5", "0.35", 1),
            (3, "SELL", "7.25", "0.61", 1),
            (3, "BUY", "2", "0.62", 5),  # after EARLY
        ):
            n += 1
            led.trade(
                who + 10 * (n % 2),
                side,
                shares,
                price,
                market_no=market_no,
                outcome=outcome,
                token_id=token_id,
                at=day * DAY + timedelta(minutes=n),
                fee="0.25" if n % 3 == 0 else "0",
                fee_asset="SHARES" if n % 6 == 0 else "COLLATERAL",
                taker_aggregate=n % 4 == 0,
            )

    for market_no in range(1, 16):
        for outcome in (0, 1):
            fills(market_no, outcome)
    fills(7, 2, token_id=72)  # beyond the two payouts: BAD_PAYOUT
    fills(7, -1, token_id=79)  # a negative index: BAD_PAYOUT
    fills(None, None, token_id=UNKNOWN_TOKEN)
    fills(None, None, token_id=TOKEN_ONLY)
    led.register_token(TOKEN_ONLY, 8, 1)
    # resolutions: 1 (no conditions row), 6 zero, 7, 8, 9 and 11 at day 2; 12 at day 5
    # (after EARLY); 2 and 10 never
    for market_no, payouts in ((1, ["1", "0"]), (6, ["0", "0"]), (7, ["0", "1"])):
        led.resolve(market_no, payouts, 2 * DAY)
    for market_no in (8, 9, 11):
        led.resolve(market_no, ["1", "3"], 2 * DAY)
    led.resolve(12, ["1", "0"], 5 * DAY)
    led.resolve(30, ["1", "0"], 2 * DAY)  # an outcome no position names
    await led.flush(pool)
    await pool.executemany(
        """INSERT INTO orderflow_market_outcomes (market_id, oracle, question_id,
           outcome_slot_count, payout_numerators, payouts, winning_outcome, resolved_at,
           chain_id, block_number, block_hash, tx_hash, log_index)
           VALUES ($1, $2, $3, 2, $4::text::numeric[], $4::text::numeric[], NULL, $5, 137,
                   $6, $7, $8, $9)""",
        [
            (market(m), ORACLE, h(300 + m), raw, T0 + 2 * DAY, 3000 + m, h(400 + m), h(500 + m), m)
            for m, raw in _RAW_PAYOUTS.items()
        ],
    )
    await pool.executemany(
        """INSERT INTO orderflow_conditions (condition_id, oracle, question_id,
           outcome_slot_count, neg_risk, chain_id, block_number, tx_hash, log_index)
           VALUES ($1, $2, $3, 2, $4, 137, $5, $6, $7)""",
        [
            (market(m), ORACLE, q, neg, 100 + m, h(600 + m), m)
            for m, (neg, q) in _CONDITIONS.items()
        ],
    )


def _variants(wallets: list[str]) -> dict[str, dict[str, Any]]:
    some = f"a.wallet_address IN ('{wallets[0]}', '{wallets[-1]}')"
    tokens = f"a.token_id IN (10, 21, 72, 79, {UNKNOWN_TOKEN}, {TOKEN_ONLY}, 91, 101, 120, 130)"
    return {
        "scan": {},
        "scan light": {"light": True},
        "stored": {"stored": True},
        "stored, some wallets": {"stored": True, "only": some},
        "stored light, some tokens": {"stored": True, "only": tokens, "light": True},
    }


def _bits(value: Any) -> Any:
    return struct.pack("<d", value) if isinstance(value, float) else value


async def _table(
    conn: asyncpg.Connection, sql: str, as_of: datetime, tag: str
) -> tuple[list[tuple[Any, ...]], list[asyncpg.Record], list[tuple[Any, ...]]]:
    """(columns, records, rows with floats as bits) of ``rep_positions`` made by ``sql`` at
    ``as_of`` (dropped on commit). ``tag`` makes the read's text new: a cached statement keeps
    the table's columns it was planned against, and the variants' columns differ."""
    async with conn.transaction():
        await conn.execute(sql, as_of)
        columns = [tuple(r) for r in await conn.fetch(_COLUMNS)]
        records = await conn.fetch(
            f"SELECT * FROM rep_positions ORDER BY wallet_address, token_id -- {tag}"
        )
    return columns, records, [tuple(_bits(v) for v in r.values()) for r in records]


async def test_one_market_join_gives_the_old_rows(pool: asyncpg.Pool) -> None:
    await _world(pool)
    wallets = [
        r[0]
        for r in await pool.fetch(
            "SELECT DISTINCT wallet_address FROM orderflow_position_sums ORDER BY 1"
        )
    ]
    seen: dict[str, set[Any]] = {"problem": set(), "event": set(), "payout": set(), "12": set()}
    async with pool.acquire() as conn:
        for as_of in (EARLY, LATE):
            for name, kwargs in _variants(wallets).items():
                tag = f"{name} {as_of}"
                columns, records, new = await _table(conn, positions(**kwargs), as_of, tag)
                old_columns, _, old = await _table(conn, old_positions(**kwargs), as_of, tag)
                assert columns == old_columns, name
                assert len(new) >= 10, name
                assert new == old, (name, as_of)
                if kwargs.get("light"):
                    continue
                for row in records:
                    seen["problem"].add(row["problem"])
                    seen["event"].add(
                        "none" if row["event_id"] is None
                        else "own" if row["event_id"] == row["market_id"]
                        else "neg-risk"
                    )  # fmt: skip
                    seen["payout"].add(row["payout_f"])
                    if row["market_id"] == market(12):
                        seen["12"].add((as_of, row["resolved_at"] is not None))
    # every branch was taken: the four problem codes, events of their own and neg-risk events,
    # payouts 0, 1, 0.25 and 0.75 (markets 8 and 9's 1:3)
    assert seen["problem"] == {None, "UNKNOWN_TOKEN", "BAD_PAYOUT", "ZERO_PAYOUT"}
    assert seen["event"] == {"none", "own", "neg-risk"}
    assert {0.0, 1.0, 0.25, 0.75, None} <= seen["payout"]
    # market 12, resolved after EARLY, is open at EARLY (the as_of gate)
    assert seen["12"] == {(EARLY, False), (LATE, True)}


async def test_the_comparison_bites(pool: asyncpg.Pool) -> None:
    """The payout read one element off, or from the payouts as stored (a lower bound of 0), or
    every condition's question id taken for an event: other rows."""
    await _world(pool)
    sql = positions(stored=True)
    off_by_one = sql.replace("m.payouts[l.outcome_index + 1]", "m.payouts[l.outcome_index]")
    as_stored = sql.replace("array_agg(u.x ORDER BY u.i) AS payouts", "g.payouts AS payouts")
    every_event = sql.replace("WHERE c.neg_risk", "WHERE true")
    async with pool.acquire() as conn:
        *_, old = await _table(conn, old_positions(stored=True), LATE, "old")
        broken_ones = {"off by one": off_by_one, "as stored": as_stored, "events": every_event}
        for tag, broken in broken_ones.items():
            assert broken != sql
            *_, rows = await _table(conn, broken, LATE, tag)
            assert len(rows) == len(old) and rows != old
        # the array renumbered from 1 and flattened is what markets 13 and 14's positions need
        *_, new = await _table(conn, sql, LATE, "new")
        *_, stored = await _table(conn, as_stored, LATE, "as stored")
        differ = {a[1] for a, b in zip(new, stored, strict=True) if a != b}
        assert differ == {Decimal(t) for t in (130, 131, 140, 141)}
