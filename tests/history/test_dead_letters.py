"""Bad rows become dead letters with the file, the line and the reason; the rest is imported."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import asyncpg
import pytest

from orderflow.history import import_file
from orderflow.history.errors import HistoryError
from tests.history import dumps as d
from tests.history.test_exactly_once import sim_logs
from tests.history.test_markets import BTC, BTC_IDS, NEG, NEG_IDS, USDC, USDC_IDS, gamma


async def test_bad_rows_are_dead_letters_and_the_rest_is_imported(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    logs = sim_logs("v1", seed=21)
    fills = [d.dune_row(f) for f in d.fills_of(logs)]
    assert len(fills) > 10
    fills[2]["makerAmountFilled"] = "12.5"  # line 4: not a whole number
    fills[4]["maker"] = ""  # line 6: missing
    fills[6]["contract_address"] = "0x" + "11" * 20  # line 8: not a Polymarket exchange
    fills[8]["takerAssetId"] = fills[8]["makerAssetId"] = "7"  # line 10: the decoder refuses
    await import_file(pool, d.write_csv(tmp_path / "blocks.csv", d.blocks_of(logs)), chain_id=137)
    report = await import_file(
        pool, d.write_csv(tmp_path / "fills.csv", fills), chain_id=137, batch_size=3
    )

    assert report.dead_letters == 4
    assert report.stored.trades == len(fills) - 4
    letters = await pool.fetch(
        "SELECT reason, raw, tx_hash, log_index FROM orderflow_dead_letters ORDER BY reason"
    )
    reasons = [r["reason"] for r in letters]
    assert reasons == [
        "fills.csv line 10: OrderFilled (V1) needs exactly one asset id = 0 (collateral), got "
        "makerAssetId=7 takerAssetId=7",
        "fills.csv line 4: maker amount is not a whole number: '12.5'",
        "fills.csv line 6: maker is missing",
        f"fills.csv line 8: unknown exchange 0x{'11' * 20} (not a watched Polymarket exchange)",
    ]
    raw = letters[2]["raw"]
    raw = json.loads(raw) if isinstance(raw, str) else raw
    assert (raw["file"], raw["line"], raw["row"]["maker"]) == ("fills.csv", 6, "")
    assert letters[2]["tx_hash"] == fills[4]["evt_tx_hash"]
    assert letters[2]["log_index"] == int(fills[4]["evt_index"])
    # Importing the file again stores nothing twice and counts the dead letters as seen again.
    again = await import_file(pool, tmp_path / "fills.csv", chain_id=137)
    assert (again.stored.trades, again.dead_letters) == (0, 4)
    assert await pool.fetchval("SELECT sum(times_seen) FROM orderflow_dead_letters") == 8


async def test_malformed_json_lines_are_dead_letters(pool: asyncpg.Pool, tmp_path: Path) -> None:
    logs = sim_logs("v2", seed=22)
    rows = [json.dumps(d.camel_row(f)) for f in d.fills_of(logs)]
    rows.insert(1, "{not json")
    rows.insert(3, "[1, 2]")
    path = tmp_path / "fills.jsonl"
    path.write_text("\n".join(rows) + "\n")
    report = await import_file(pool, path, chain_id=137)
    assert report.dead_letters == 2
    reasons = sorted(r[0] for r in await pool.fetch("SELECT reason FROM orderflow_dead_letters"))
    assert reasons[0].startswith("fills.jsonl line 2: not JSON")
    assert reasons[1] == "fills.jsonl line 4: a JSON list, not a row"


async def test_a_blocks_file_never_replaces_a_known_block(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    logs = sim_logs("v1", seed=23)
    blocks = d.blocks_of(logs)
    first = await import_file(pool, d.write_csv(tmp_path / "b1.csv", blocks), chain_id=137)
    assert first.blocks == len(blocks)
    changed = [dict(b) for b in blocks]
    changed[1]["block_hash"] = "0x" + "ee" * 32  # line 3
    changed.append({"block_number": 1, "block_hash": "0x" + "ab" * 32, "timestamp": 1})
    again = await import_file(pool, d.write_csv(tmp_path / "b2.csv", changed), chain_id=137)
    assert (again.blocks, again.dead_letters) == (1, 1)
    reason = await pool.fetchval("SELECT reason FROM orderflow_dead_letters")
    assert reason.startswith(f"b2.csv line 3: block {blocks[1]['block_number']}: the file says")
    kept = await pool.fetchval(
        "SELECT block_hash FROM orderflow_blocks WHERE block_number = $1", blocks[1]["block_number"]
    )
    assert kept == blocks[1]["block_hash"]


def cut_gzip(data: bytes, cut: int) -> bytes:
    """``data`` gzip'd, the stream breaking off after its first ``cut`` bytes (a download cut
    short: no end-of-stream marker, no trailer)."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    return z.compress(data[:cut]) + z.flush(zlib.Z_SYNC_FLUSH)


@pytest.mark.parametrize("name", ["markets.csv.gz", "markets.json.gz"])
async def test_a_gzip_file_cut_short_keeps_its_whole_rows_and_refuses_the_cut_one(
    pool: asyncpg.Pool, tmp_path: Path, name: str
) -> None:
    """The cut falls in the last market's closedTime, after "2025-12-31": in CSV that reads as a
    whole row (a resolution 17 hours early), so the cut row is a dead letter, never a row."""
    resolved = {"closed": True, "outcomePrices": '["1", "0"]'}
    rows = [
        gamma(BTC, BTC_IDS, **resolved, closedTime="2025-12-30 10:00:00+00"),
        gamma(USDC, USDC_IDS, **resolved, closedTime="2025-12-30 11:00:00+00"),
        gamma(NEG, NEG_IDS, **resolved, negRisk=True, closedTime="2025-12-31 17:20:05+00"),
    ]
    whole = tmp_path / f"whole-{name}"
    if name.endswith(".csv.gz"):
        d.write_csv(whole, rows, columns=[k for k in rows[0] if k != "closedTime"] + ["closedTime"])
        cut_row = f"{name} line 4"
    else:
        whole.write_bytes(gzip.compress(json.dumps(rows).encode()))
        cut_row = f"{name} row 3"
    data = gzip.decompress(whole.read_bytes())
    path = tmp_path / name
    path.write_bytes(cut_gzip(data, data.rindex(b"2025-12-31") + len("2025-12-31")))

    with pytest.raises(HistoryError, match=f"^{name}: the compressed file breaks off"):
        await import_file(pool, path, chain_id=137, batch_size=10)
    # Every whole row before the cut is stored (in the batch the cut ended too); the cut one
    # is a dead letter with its file and line.
    outcomes = await pool.fetch("SELECT market_id, resolved_at FROM orderflow_market_outcomes")
    assert {r["market_id"] for r in outcomes} == {BTC, USDC}
    assert await pool.fetchval("SELECT count(*) FROM orderflow_tokens") == 4
    reasons = [r[0] for r in await pool.fetch("SELECT reason FROM orderflow_dead_letters")]
    assert len(reasons) == 1 and reasons[0].startswith(f"{cut_row}: "), reasons

    # The whole file afterwards: the rest, nothing twice.
    path.write_bytes(whole.read_bytes())
    report = await import_file(pool, path, chain_id=137)
    assert (report.tokens, report.gamma_resolutions, report.dead_letters) == (2, 1, 0)
    neg = await pool.fetchval(
        "SELECT resolved_at FROM orderflow_market_outcomes WHERE market_id = $1", NEG
    )
    assert neg.isoformat() == "2025-12-31T17:20:05+00:00"


@pytest.mark.parametrize("name", ["markets.json", "markets.parquet", "markets.csv"])
async def test_a_dead_letter_names_its_row_in_columns_of_its_own(
    pool: asyncpg.Pool, tmp_path: Path, name: str
) -> None:
    """Before, a row-numbered file's (a JSON array's, a Parquet file's) dead letter had its row
    number only in the reason: ``raw["row"]`` was overwritten by the row's values, so two
    identical bad rows were one dead letter (seen twice) and only one of them could be found."""
    bad = gamma("0x12", BTC_IDS)  # not a condition id
    rows = [gamma(BTC, BTC_IDS), bad, gamma(USDC, USDC_IDS), bad]
    path = tmp_path / name
    if name.endswith(".json"):
        d.write_json_array(path, rows)
    elif name.endswith(".parquet"):
        d.write_parquet(path, rows)
    else:
        d.write_csv(path, rows)
    report = await import_file(pool, path, chain_id=137)
    assert report.dead_letters == 2

    unit, first = ("line", 3) if name.endswith(".csv") else ("row", 2)  # the header is line 1
    letters = await pool.fetch(
        "SELECT source_file, source_line, reason, raw, times_seen FROM orderflow_dead_letters"
        " ORDER BY source_line"
    )
    assert [(r["source_file"], r["source_line"], r["times_seen"]) for r in letters] == [
        (name, first, 1),
        (name, first + 2, 1),
    ]
    assert letters[0]["reason"].startswith(f"{name} {unit} {first}: conditionId")
    raw = letters[0]["raw"]
    raw = json.loads(raw) if isinstance(raw, str) else raw
    assert raw["file"] == name and raw["row"]["conditionId"] == "0x12"  # as read before


async def test_a_dead_letter_the_writer_makes_names_its_file_and_line(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """A raw log without blockTimestamp whose block nobody knows (line 3) becomes a dead letter
    when the batch is stored, far from its line; it names its file and line as every other bad
    row's does. On main: source_file NULL and a reason without 'logs.jsonl line 3:'."""
    logs = [g for g in sim_logs("v2", seed=23) if len(g["data"]) == 2 + 7 * 64][:4]
    assert len(logs) == 4
    logs[2] = {k: v for k, v in logs[2].items() if k != "blockTimestamp"}
    report = await import_file(pool, d.write_jsonl(tmp_path / "logs.jsonl", logs), chain_id=137)
    assert (report.stored.trades, report.dead_letters) == (3, 1)
    row = await pool.fetchrow("SELECT source_file, source_line, reason FROM orderflow_dead_letters")
    assert (row["source_file"], row["source_line"]) == ("logs.jsonl", 3)
    assert row["reason"].startswith("logs.jsonl line 3: OrderFilled has no blockTimestamp")


async def test_a_value_beyond_uint256_is_a_dead_letter_naming_its_field(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """No word of the chain's logs holds 2²⁵⁶ or more. Until 6 Dec 2026 such a row was refused
    by the encoder, its reason naming no field: ``fills.csv line 2: not a uint256: 1157…``."""
    logs = sim_logs("v1", seed=21)
    fills = [d.dune_row(f) for f in d.fills_of(logs)][:3]
    fills[0]["makerAmountFilled"] = str(2**256)
    asset = "makerAssetId" if fills[1]["makerAssetId"] != "0" else "takerAssetId"
    fills[1][asset] = str(int(fills[1][asset]) + 2**256)
    await import_file(pool, d.write_csv(tmp_path / "blocks.csv", d.blocks_of(logs)), chain_id=137)
    report = await import_file(pool, d.write_csv(tmp_path / "fills.csv", fills), chain_id=137)
    assert (report.stored.trades, report.dead_letters) == (1, 2)
    reasons = [r[0] for r in await pool.fetch("SELECT reason FROM orderflow_dead_letters")]
    spelt = {"makerAssetId": "maker asset id", "takerAssetId": "taker asset id"}[asset]
    assert sorted(reasons) == [
        f"fills.csv line 2: maker amount is beyond uint256: {2**256}",
        f"fills.csv line 3: {spelt} is beyond uint256: {fills[1][asset]}",
    ]
