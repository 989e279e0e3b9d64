"""A JSON array's element whose quotes do not pair is one dead letter; the elements after it are
found whole. Valid arrays (strings holding brackets, commas, escaped quotes, unicode escapes,
pretty-printed or not, read in chunks of any size) are split exactly as ``json.loads`` reads
them."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderflow.history import import_file
from orderflow.history.json_array import Scan, elements
from tests.history.test_json_array import gamma_market, reply_text, write
from tests.history.test_markets import BTC, BTC_IDS, NEG, NEG_IDS, USDC, USDC_IDS

HOSTILE = '{"q":"x]}\\"[{,","n":[1,{"m":"]\\u0022"}]}'  # valid: quotes escaped, brackets quoted
UNPAIRED = [
    ('{"a": "x}', "a value's closing quote missing (the rest would pair the wrong way)"),
    ('{"a": x"}', "a stray quote after a value"),
    ('{"a": "x\\"}', "the closing quote escaped"),
    ('{"a": "x, "b": 1}', "a quote missing before a comma and a key"),
    ('"abc', "a string element never closed"),
    ('{"a": "\\u00e9}', "a unicode escape, then no closing quote"),
]


@pytest.mark.parametrize("chunk", [1, 2, 5, 64, 1 << 20])
@pytest.mark.parametrize("sep", [", ", ",\n  "], ids=["one-line", "pretty"])
@pytest.mark.parametrize(("broken", "why"), UNPAIRED)
def test_an_unpaired_quote_costs_only_its_element(
    broken: str, why: str, sep: str, chunk: int
) -> None:
    parts = ['{"ok":0}', broken, HOSTILE, '{"ok":2}', '[{"ok":3}]']
    found = list(elements(io.StringIO(sep.join(parts) + "]"), "x", chunk_chars=chunk))
    assert found == list(enumerate(parts, 1)), why


@pytest.mark.parametrize("chunk", [1, 3, 1 << 20])
def test_a_quote_that_never_closes_before_the_end_of_the_file(chunk: int) -> None:
    scan = Scan()
    found = list(elements(io.StringIO('{"ok":0}, {"a": "x}]'), "x", chunk_chars=chunk, scan=scan))
    assert found == [(1, '{"ok":0}'), (2, '{"a": "x}')]
    assert not scan.unclosed
    scan = Scan()  # cut short inside a string: the partial element, and the file is cut short
    found = list(elements(io.StringIO('{"ok":0}, {"a": "xy'), "x", chunk_chars=chunk, scan=scan))
    assert found == [(1, '{"ok":0}'), (2, '{"a": "xy')]
    assert scan.unclosed


# Valid JSON values whose strings hold everything the scan must not mistake for structure.
_TEXT = st.text(alphabet=st.sampled_from(list('ab"\\,:[]{}\n\t é\u2013\U0001f600/')), max_size=12)
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), _TEXT)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_TEXT, inner, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(_VALUES, max_size=6),
    ascii_only=st.booleans(),
    indent=st.sampled_from([None, 2]),
    chunk=st.sampled_from([1, 2, 7, 64, 1 << 20]),
)
def test_a_valid_array_is_split_as_json_loads_reads_it(
    values: list[Any], ascii_only: bool, indent: int | None, chunk: int
) -> None:
    text = json.dumps(values, ensure_ascii=ascii_only, indent=indent)
    stream = io.StringIO(text)
    assert stream.read(1) == "["
    scan = Scan()
    found = list(elements(stream, "x", chunk_chars=chunk, scan=scan))
    assert [json.loads(t) for _, t in found] == values
    assert [n for n, _ in found] == list(range(1, len(values) + 1))
    assert not scan.unclosed


async def test_an_unclosed_quote_costs_one_row_of_a_gamma_reply(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """Before, the quote paired with the next market's first quote and every later one swapped
    strings and structure: the rest of the file (up to 16 M characters) was one dead letter."""
    broken = '{"id":"2","conditionId":"0x5a","question":"Up or down?}'
    reply = reply_text(
        [gamma_market(BTC, BTC_IDS), broken, gamma_market(NEG, NEG_IDS, negRisk=True)]
    )
    reply = reply[:-1] + "," + json.dumps(gamma_market(USDC, USDC_IDS)) + "]"
    report = await import_file(pool, write(tmp_path / "markets.json", reply), chain_id=137)

    assert (report.rows, report.markets, report.dead_letters) == (4, 3, 1)
    letter = await pool.fetchrow("SELECT source_line, reason FROM orderflow_dead_letters")
    assert letter["source_line"] == 2
    assert letter["reason"].startswith("markets.json row 2: not JSON")
