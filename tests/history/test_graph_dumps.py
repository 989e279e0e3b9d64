"""Dumps of indexers' own databases and scaffolds, each imported as the listener stores the
chain's logs (``test_exactly_once._assert_same``: every column of every trade and match):

* a raw graph-node database dump (``COPY sgd1.order_filled TO STDOUT CSV HEADER``), whose
  ``Bytes`` columns are PostgreSQL ``bytea`` in hex output, ``\\x…``; until 7 Dec 2026 every
  such value was "not 32 bytes of hex" and the id no log id: the file was refused;
* an Envio HyperIndex entity table, whose ids are ``chainId_blockNumber_logIndex``: with a
  transaction hash column they give the fill's whole identity (until 7 Dec 2026 refused: "none
  of the ids … derive one");
* a `graph init` scaffold's dump, which has no column for the emitting contract (a data source
  per exchange): ``--exchange ADDRESS`` names it (until 7 Dec 2026 such a dump was refused,
  lacking its exchange), and a file naming another one is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest

from orderflow.chain.ingest import ingest_logs
from orderflow.cli import main
from orderflow.history import import_file
from orderflow.history.errors import LayoutError
from tests.history import dumps as d
from tests.history.test_exactly_once import _assert_same, gamma_rows, sim_logs


def bytea(hex_text: str) -> str:
    """A 0x value as PostgreSQL's hex output of bytea writes it."""
    return "\\x" + hex_text.removeprefix("0x")


def graph_node_row(n: int, f: dict[str, Any]) -> dict[str, Any]:
    """A row of graph-node's table of the `graph init` scaffold's OrderFilled entity (immutable:
    ``vid``, ``block$``), its id ``transaction.hash.concatI32(logIndex)``, dumped as CSV; the
    emitting contract recorded as a Bytes field too."""
    row: dict[str, Any] = {
        "vid": n,
        "block$": f["block"],
        "id": bytea(f["tx"]) + f["log_index"].to_bytes(4, "little").hex(),
        "order_hash": bytea(f["order_hash"]),
        "maker": bytea(f["maker"]),
        "taker": bytea(f["taker"]),
    }
    if f["v"] == "V1":
        row.update(maker_asset_id=str(f["maker_asset"]), taker_asset_id=str(f["taker_asset"]))
    else:
        row.update(side=f["side"], token_id=str(f["token"]))
        row.update(builder=bytea(f["builder"]), metadata=bytea(f["metadata"]))
    row.update(
        maker_amount_filled=str(f["maker_amt"]),
        taker_amount_filled=str(f["taker_amt"]),
        fee=str(f["fee"]),
        block_number=str(f["block"]),
        block_timestamp=str(f["ts"]),
        transaction_hash=bytea(f["tx"]),
        contract=bytea(f["address"]),
    )
    return row


async def _reference(pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path, exchange: str,
                     seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:  # fmt: skip
    """The chain's logs stored by the listener's path into ``chain_pool``; their blocks into
    ``pool``. The fills' neutral records, and the logs."""
    logs = sim_logs(exchange, seed)
    await ingest_logs(chain_pool, logs, chain_id=137)
    await import_file(pool, d.write_csv(tmp_path / "blocks.csv", d.blocks_of(logs)), chain_id=137)
    return d.fills_of(logs), logs


async def _rest(pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path, logs: Any) -> None:
    """The matches and markets of the same chain, then every row compared."""
    matches = d.write_parquet(tmp_path / "matches.parquet", d.matches_of(logs))
    await import_file(pool, matches, chain_id=137)
    markets = d.write_jsonl(tmp_path / "markets.jsonl", await gamma_rows(chain_pool))
    await import_file(pool, markets, chain_id=137)
    await _assert_same(pool, chain_pool)


@pytest.mark.parametrize(("exchange", "seed"), [("v1", 5), ("v2", 6)])
async def test_a_graph_node_dump_with_bytea_hex_imports_exactly(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path, exchange: str, seed: int
) -> None:
    fills, logs = await _reference(pool, chain_pool, tmp_path, exchange, seed)
    rows = [graph_node_row(n, f) for n, f in enumerate(fills)]
    report = await import_file(pool, d.write_csv(tmp_path / "order_filled.csv", rows), chain_id=137)
    assert (report.stored.trades, report.dead_letters) == (len(fills), 0)
    await _rest(pool, chain_pool, tmp_path, logs)


async def test_bytea_and_0x_spellings_store_the_same_rows(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """Control: the same rows with 0x hex (what the import read before) store the same fills,
    and the bytea file imported after them stores nothing more."""
    fills, logs = await _reference(pool, chain_pool, tmp_path, "v1", 7)
    rows = [graph_node_row(n, f) for n, f in enumerate(fills)]
    as_0x = [
        {k: "0x" + v[2:] if str(v).startswith("\\x") else v for k, v in r.items()} for r in rows
    ]
    first = await import_file(pool, d.write_csv(tmp_path / "hex.csv", as_0x), chain_id=137)
    assert (first.stored.trades, first.dead_letters) == (len(fills), 0)
    again = await import_file(pool, d.write_csv(tmp_path / "bytea.csv", rows), chain_id=137)
    assert (again.stored.trades, again.dead_letters) == (0, 0)
    await _rest(pool, chain_pool, tmp_path, logs)


def envio_row(f: dict[str, Any], *, block_column: bool) -> dict[str, Any]:
    """An Envio HyperIndex OrderFilled entity (id ``${chainId}_${block.number}_${logIndex}``,
    V1 or V2 parameters), the transaction hash and the emitting contract (``event.srcAddress``)
    exported with it."""
    row = {
        k: "0x" + v[2:] if isinstance(v, str) and v.startswith("\\x") else v
        for k, v in graph_node_row(0, f).items()
        if k not in ("vid", "block$", "block_number", "contract")
    }
    row["id"] = f"137_{f['block']}_{f['log_index']}"
    row["srcAddress"] = f["address"]
    if block_column:
        row["blockNumber"] = str(f["block"])
    return row


@pytest.mark.parametrize(
    ("exchange", "seed", "block_column"), [("v1", 5, False), ("v1", 5, True), ("v2", 6, False)]
)
async def test_envio_ids_give_block_and_log_index(
    pool: asyncpg.Pool,
    chain_pool: asyncpg.Pool,
    tmp_path: Path,
    exchange: str,
    seed: int,
    block_column: bool,
) -> None:
    fills, logs = await _reference(pool, chain_pool, tmp_path, exchange, seed)
    rows = [envio_row(f, block_column=block_column) for f in fills]
    report = await import_file(pool, d.write_csv(tmp_path / "envio.csv", rows), chain_id=137)
    assert (report.stored.trades, report.dead_letters) == (len(fills), 0)
    await _rest(pool, chain_pool, tmp_path, logs)


async def test_an_envio_id_of_another_chain_or_block_is_a_dead_letter(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    fills, _ = await _reference(pool, chain_pool, tmp_path, "v1", 6)
    rows = [envio_row(f, block_column=True) for f in fills]
    rows[1]["id"] = f"1_{fills[1]['block']}_{fills[1]['log_index']}"  # Ethereum's
    rows[2]["blockNumber"] = str(fills[2]["block"] + 1)
    report = await import_file(pool, d.write_csv(tmp_path / "envio.csv", rows), chain_id=137)
    assert (report.stored.trades, report.dead_letters) == (len(fills) - 2, 2)
    reasons = [r["reason"] for r in await pool.fetch(
        "SELECT reason FROM orderflow_dead_letters ORDER BY source_line")]  # fmt: skip
    assert "envio.csv line 3: id '1_" in reasons[0] and "chain 1, not 137" in reasons[0]
    assert reasons[1].startswith("envio.csv line 4: id "), reasons
    assert f"names block {fills[2]['block']}, its blockNumber {fills[2]['block'] + 1}" in reasons[1]


async def test_envio_ids_without_a_transaction_column_are_refused(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """Control: an Envio id names no transaction; without the column the file is refused, as
    before, its refusal saying what to export."""
    fills, _ = await _reference(pool, chain_pool, tmp_path, "v1", 5)
    rows = [envio_row(f, block_column=False) for f in fills]
    for row in rows:
        del row["transaction_hash"]
    with pytest.raises(LayoutError, match="transactionHash"):
        await import_file(pool, d.write_csv(tmp_path / "envio.csv", rows), chain_id=137)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_trades") == 0


async def test_an_indexer_s_file_is_named_for_its_layout_not_for_polymarket_s_subgraph(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """A refusal names the file's layout: an id-keyed file of any indexer (here Envio's) was
    called "the Polymarket subgraph's orderFilledEvents" whatever wrote it."""
    fills, _ = await _reference(pool, chain_pool, tmp_path, "v1", 5)
    rows = [envio_row(f, block_column=False) for f in fills]
    for row in rows:
        del row["transaction_hash"]
    with pytest.raises(LayoutError) as refused:
        await import_file(pool, d.write_csv(tmp_path / "envio.csv", rows), chain_id=137)
    message = str(refused.value)
    assert message.startswith("envio.csv: OrderFilled rows keyed by an id"), message
    assert "Polymarket" not in message, message


def _by_exchange(fills: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    split: dict[str, list[dict[str, Any]]] = {}
    for f in fills:
        split.setdefault(f["address"], []).append(f)
    assert len(split) == 2, split.keys()
    return split


def scaffold_row(n: int, f: dict[str, Any]) -> dict[str, Any]:
    """The scaffold's entity as graph-node stores it: no column for the emitting contract."""
    row = graph_node_row(n, f)
    del row["contract"]
    return row


@pytest.mark.parametrize(("exchange", "seed"), [("v1", 5), ("v2", 6), ("v1", 7)])
async def test_a_scaffold_dump_per_exchange_imports_with_its_exchange(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path, exchange: str, seed: int
) -> None:
    fills, logs = await _reference(pool, chain_pool, tmp_path, exchange, seed)
    for n, (address, its) in enumerate(_by_exchange(fills).items()):
        rows = [scaffold_row(i, f) for i, f in enumerate(its)]
        path = d.write_csv(tmp_path / f"order_filled_{n}.csv", rows)
        report = await import_file(pool, path, chain_id=137, exchange=address)
        assert (report.stored.trades, report.dead_letters) == (len(its), 0)
    await _rest(pool, chain_pool, tmp_path, logs)


async def test_a_scaffold_dump_without_exchange_is_refused_naming_the_option(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """Control: without --exchange the file is refused as before, now saying how to name it."""
    fills, _ = await _reference(pool, chain_pool, tmp_path, "v1", 5)
    path = d.write_csv(
        tmp_path / "order_filled.csv", [scaffold_row(i, f) for i, f in enumerate(fills)]
    )
    with pytest.raises(LayoutError, match=r"; exchange \(contract_address.*--exchange ADDRESS"):
        await import_file(pool, path, chain_id=137)


async def test_a_file_naming_another_exchange_is_refused(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """A column naming the same exchange is fine (and an empty cell takes the option's); one
    naming another in the first batch refuses the file before anything is stored; one later is
    a dead letter naming both."""
    fills, _ = await _reference(pool, chain_pool, tmp_path, "v1", 5)
    (first, its), (other, _) = _by_exchange(fills).items()
    rows = [graph_node_row(i, f) for i, f in enumerate(its)]
    rows[0]["contract"] = ""
    same = await import_file(pool, d.write_csv(tmp_path / "same.csv", rows), chain_id=137,
                             exchange=first)  # fmt: skip
    assert (same.stored.trades, same.dead_letters) == (len(its), 0)

    path = d.write_csv(tmp_path / "other.csv", rows)
    with pytest.raises(LayoutError, match=f"--exchange {other}, but its contract column names "):
        await import_file(pool, path, chain_id=137, exchange=other)

    await pool.execute("TRUNCATE orderflow_trades, orderflow_dead_letters")
    rows[-1]["contract"] = bytea(other)
    late = await import_file(pool, d.write_csv(tmp_path / "late.csv", rows), chain_id=137,
                             exchange=first, batch_size=2)  # fmt: skip
    assert (late.stored.trades, late.dead_letters) == (len(its) - 1, 1)
    reason = await pool.fetchval("SELECT reason FROM orderflow_dead_letters")
    assert f"exchange {other}, --exchange {first}: one of them is wrong" in reason, reason


@pytest.mark.parametrize("value", ["0x" + "12" * 20, "NOT_AN_EXCHANGE"])
def test_an_unknown_exchange_option_is_refused_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres@/x?host={tmp_path}/none")
    monkeypatch.setenv("LOG_FORMAT", "text")
    path = tmp_path / "f.csv"
    path.write_text("id\n")
    assert main(["import", str(path), "--exchange", value]) == 2
    err = capsys.readouterr().err
    assert err.startswith("orderflow: --exchange: unknown exchange"), err
