"""A CSV file's header repeated further down — files concatenated with their headers (``cat
a.csv b.csv``), pages of an export appended — is not a row, and the rows after it are read by
it: a second export may put the same columns in another order (docs/history.md "Bad rows")."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import asyncpg
import pytest

from orderflow.history import HistoryError, import_file
from tests.history import dumps as d
from tests.history.compare import rows
from tests.history.test_exactly_once import sim_logs


def _csv(fills: list[dict[str, object]], columns: list[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([f[c] for c in columns] for f in fills)
    return out.getvalue()


def _swapped(columns: list[str], *pairs: tuple[str, str]) -> list[str]:
    out = list(columns)
    for a, b in pairs:
        i, j = out.index(a), out.index(b)
        out[i], out[j] = out[j], out[i]
    return out


@pytest.mark.parametrize("order", ["same", "reordered", "renamed"])
async def test_a_header_repeated_mid_file_reads_the_rows_after_it_by_its_columns(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path, order: str
) -> None:
    """Before: the second header was a dead letter (``transaction hash is not 32 bytes of hex:
    'transactionHash'``) and the rows after it were read by the first header's order — with
    maker and taker, and the two amounts, swapped: 29 of the 49 fills stored wrong, silently."""
    fills = [d.camel_row(f) for f in d.fills_of(sim_logs("v2", seed=7))]
    await import_file(chain_pool, d.write_jsonl(tmp_path / "ref.jsonl", fills), chain_id=137)
    first = list(fills[0])
    second = {
        "same": first,
        "reordered": _swapped(
            first, ("maker", "taker"), ("makerAmountFilled", "takerAmountFilled")
        ),
    }.get(order)
    text = _csv(fills[:20], first)
    if second is None:  # another spelling of each column (snake_case), in reverse order
        renamed = {c: "".join("_" + x.lower() if x.isupper() else x for x in c) for c in first}
        snake = [{renamed[k]: v for k, v in f.items()} for f in fills[20:]]
        text += _csv(snake, [renamed[c] for c in reversed(first)])
    else:
        text += _csv(fills[20:], second)
    (tmp_path / "cat.csv").write_text(text)
    report = await import_file(pool, tmp_path / "cat.csv", chain_id=137, hand_over=False)
    assert (report.stored.trades, report.dead_letters) == (len(fills), 0)
    assert await rows(pool, "orderflow_trades") == await rows(chain_pool, "orderflow_trades")


async def test_a_header_of_other_columns_mid_file_stops_the_import_naming_its_line(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """Two exports of other columns concatenated: the rows after the second header cannot be
    read by the first one (before: read by it, position by position)."""
    fills = [d.camel_row(f) for f in d.fills_of(sim_logs("v2", seed=7))]
    first = list(fills[0])
    other = [c for c in first if c != "metadata"] + ["extra"]
    text = _csv(fills[:20], first) + _csv([{**f, "extra": "x"} for f in fills[20:]], other)
    (tmp_path / "cat.csv").write_text(text)
    with pytest.raises(HistoryError, match=r"cat\.csv line 22: a header of other columns"):
        await import_file(pool, tmp_path / "cat.csv", chain_id=137, batch_size=10)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_trades") == 20
    assert await pool.fetchval("SELECT count(*) FROM orderflow_sync_checkpoints") == 0
