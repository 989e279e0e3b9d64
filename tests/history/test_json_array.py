"""A Gamma /markets reply saved as is — one JSON array of market objects, often one line of
several GB — imports like JSON lines: element by element, bounded memory, per-row dead letters."""

from __future__ import annotations

import gzip
import io
import json
import tracemalloc
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from orderflow.history import import_file
from orderflow.history.errors import HistoryError
from orderflow.history.json_array import elements
from orderflow.history.sources import RowReader
from tests.conftest import settle_spare_databases
from tests.history import dumps as d
from tests.history.test_exactly_once import sim_logs
from tests.history.test_markets import BTC, BTC_IDS, NEG, NEG_IDS, OTHER, USDC, USDC_IDS


def gamma_market(condition: str, ids: list[str], **extra: Any) -> dict[str, Any]:
    """A market object with the fields (and nesting) of Gamma's ``GET /markets`` reply; the
    condition and token ids are real (docs: ../shared/polymarket.md), the rest illustrative."""
    market: dict[str, Any] = {
        "id": "1034622",
        "question": "Bitcoin Up or Down \u2013 December 31, 12:00PM-12:15PM ET",
        "conditionId": condition,
        "slug": "btc-updown-15m-1767200400",
        "resolutionSource": "https://www.binance.com/en/trade/BTC_USDT",
        "endDate": "2025-12-31T17:15:00Z",
        "liquidity": "12873.4412",
        "startDate": "2025-12-30T17:21:41.582Z",
        "image": "https://polymarket-upload.s3.us-east-2.amazonaws.com/BTC+fullsize.png",
        "icon": "https://polymarket-upload.s3.us-east-2.amazonaws.com/BTC+fullsize.png",
        "description": (
            'This market will resolve to "Up" if the Bitcoin price at the end of the time range'
            " [12:00PM-12:15PM ET] is greater than or equal to the price at its beginning, and"
            ' to "Down" otherwise.\nThe resolution source is Binance, BTC/USDT {1m candles},'
            " close prices; \\ backslashes and ] brackets, in a string, must not end a row."
        ),
        "outcomes": json.dumps(["Up", "Down"]),
        "outcomePrices": json.dumps(["0.505", "0.495"]),
        "volume": "30844.613245",
        "active": True,
        "closed": False,
        "marketMakerAddress": "",
        "createdAt": "2025-12-30T17:20:05.316592Z",
        "updatedAt": "2025-12-31T17:20:09.834521Z",
        "new": False,
        "featured": False,
        "submitted_by": "0x91430CaD2d3975766499717fA0D66A78D814E5c5",
        "archived": False,
        "resolvedBy": "0x6A9D222616C90FcA5754cd1333cFD9b7fb6a4F74",
        "restricted": True,
        "questionID": "0x" + "a1".rjust(64, "0"),
        "enableOrderBook": True,
        "orderPriceMinTickSize": 0.01,
        "orderMinSize": 5,
        "volumeNum": 30844.613245,
        "liquidityNum": 12873.4412,
        "endDateIso": "2025-12-31",
        "startDateIso": "2025-12-30",
        "hasReviewedDates": True,
        "volume24hr": 30844.613245,
        "clobTokenIds": json.dumps(ids),
        "umaBond": "500",
        "umaReward": "2",
        "acceptingOrders": True,
        "negRisk": False,
        "events": [
            {
                "id": "98231",
                "ticker": "btc-updown-15m-1767200400",
                "title": "Bitcoin Up or Down \u2013 December 31, 12:00PM-12:15PM ET",
                "startDate": "2025-12-30T17:21:41.582Z",
                "tags": [{"id": "21", "label": "Crypto", "slug": "crypto"}],
                "series": [{"id": "10192", "title": "BTC Up or Down 15m", "recurrence": "15m"}],
            }
        ],
        "clobRewards": [
            {"id": "0", "conditionId": condition, "rewardsAmount": 0, "rewardsDailyRate": 0}
        ],
        "rewardsMinSize": 50,
        "rewardsMaxSpread": 4.5,
        "spread": 0.01,
        "lastTradePrice": 0.5,
        "bestBid": 0.5,
        "bestAsk": 0.51,
        "umaResolutionStatuses": "[]",
        "feesEnabled": True,
        "closedTime": None,
    }
    market.update(extra)
    return market


def reply_text(parts: list[dict[str, Any] | str]) -> str:
    """Gamma's reply as it comes over the wire: one line, compact, UTF-8 unescaped; a ``str``
    part is spliced in as is (a malformed element)."""
    return (
        "["
        + ",".join(
            p if isinstance(p, str) else json.dumps(p, separators=(",", ":"), ensure_ascii=False)
            for p in parts
        )
        + "]"
    )


def write(path: Path, text: str) -> Path:
    data = text.encode()
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


BROKEN = '{"id":"3","question":"Broken, [row] {x}","conditionId":0x5a5a,"clobTokenIds":"[]"}'


@pytest.mark.parametrize("name", ["markets.json", "markets.json.gz"])
async def test_a_gamma_reply_saved_as_is_imports_with_per_row_dead_letters(
    pool: asyncpg.Pool, tmp_path: Path, name: str
) -> None:
    reply = [
        gamma_market(
            BTC,
            BTC_IDS,
            closed=True,
            outcomePrices='["1", "0"]',
            closedTime="2025-12-31 17:20:05+00",
        ),
        gamma_market(NEG, NEG_IDS, negRisk=True),
        BROKEN,  # row 3: not JSON (an unquoted hex value), brackets balanced
        "42",  # row 4: JSON, but not a market
        gamma_market(USDC, USDC_IDS),
    ]
    path = write(tmp_path / name, reply_text(reply))  # type: ignore[arg-type]
    report = await import_file(pool, path, chain_id=137)

    assert report.kind == "markets"
    assert (report.rows, report.markets, report.dead_letters) == (5, 3, 2)
    assert (report.tokens, report.gamma_resolutions) == (6, 1)
    stored = await pool.fetch(
        "SELECT condition_id, array_agg(token_id::text ORDER BY outcome_index) AS ids"
        " FROM orderflow_tokens GROUP BY condition_id"
    )
    assert {r["condition_id"]: list(r["ids"]) for r in stored} == {
        BTC: BTC_IDS,
        NEG: NEG_IDS,
        USDC: USDC_IDS,
    }
    letters = await pool.fetch("SELECT reason, raw FROM orderflow_dead_letters ORDER BY reason")
    assert [r["reason"].split(":")[0] for r in letters] == [f"{name} row 3", f"{name} row 4"]
    assert letters[0]["reason"].startswith(f"{name} row 3: not JSON (Expecting")
    assert letters[1]["reason"] == f"{name} row 4: a JSON int, not a row"
    assert letters[0]["raw"] == {"file": name, "row": 3, "text": BROKEN}

    # Importing it again stores nothing twice; the dead letters are seen again.
    again = await import_file(pool, path, chain_id=137)
    assert (again.tokens, again.gamma_resolutions, again.dead_letters) == (0, 0, 2)
    assert await pool.fetchval("SELECT sum(times_seen) FROM orderflow_dead_letters") == 4


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1 << 20])
def test_elements_are_found_whatever_the_chunks(chunk: int) -> None:
    """Strings holding brackets, commas, escaped quotes and backslashes, nested values and
    element boundaries cut anywhere by the reads: each element's text is exactly its value."""
    values: list[Any] = [
        gamma_market(BTC, BTC_IDS),
        {"a": 'x,]}\\"[{', "b": [1, {"c": "\\\\"}], "d": "\u2013 caf\u00e9"},
        42,
        "s,]",
        None,
        [1, [2, []]],
        {},
    ]
    text = json.dumps(values, ensure_ascii=False) + "\n[3.5, true]\n"  # a second page appended
    found = list(elements(io.StringIO(text[1:]), "x", chunk_chars=chunk))
    assert [n for n, _ in found] == list(range(1, len(values) + 3))
    assert [json.loads(t) for _, t in found] == [*values, 3.5, True]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("[]", []),
        (" [ ] ", []),
        ("[1,]", [(1, "1"), (2, "")]),  # a trailing comma: an empty element, a dead letter
        ("[,1]", [(1, ""), (2, "1")]),
        ('[{"a":1},{"b":2', [(1, '{"a":1}'), (2, '{"b":2')]),  # a truncated file
        ("[1] junk", [(1, "1"), (2, "junk")]),  # what follows the array: one more element
    ],
)
def test_edges_of_an_array(text: str, found: list[tuple[int, str]]) -> None:
    stream = io.StringIO(text)
    assert stream.read(text.index("[") + 1).strip() == "["
    assert list(elements(stream, "x", chunk_chars=2)) == found


@pytest.mark.parametrize("name", ["big.json", "big.json.gz"])
def test_a_one_line_reply_is_read_in_bounded_memory(tmp_path: Path, name: str) -> None:
    row = gamma_market(BTC, BTC_IDS)
    text = reply_text([row] * 4000)
    assert len(text) > 9_000_000
    path = write(tmp_path / name, text)  # one line
    del text
    settle_spare_databases()  # the test databases' thread allocates too
    tracemalloc.start()
    try:
        with RowReader(path) as reader:
            assert reader.array and reader.columns == list(row)
            count = sum(len(chunk) for chunk in reader.line_chunks(100))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 4000
    assert peak < 5_000_000  # a few chunks of text and a batch of rows, not the file


@pytest.mark.parametrize("name", ["markets.json", "markets.jsonl"])
async def test_fields_the_first_market_lacks_are_read_from_every_later_row(
    pool: asyncpg.Pool, tmp_path: Path, name: str
) -> None:
    """An API object leaves out what it does not have (an open market has no ``closedTime``,
    an AMM-era one no ``clobTokenIds``): the first row's keys are not the file's columns."""

    def without(market: dict[str, Any], *keys: str) -> dict[str, Any]:
        return {k: v for k, v in market.items() if k not in keys}

    amm = without(gamma_market(OTHER, []), "clobTokenIds", "closedTime", "negRisk")
    still_open = without(
        gamma_market(NEG, NEG_IDS, negRisk=True), "closedTime", "questionID", "resolvedBy"
    )
    resolved = gamma_market(
        BTC, BTC_IDS, closed=True, outcomePrices='["0", "1"]', closedTime="2025-12-31 17:20:05+00"
    )
    rows: list[dict[str, Any] | str] = [amm, still_open, resolved]
    text = (
        reply_text(rows)
        if name.endswith(".json")
        else "\n".join(json.dumps(r) for r in rows) + "\n"
    )
    report = await import_file(pool, write(tmp_path / name, text), chain_id=137)

    assert (report.rows, report.markets, report.markets_skipped) == (3, 2, 1)
    assert (report.tokens, report.gamma_resolutions, report.dead_letters) == (4, 1, 0)
    outcome = await pool.fetchrow(
        "SELECT winning_outcome, question_id, oracle FROM orderflow_market_outcomes"
        " WHERE market_id = $1",
        BTC,
    )
    assert outcome is not None
    assert outcome["winning_outcome"] == 1
    assert outcome["question_id"] == "0x" + "a1".rjust(64, "0")


async def test_an_array_that_never_closes_is_a_file_cut_short(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """Cut between two rows, the file's last element is whole: only the missing ``]`` tells the
    rest of the file is gone. Its whole rows are imported, and the import stops naming the file
    before it hands over (the rows after the cut in its last block would never be read)."""
    logs = sim_logs("v1", seed=21)
    fills = [d.dune_row(f) for f in d.fills_of(logs)]
    await import_file(pool, d.write_csv(tmp_path / "blocks.csv", d.blocks_of(logs)), chain_id=137)
    kept = len(fills) // 2
    path = tmp_path / "fills.json"
    path.write_text("[" + ", ".join(json.dumps(f) for f in fills[:kept]) + ", ")

    with pytest.raises(HistoryError, match=r"^fills\.json: the JSON array does not close"):
        await import_file(pool, path, chain_id=137, batch_size=1000)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_trades") == kept
    assert await pool.fetchval("SELECT count(*) FROM orderflow_dead_letters") == 0
    assert await pool.fetchval("SELECT count(*) FROM orderflow_sync_checkpoints") == 0

    # A file holding "[" alone is no empty file.
    path.write_text("[\r\n")
    with pytest.raises(HistoryError, match=r"^fills\.json: the JSON array does not close"):
        await import_file(pool, path, chain_id=137)

    # The whole file afterwards: the rest, nothing twice, and the hand-over.
    d.write_json_array(path, fills)
    report = await import_file(pool, path, chain_id=137)
    assert report.stored.trades == len(fills) - kept
    assert await pool.fetchval("SELECT count(*) FROM orderflow_trades") == len(fills)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_sync_checkpoints") == 2


# Malformed elements whose brackets do not match: each is one element (a dead letter), and the
# elements after it are found whole. Strings hold brackets, commas and escaped quotes.
HOSTILE = '{"q":"x]}\\"[{,","n":[1,{"m":"]"}]}'
MISMATCHED = [
    ('{"a":1,"b":[2}', "a [ closed by }"),
    ('{"a":[1,{"b":"}]"}}', "a [ closed by } one level down"),
    ('{"a":1]', "a { closed by ]"),
    ("[1,2}", "an array closed by }"),
    ('{"a":1', "a { never closed, the next element after its comma"),
    ('{"a":{"b":1', "two levels never closed"),
]


@pytest.mark.parametrize("chunk", [1, 2, 5, 64, 1 << 20])
@pytest.mark.parametrize(("broken", "why"), MISMATCHED)
def test_a_malformed_element_leaves_the_elements_after_it_whole(
    broken: str, why: str, chunk: int
) -> None:
    text = f'{{"ok":0}},{broken},  \n {HOSTILE}, {{"ok":2}} ,[{{"ok":3}}]]'
    found = list(elements(io.StringIO(text), "x", chunk_chars=chunk))
    assert found == [
        (1, '{"ok":0}'),
        (2, broken),
        (3, HOSTILE),
        (4, '{"ok":2}'),
        (5, '[{"ok":3}]'),
    ], why


@pytest.mark.parametrize("chunk", [7, 64, 1000])
def test_a_long_valid_element_is_never_cut(chunk: int) -> None:
    """Valid JSON never has a closer of the wrong kind nor an object's comma before a bracket,
    so the resynchronisation never splits a valid element, however long and nested."""
    deep: Any = {"s": '"},{"x":[1}, ]'}
    for i in range(200):
        deep = {"k": [deep, {"i": i, "t": "]}" * i}], "e": {}, "l": [[], [{}]]}
    long_valid = json.dumps(deep)
    assert len(long_valid) > 50 * chunk  # read in many chunks
    text = long_valid + ',{"a":[2},' + long_valid + "]"
    found = list(elements(io.StringIO(text), "x", chunk_chars=chunk))
    assert [(n, json.loads(t) if n != 2 else t) for n, t in found] == [
        (1, deep),
        (2, '{"a":[2}'),
        (3, deep),
    ]


async def test_a_mismatched_bracket_costs_one_row_of_a_gamma_reply(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """Before, the splitter only counted brackets: after ``[2}`` every later market was inside
    the broken element, the array never closed, and the import stopped with those markets lost."""
    broken = '{"id":"2","conditionId":"0x5a","tags":[2},'
    reply = reply_text(
        [gamma_market(BTC, BTC_IDS), broken[:-1], gamma_market(NEG, NEG_IDS, negRisk=True)]
    )
    reply = reply[:-1] + "," + json.dumps(gamma_market(USDC, USDC_IDS)) + "]"
    report = await import_file(pool, write(tmp_path / "markets.json", reply), chain_id=137)

    assert (report.rows, report.markets, report.dead_letters) == (4, 3, 1)
    assert report.tokens == 6
    reason = await pool.fetchval("SELECT reason FROM orderflow_dead_letters")
    assert reason.startswith("markets.json row 2: not JSON")
