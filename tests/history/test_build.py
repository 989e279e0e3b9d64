"""The shortcut (rows → events, column-wise) equals the raw-log round trip on every layout.

For each layout, files are written from simulated V1 and V2 chains and the shipped sample, plus
rows spoiled in every way the parsers or the decoder care about; the same parsed batch is then
decoded both ways (``RowDecoder.encode`` with and without ``via_raw_logs``) and compared event
by event — every field, the raw log each event carries, the dead letters' reasons and raw
objects — and the column-wise parse is compared with the strict per-row parsers row by row.
"""

from __future__ import annotations

import json
from dataclasses import astuple
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from orderflow.chain.contracts import MAINNET
from orderflow.chain.encode import ZERO32
from orderflow.chain.events import DecodedBatch, Fill, Match
from orderflow.history import columns
from orderflow.history.build import prepare
from orderflow.history.events import RowDecoder
from orderflow.history.layouts import detect
from orderflow.history.rows import RowError
from orderflow.history.sources import RowReader
from tests.history import dumps as d
from tests.history.test_exactly_once import sample_logs, sim_logs

Layout = str
Spoil = dict[str, Any]


def _rows(layout: Layout, logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    fills = d.fills_of(logs)
    if layout == "snake":
        return [d.snake_row(f) for f in fills]
    if layout == "dune":
        return [d.dune_row(f) for f in fills if f["v"] == "V1"]
    if layout == "camel":
        return [d.camel_row(f) for f in fills if f["v"] == "V2"]
    if layout == "unified":  # both asset ids and side + token id, in one export
        out = []
        for f in fills:
            row = d.snake_row(f)
            buy = (f["maker_asset"] == 0) if f["v"] == "V1" else f["side"] == 0
            token = (f["taker_asset"] or f["maker_asset"]) if f["v"] == "V1" else f["token"]
            row.update(side="BUY" if buy else "SELL", token_id=str(token))
            row.update(
                maker_asset_id="0" if buy else str(token), taker_asset_id=str(token) if buy else "0"
            )
            out.append(row)
        return out
    return d.matches_of(logs, block_hash=True)


# Each spoils one row (by position) in a way one of the parsers or the decoder cares about;
# the key names the canonical field, its value what to write (a callable gets the old value).
SPOILS: list[Spoil] = [
    {"maker_amount": "12.5"},
    {"maker_amount": " 5000000 "},
    {"maker_amount": "0x2faf080"},
    {"taker_amount": str(2**63)},
    {"taker_amount": ""},
    {"fee": None},
    {"maker": ""},
    {"maker": lambda v: v.upper().replace("0X", "0x")},
    {"taker": lambda v: "  " + v},
    {"order_hash": lambda v: v[:-2]},
    {"order_hash": lambda v: v[:-2] + "zz"},
    {"tx_hash": lambda v: v.upper().replace("0X", "0x")},
    {"log_index": str(2**31)},
    {"log_index": "0x10"},
    {"block_number": "-1"},
    {"exchange": "0x" + "11" * 20},
    {"exchange": "FPMM"},
    {"timestamp": "-5"},
    {"timestamp": "2023-11-14 22:13:20 UTC"},
    {"timestamp": "not a time"},
    {"maker_asset_id": "7", "taker_asset_id": "7"},
    {"maker_asset_id": "", "taker_asset_id": ""},
    {"side": "2"},
    {"side": " sell "},
    {"token_id": str(2**256)},
    {"builder": "0x" + "ab" * 31},
    {"metadata": ""},
    {"block_hash": "0x" + "cd" * 31},
    {"block_hash": ""},
]


def _spoil(rows: list[dict[str, Any]], columns_of: dict[str, str]) -> list[dict[str, Any]]:
    out = [dict(r) for r in rows]
    for i, spoil in enumerate(SPOILS):
        row = out[(3 * i + 1) % len(out)]
        for canonical, value in spoil.items():
            column = columns_of.get(canonical)
            if column is None or column not in row:
                continue
            row[column] = value(row[column]) if callable(value) else value
    return out


def _write(path: Path, rows: list[dict[str, Any]], *, as_text: bool = False) -> Path:
    if path.suffix == ".parquet":
        if as_text:  # one type per Parquet column: spoilt values are text, so every value is
            rows = [{k: _text(v) for k, v in r.items()} for r in rows]
        return d.write_parquet(path, rows)
    if ".csv" in path.suffixes:
        return d.write_csv(path, rows, columns=list(dict.fromkeys(k for r in rows for k in r)))
    return d.write_jsonl(path, rows)


def _text(value: Any) -> Any:
    return None if value is None else value if isinstance(value, str) else str(value)


def _both(path: Path, blocks: dict[int, str], batch_size: int) -> tuple[DecodedBatch, ...]:
    """The file decoded by the shortcut and by the round trip, batch by batch, concatenated."""
    out = (DecodedBatch(), DecodedBatch())
    with RowReader(path) as reader:
        layout = detect(reader.columns, path.name)
        decoder = RowDecoder(layout, path.name, "row", 137, MAINNET)
        decoder.hashes = dict(blocks)
        for batch in reader.column_batches(batch_size):
            parsed = decoder.parse(batch)
            _check_column_parse(decoder, parsed)
            out[0].extend(decoder.encode(parsed).batch)
            out[1].extend(decoder.encode(parsed, via_raw_logs=True).batch)
    return out


def _check_column_parse(decoder: RowDecoder, parsed: Any) -> None:
    """Where the column-wise pass gave fields, they are the strict per-row parsers' own."""
    for row, identity, _, fields in parsed.rows:
        assert identity == decoder.encoder.identity(row.values)
        if fields is not None:
            assert fields == prepare(decoder.encoder, row.values), row.number


def _same(built: DecodedBatch, reference: DecodedBatch) -> None:
    assert len(built.fills) == len(reference.fills)
    assert len(built.matches) == len(reference.matches)
    ours: list[Fill | Match] = [*built.fills, *built.matches]
    theirs: list[Fill | Match] = [*reference.fills, *reference.matches]
    pairs = zip(ours, theirs, strict=True)
    for a, b in pairs:
        assert a == b  # every field, the LogRef's too (the correction applied alike)
        assert dict(a.ref.raw or {}) == dict(b.ref.raw or {})  # the raw log it carries
    dead = [(x.reason, x.raw, astuple(x)[2:]) for x in built.dead_letters]
    assert dead == [(x.reason, x.raw, astuple(x)[2:]) for x in reference.dead_letters]


CASES = [
    ("sim-v1", "snake", "fills.parquet"),
    ("sim-v1", "dune", "fills.csv.gz"),
    ("sim-v1", "unified", "fills.jsonl"),
    ("sim-v1", "matches", "matches.csv"),
    ("sim-v2", "snake", "fills.parquet"),
    ("sim-v2", "camel", "fills.jsonl.gz"),
    ("sim-v2", "unified", "fills.csv"),
    ("sim-v2", "matches", "matches.parquet"),
    ("sample", "snake", "fills.jsonl"),
    ("sample", "matches", "matches.jsonl"),
]


@pytest.mark.parametrize(("source", "layout", "name"), CASES)
@pytest.mark.parametrize("spoilt", [False, True])
def test_shortcut_equals_the_raw_log_round_trip(
    tmp_path: Path, source: str, layout: str, name: str, spoilt: bool
) -> None:
    logs = sample_logs() if source == "sample" else sim_logs(source[-2:], seed=31)
    rows = _rows(layout, logs)
    assert len(rows) >= 3
    if spoilt:
        rows = _spoil(rows, detect(list(rows[0]), name).columns)
    blocks = {b["block_number"]: b["block_hash"] for b in d.blocks_of(logs)}
    path = _write(tmp_path / name, rows, as_text=spoilt)
    built, reference = _both(path, blocks, batch_size=7)
    _same(built, reference)
    assert built.fills or built.matches
    if spoilt:
        assert reference.dead_letters  # the spoils reach the dead letters, not just the shortcut


def test_the_column_wise_pass_takes_the_ordinary_rows(tmp_path: Path) -> None:
    """Clean rows of every format are parsed column-wise: the per-row path is the exception."""
    logs = sim_logs("v1", seed=32)
    rows = [d.snake_row(f) for f in d.fills_of(logs)]
    for name in ("fills.parquet", "fills.csv.gz", "fills.jsonl"):
        path = _write(tmp_path / name, rows)
        with RowReader(path) as reader:
            decoder = RowDecoder(detect(reader.columns, name), name, "row", 137, MAINNET)
            for batch in reader.column_batches(50):
                parsed = decoder.parse(batch)
                assert all(fields is not None for *_, fields in parsed.rows), name


def test_unusual_values_the_strict_parsers_accept_are_stored_alike() -> None:
    """Values the column-wise pass leaves to the per-row parsers (0x quantities, Decimals,
    padding) still become events, equal to the round trip's; nonsense stays an error."""
    layout = detect(["transaction_hash", "log_index", "block_number", "contract", "order_hash",
                     "maker", "taker", "maker_asset_id", "taker_asset_id", "maker_amount_filled",
                     "taker_amount_filled", "fee"], "x.csv")  # fmt: skip
    decoder = RowDecoder(layout, "x.csv", "line", 137, MAINNET)
    row = {
        "transaction_hash": "ab" * 32, "log_index": "0x1", "block_number": " 7 ",
        "contract": "CTF_EXCHANGE", "order_hash": "0X" + "CD" * 32, "maker": "0x" + "12" * 20,
        "taker": "0x" + "34" * 20, "maker_asset_id": Decimal(0), "taker_asset_id": "99",
        "maker_amount_filled": "0x10", "taker_amount_filled": Decimal("32"), "fee": 0,
    }  # fmt: skip
    p = prepare(decoder.encoder, row)
    assert (p.side, p.token, p.shares, p.collateral) == ("BUY", 99, 32, 16)
    with pytest.raises(RowError):
        prepare(decoder.encoder, {**row, "fee": "1.5"})
    assert columns._uints(["1", " 1", "0x1", "", None, -1, 5, "\u0661"]) == [
        1, None, None, None, None, None, 5, None,
    ]  # fmt: skip
    assert columns._hexes(["0X" + "AB" * 32, "ab" * 32, "zz" * 32, b"\x01" * 32, 5], 32) == [
        "0x" + "ab" * 32, "0x" + "ab" * 32, None, "0x" + "01" * 32, None,
    ]  # fmt: skip
    assert json.dumps(columns._memo(["1", "1", "x"], int)[:2]) == "[1, 1]"


def test_memoised_token_ids_are_the_plain_parse() -> None:
    """Token / asset id columns go through the one memo (``_memo`` with ``_uint``): the same
    values, repeats and hostile ones included, as ``_uints`` of the whole column."""
    values: list[object] = ["5", "5", 7, -1, "x", None, "0x1", " 5", True, "9" * 78, "9" * 79]
    values += ["\u0661", 5.0, b"5", "", Decimal(3), "0", 0, "5"]
    got = columns._memo(values, columns._uint)
    assert got == columns._uints(values)
    assert [type(v) for v in got] == [type(v) for v in columns._uints(values)]


def test_optional_hashes_name_what_absent_is() -> None:
    """One parse for an optional bytes32 column: a builder or metadata absent is ZERO32, a row's
    own block hash absent is None (no hash to learn: ``events.resolve_hashes``); either one
    that is not a hash is FAIL (the strict per-row path names it)."""
    values: list[object] = ["", None, "0X" + "AB" * 32, "zz" * 32, "ab" * 31]
    hexed, fail = "0x" + "ab" * 32, columns.FAIL
    assert columns._opt_hexes(values) == [ZERO32, ZERO32, hexed, fail, fail]
    assert columns._opt_hexes(values, None) == [None, None, hexed, fail, fail]
