"""A plain (uncompressed) CSV dump cut short inside its last field stops the import, its last row
a dead letter.

A download or copy cut short leaves the file's last line without its line end, its last field
shortened. The ``.gz`` reader finds such a cut (the stream's missing end marker) and makes the
row a dead letter; a plain CSV file's cut went unseen: the shortened value was read as the whole
value and the fill stored with it, silently (price 0.001 and 0.729 USDC where the chain says
0.01 and 7.29; until 6 Dec 2026). Now a plain CSV/TSV file whose last byte ends no line is cut
short (docs/history.md, "Bad rows"): the rows before it are imported, the last a dead letter,
and the import stops naming the file, no checkpoint moved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest

from orderflow.chain.ingest import ingest_logs
from orderflow.history import import_file
from orderflow.history.errors import HistoryError
from tests.history import dumps as d
from tests.history.compare import rows
from tests.history.test_exactly_once import sim_logs

# what a fills file without markets or matches leaves for later (Gamma's import, the chain's
# matches): not the fill's own values
_LATER = {"market_id", "outcome_index", "match_log_index"}


def _by_identity(found: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, Any]]:
    return {
        (r["tx_hash"], r["log_index"]): {k: v for k, v in r.items() if k not in _LATER}
        for r in found
    }


async def test_a_plain_csv_cut_inside_its_last_field_stores_no_shortened_value(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    logs = sim_logs("v1", seed=11)
    await ingest_logs(chain_pool, logs, chain_id=137, batch_size=37)
    fills = [d.dune_row(f) for f in d.fills_of(logs)]
    last = fills[-1]
    assert len(last["takerAmountFilled"]) > 1
    columns = [c for c in last if c != "takerAmountFilled"] + ["takerAmountFilled"]
    path = d.write_csv(tmp_path / "fills.csv", fills, columns=columns)
    whole = path.read_bytes()
    assert whole.endswith(last["takerAmountFilled"].encode() + b"\r\n")
    path.write_bytes(whole[:-3])  # cut inside the last field: its line end and last digit gone

    await import_file(pool, d.write_csv(tmp_path / "blocks.csv", d.blocks_of(logs)), chain_id=137)
    with pytest.raises(HistoryError, match=r"fills\.csv: the file ends inside its last row"):
        await import_file(pool, path, chain_id=137, batch_size=16)

    reference = _by_identity(await rows(chain_pool, "orderflow_trades"))
    wrong = [
        (key, {k: (row[k], reference[key][k]) for k in row if row[k] != reference[key][k]})
        for key, row in _by_identity(await rows(pool, "orderflow_trades")).items()
        if row != reference[key]
    ]
    assert wrong == [], f"stored with the cut file's shortened value (stored, chain): {wrong}"
    stored = await pool.fetchval("SELECT count(*) FROM orderflow_trades")
    assert stored == len(reference) - 1, (stored, len(reference))  # the cut row alone left out
    letters = await pool.fetch("SELECT reason FROM orderflow_dead_letters")
    assert len(letters) == 1, [r["reason"] for r in letters]
