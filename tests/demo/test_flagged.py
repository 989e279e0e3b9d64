"""The report's flagged-wallet section: the reputation run's columns, the hidden style beside."""

from __future__ import annotations

import asyncpg

from orderflow.demo.sections import FLAGGED_HEAD, flagged_rows
from orderflow.demo.store import flagged_wallets
from orderflow.demo.text import flagged_lines
from orderflow.sim import SimConfig, simulate, truth_of

_ROW = """
INSERT INTO orderflow_wallet_stats (wallet_address, reputation_score, trader_tier, edge, edge_se,
    flags, p_edge_above_cost, p_edge_below_zero, events_resolved, clv_edge, maker_volume_share)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
"""


async def test_flagged_wallets_are_listed_with_their_hidden_style(pool: asyncpg.Pool) -> None:
    truth = truth_of(simulate(SimConfig.small(seed=3, days=1.0)))
    maker = next(w for w in truth.wallets if w.style == "market_maker")
    retail = next(w for w in truth.wallets if w.style == "retail")
    plain = next(w for w in truth.wallets if w.truly_skilled)
    await pool.execute(
        _ROW, maker.address, 6.5, "AVERAGE", -0.01, 0.02, ["MARKET_MAKER"], 0.1, 0.6, 40, 0.0, 0.97
    )
    await pool.execute(
        _ROW,
        retail.address,
        7.5,
        "AVERAGE",
        0.3,
        0.1,
        ["WASH", "PENNY_PICKER"],
        0.9,
        0.01,
        3,
        None,
        0.0,
    )
    await pool.execute(_ROW, plain.address, 9.0, "WHALE", 0.1, 0.02, [], 0.99, 0.0, 30, 0.05, 0.1)
    async with pool.acquire() as conn:
        flagged = await flagged_wallets(conn)
    assert [w.address for w in flagged] == [retail.address, maker.address]  # by score; no plain
    assert flagged[0].flags == ("WASH", "PENNY_PICKER") and flagged[1].events_resolved == 40
    rows = flagged_rows(flagged, truth)
    col = {name: i for i, name in enumerate(FLAGGED_HEAD)}
    assert [r[col["flags"]] for r in rows] == ["WASH,PENNY_PICKER", "MARKET_MAKER"]
    assert [r[col["hidden style"]] for r in rows] == ["retail", "market_maker"]
    assert rows[1][col["maker share"]] == "0.97" and rows[0][col["CLV"]] == "-"
    assert rows[0][col["P(edge > cost)"]] == "0.90"
    assert rows[1][col["hidden skill"]] == f"{maker.skill:.2f}"
    assert rows[1][col["wash ring"]] == "-"


_FACTORS_ROW = """
INSERT INTO orderflow_wallet_stats (wallet_address, reputation_score, trader_tier, edge, edge_se,
    flags, events_resolved, factors_stored)
VALUES ($1, $2, 'AVERAGE', -0.075, 0.031, $3, 12, $4)
"""


async def test_flagged_wallets_show_the_measured_edge(pool: asyncpg.Pool) -> None:
    """The flagged table reads the stored row's factors JSON (orderflow_factors: the figures as
    read, or the stored JSON of a row without them)."""
    truth = truth_of(simulate(SimConfig.small(seed=3, days=1.0)))
    maker, washer = truth.wallets[0].address, truth.wallets[1].address
    factors = {"posterior": {"edge": -0.075, "sd": 0.031, "measured": 0.21, "measured_se": 0.09}}
    await pool.execute(_FACTORS_ROW, maker, 6.0, ["MARKET_MAKER"], factors)
    await pool.execute(_FACTORS_ROW, washer, 5.0, ["WASH"], None)
    async with pool.acquire() as conn:
        flagged = await flagged_wallets(conn)
    rows = flagged_rows(flagged, truth)
    col = {name: i for i, name in enumerate(FLAGGED_HEAD)}
    edges = ["posterior edge", "posterior sd", "measured edge", "measured se"]
    assert [rows[0][col[c]] for c in edges] == ["-0.075", "0.031", "+0.210", "0.090"]
    assert [rows[1][col[c]] for c in edges] == ["-0.075", "0.031", "-", "-"]
    _title, head, maker_line, washer_line = flagged_lines(flagged, truth)
    assert "-0.075 ±0.031  +0.210 ±0.090" in maker_line
    assert washer_line.count("±") == 1  # no measured edge: "-", no spread
    assert " score posterior ± sd measured ± se " in head  # titles apart
    at = head.index("measured ± se")
    assert at <= maker_line.index("+0.210") < at + len("measured ± se")  # under its title
    assert head.index("posterior ± sd") <= maker_line.index("-0.075")
