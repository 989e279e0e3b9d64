"""A log object naming one key twice in a file (``listen --from-file``): which of its values
is meant cannot be told, so it is a dead letter naming the key, in one batch with valid logs,
whichever path decodes it (docs/listener.md "Hostile input"). Before, the later value was taken:
a line holding a second ``data`` or ``topics`` stored the fill it spelt, silently."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import pytest

from orderflow.chain.ingest import ingest_file
from orderflow.chain.json_keys import duplicate_key
from tests.chain.hostile import fill

OTHER = fill(10, 2, 2, maker=0xA7)


def _twice(key: str, *, spaced: bool = False) -> str:
    """Fill 2's line with ``key`` written a second time, the second holding another fill's."""
    text = json.dumps(fill(10, 2, 2), separators=(",", ":"))
    again = json.dumps(OTHER[key], separators=(",", ":"))
    return text[:-1] + (f', "{key}" : {again}}}' if spaced else f',"{key}":{again}}}')


@pytest.mark.parametrize("key", ["data", "topics", "logIndex", "address"])
@pytest.mark.parametrize("workers", [0, 1])
async def test_a_log_naming_a_key_twice_is_a_dead_letter_naming_it(
    pool: asyncpg.Pool, tmp_path: Path, key: str, workers: int
) -> None:
    path = tmp_path / "logs.jsonl"
    lines = [json.dumps(fill(10, 1, 1)), _twice(key, spaced=key == "address")]
    path.write_text("\n".join([*lines, json.dumps(fill(10, 3, 3))]) + "\n")
    report = await ingest_file(pool, path, chain_id=137, batch_size=100, workers=workers)
    assert report.stored.trades == 2
    reason = await pool.fetchval("SELECT string_agg(reason, ' | ') FROM orderflow_dead_letters")
    assert reason.startswith(f"logs.jsonl line 2: the key '{key}' appears twice in one object")


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "b": "x:y"}',  # a colon in a string
        '{"a": "\\":", "b": 2}',  # a quote and a colon in a string
        '{"a": {"b": 1, "c": {"b": 2}}, "b": [{"a": 1}]}',  # the same name at other levels
        '{"a": 1 , "b" :2}',
    ],
)
def test_an_object_without_a_repeated_key_has_none(text: str) -> None:
    assert duplicate_key(text, json.loads(text)) is None
    assert duplicate_key(text.encode(), json.loads(text)) is None


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('{"a": 1, "a": 1}', "a"),  # even with the same value
        ('{"a": 1, "b": {"c": 1, "c": 2}}', "c"),
        ('{"a": [{"x": 1, "x" : 2}], "b": 2}', "x"),
        ('{"a": 1,\t"a"\n:2}', "a"),
        ('{"a": 1, "\\u0061": 2}', "a"),  # an escape spelling the same name
    ],
)
def test_an_object_with_a_repeated_key_names_it(text: str, key: str) -> None:
    assert duplicate_key(text, json.loads(text)) == key
