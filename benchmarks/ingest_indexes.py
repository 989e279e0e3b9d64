"""Benchmark: the PostgreSQL backend's CPU per log of each index and trigger of orderflow_trades
on the real store path, statement by statement (issue 14; docs/benchmarks.md "Ingest: cost per
index").

    .venv/bin/python benchmarks/ingest_indexes.py --logs 100000 --runs 12
    .venv/bin/python benchmarks/ingest_indexes.py --variants "072,indexed while importing" \
        --mode import

The backend's CPU is read from ``/proc/<pid>/schedstat`` (nanoseconds) around every statement the
store sends, so each statement's share is its own: the trades insert (its statement triggers
included), the matches insert, the match links, COPY, the end-of-import fold, and the rest
(prologue, BEGIN, COMMIT). A variant is DDL applied to the migrated schema: "072" (as migrated:
the deferrable indexes left out of the import's partition and built at its end, column "build",
parallel maintenance workers off so that their CPU is the backend's), "indexed while importing"
(as before migration 072), "before 016" (main's indexes, and the store's statements as they
were), and, from that schema, one index or trigger dropped ("-tx", "-market", …) or replaced
("tx_hash", "timestamp_brin", …).

* ``--mode batch`` (default): ``--logs`` V2 logs imported into one database; then each round,
  every variant stores the next ``--batches`` batches of 5,000 logs with ``store_batch`` (bulk
  mode) and folds them, in a transaction that applies its DDL first and is rolled back; the dead
  rows are vacuumed after each round. Same rows, same table, same minute for every variant.
* ``--mode import``: a fresh database per variant and the whole import of ``--logs`` logs by
  ``ingest_file(..., workers=2, bulk=True)`` (what ``listen --from-file`` runs), fold included.

Variants run in rotation, ``--runs`` times; the table gives the median (minimum) per statement,
the load average is printed with each round. Needs a server on this machine (the private embedded
one, or ``--dsn``): its backends' CPU is read from /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from log_mix import CHAIN_ID, generate  # noqa: E402
from scratch_db import scratch_server  # noqa: E402

from orderflow import db  # noqa: E402
from orderflow.chain import (  # noqa: E402
    block_times,
    checkpoints,
    dead_letters,
    partition_indexes,
    partitions,
    pending_sums,
    refund_links,
    store_markets,
    store_refunds,
    store_refused,
    store_replace,
    writer_txs,
)
from orderflow.chain import store_sql as sql  # noqa: E402
from orderflow.chain.decode import decode_batch  # noqa: E402
from orderflow.chain.ingest import ingest_file  # noqa: E402
from orderflow.chain.store import store_batch  # noqa: E402

_T = "orderflow_trades"
# name -> DDL applied after the migrations (none: the schema as migrated)
_M = "orderflow_matches"
# The schema before migration 016: market indexes, btree (chain_id, tx_hash, log_index).
BEFORE_016 = "; ".join(
    f"DROP INDEX IF EXISTS {t}_tx; DROP INDEX IF EXISTS {t}_market;"
    f" CREATE INDEX {t}_tx ON {t} (chain_id, tx_hash, log_index);"
    f" CREATE INDEX {t}_market ON {t} (market_id, timestamp)"
    for t in (_T, _M)
)
# Migration 072: the deferrable indexes are each partition's own, left out of a partition a bulk
# import starts empty and built at its end ("build"). NO_DEFER keeps them while importing (the
# store before 072); _defs(...) changes the set a partition gets (and drops that index from the
# partitions that have it), so a variant can leave one out or replace it.
NO_DEFER = (
    "CREATE OR REPLACE FUNCTION orderflow_trade_indexes_defer(blocks BIGINT[]) RETURNS INTEGER"
    " LANGUAGE sql AS 'SELECT orderflow_ensure_partitions_of(blocks)'"
)
_DEFS = {
    "wallet_time": ("(wallet_address, timestamp)", 'btree (wallet_address, "timestamp")'),
    "token_time": (
        "(token_id, timestamp, log_index) INCLUDE (price, block_number)",
        'btree (token_id, "timestamp", log_index) INCLUDE (price, block_number)',
    ),
    "timestamp": ("(timestamp)", 'btree ("timestamp")'),
    "self_match": (
        "(wallet_address) WHERE taker_address = wallet_address",
        "btree (wallet_address) WHERE ((taker_address)::text = (wallet_address)::text)",
    ),
}


def _defs(suffix: str, replacement: tuple[str, str] | None = None) -> str:
    """DDL: the partitions' ``suffix`` index left out (or replaced); none deferred."""
    defs = dict(_DEFS)
    defs.pop(suffix)
    if replacement is not None:
        defs[suffix] = replacement
    rows = ", ".join(
        "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in (s, d, p)) + ")"
        for s, (d, p) in defs.items()
    )
    return (
        f"{NO_DEFER}; CREATE OR REPLACE FUNCTION orderflow_trade_index_defs()"
        " RETURNS TABLE (suffix TEXT, ddl TEXT, printed TEXT) LANGUAGE sql IMMUTABLE AS"
        f" $d$ VALUES {rows} $d$;"
        " DO $x$ DECLARE r RECORD; BEGIN FOR r IN SELECT relname FROM pg_class"
        f" WHERE relkind = 'i' AND relname ~ '^{_T}_p[0-9]{{4,}}_{suffix}$' LOOP"
        " EXECUTE format('DROP INDEX %I', r.relname); END LOOP;"
        " PERFORM orderflow_trade_indexes_build(p) FROM orderflow_trade_indexes_missing() p;"
        " END $x$"
    )


# name -> DDL applied after the migrations (none: the schema as migrated); the one-at-a-time
# variants start from the schema before migration 016, as measured for it.
VARIANTS: dict[str, str] = {
    "072": "",
    "indexed while importing": NO_DEFER,
    "before 016": f"{NO_DEFER}; {BEFORE_016}",
    # both built by CREATE INDEX in the transaction, as "before 016" is (batch mode)
    "016 rebuilt": "; ".join(
        f"DROP INDEX {t}_tx; CREATE INDEX {t}_tx ON {t} USING hash (tx_hash)" for t in (_T, _M)
    ),
    # migration 028's covering token index against the narrow one it replaced, both built in
    # the transaction
    "token_time covering": _defs("token_time", _DEFS["token_time"]),
    "token_time narrow": _defs(
        "token_time", ("(token_id, timestamp)", 'btree (token_id, "timestamp")')
    ),
}
for _name, _ddl in {
    "-tx": f"DROP INDEX {_T}_tx",
    "-id": f"DROP INDEX {_T}_id",
    "-wallet_time": _defs("wallet_time"),
    "-market": f"DROP INDEX {_T}_market",
    "-token_time": _defs("token_time"),
    "-timestamp": _defs("timestamp"),
    "-sums_trigger": f"DROP TRIGGER {_T}_position_sums_insert ON {_T}",
    "-notify_trigger": f"DROP TRIGGER {_T}_notify ON {_T}",
    "-ranges_trigger": f"DROP TRIGGER {_T}_ranges_insert ON {_T}",
    "-sums_token": "DROP INDEX orderflow_position_sums_token",  # what the fold writes
    "tx_hash": f"DROP INDEX {_T}_tx; CREATE INDEX {_T}_tx ON {_T} USING hash (tx_hash)",
    "timestamp_brin": (
        f"DROP INDEX {_T}_timestamp; CREATE INDEX {_T}_timestamp ON {_T} USING brin (timestamp)"
    ),
    "id_brin": f"DROP INDEX {_T}_id; CREATE INDEX {_T}_id ON {_T} USING brin (id)",
    "-market,tx_hash": (
        f"DROP INDEX {_T}_market; DROP INDEX {_T}_tx;"
        f" CREATE INDEX {_T}_tx ON {_T} USING hash (tx_hash)"
    ),
}.items():
    VARIANTS[_name] = f"{NO_DEFER}; {BEFORE_016}; {_ddl}"

# statement text -> label (anything else: "other", with BEGIN/COMMIT and the prologue)
LABELS = {
    sql.INSERT_TRADES: "trades insert",
    sql.INSERT_MATCHES: "matches insert",
    sql.LINK_MATCHES: "links",
    sql.ROWS_BETWEEN: "links",
    pending_sums.FOLD: "fold",
    pending_sums.CLAIM: "fold",
    pending_sums.FOLD_CLAIMED: "fold",
    partition_indexes.BUILD: "build",
    partition_indexes.MISSING: "build",
}


def _named_statements() -> dict[str, str]:
    """Every statement the store may send, by text: ``module.NAME`` (``--detail``)."""
    names: dict[str, str] = {}
    for module in (
        sql,
        store_replace,
        store_refused,
        store_refunds,
        refund_links,
        store_markets,
        pending_sums,
        partitions,
        partition_indexes,
        block_times,
        checkpoints,
        dead_letters,
        writer_txs,
    ):
        short = module.__name__.rsplit(".", 1)[-1]
        for attr, value in vars(module).items():
            if not attr.isupper():
                continue
            texts = value.items() if isinstance(value, dict) else [(None, value)]
            for key, text in texts:
                if isinstance(text, str):
                    names.setdefault(text, f"{short}.{attr}" + ("" if key is None else f"[{key}]"))
    return names


def detail_label(query: str) -> str:
    """A statement's name for ``--detail``: its constant's, else its first words."""
    named = NAMED.get(query)
    if named is not None:
        return named
    if query.startswith(sql.WRITER_LOCK):
        return "prologue (lock, settings, staging tables)"
    return " ".join(query.split())[:40]


NAMED = _named_statements()


@contextmanager
def statements_for(ddl: str) -> Iterator[None]:
    """With the indexes before migration 016, the store's statements as they were then: the
    chain an index condition of lookups by transaction (the btree's leading column), not the
    filter that keeps the hash index alone (store_sql.CHAIN_FILTER)."""
    if BEFORE_016 not in ddl:
        yield
        return
    names = ((sql, "LINK_MATCHES"), (refund_links, "SELECT_CANDIDATES"), (refund_links, "APPLY"))
    saved = [getattr(m, n) for m, n in names]
    for m, n in names:
        setattr(m, n, getattr(m, n).replace(sql.CHAIN_FILTER, "chain_id = $1"))
    LABELS[sql.LINK_MATCHES] = "links"
    try:
        yield
    finally:
        for (m, n), text in zip(names, saved, strict=True):
            setattr(m, n, text)


def schedstat_secs(pid: int) -> float:
    """CPU seconds process ``pid`` has run (nanosecond resolution)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9


class StatementClock:
    """Backend CPU per statement label: wraps the asyncpg methods the store calls."""

    METHODS = ("execute", "fetch", "fetchval", "fetchrow", "copy_to_table")

    def __init__(self, detail: bool = False) -> None:
        self.secs: defaultdict[str, float] = defaultdict(float)
        self.saved: dict[str, Any] = {}
        self.detail = detail  # every statement apart (``--detail``), not the columns'
        self.calls: defaultdict[str, int] = defaultdict(int)

    def _label(self, method: str, query: Any) -> str:
        if method == "copy_to_table":
            return "copy " + str(query) if self.detail else "copy"
        if not isinstance(query, str):
            return "other"
        if self.detail:
            return detail_label(query)
        return LABELS.get(query, "other")

    def __enter__(self) -> StatementClock:
        cls = asyncpg.connection.Connection
        for name in self.METHODS:
            original = getattr(cls, name)
            self.saved[name] = original
            setattr(cls, name, self._wrap(name, original))
        return self

    def __exit__(self, *exc: object) -> None:
        for name, original in self.saved.items():
            setattr(asyncpg.connection.Connection, name, original)

    def _wrap(
        self, name: str, original: Callable[..., Awaitable[Any]]
    ) -> Callable[..., Awaitable[Any]]:
        clock = self

        async def timed(conn: asyncpg.Connection, query: Any = None, *a: Any, **kw: Any) -> Any:
            pid = conn.get_server_pid()
            before = schedstat_secs(pid)
            try:
                return await original(conn, query, *a, **kw)
            finally:
                label = clock._label(name, query)
                clock.secs[label] += schedstat_secs(pid) - before
                clock.calls[label] += 1

        return timed


async def run_variant(
    dsn: str, ddl: str, path: Path, logs: int, detail: dict[str, list[float]] | None = None
) -> dict[str, float]:
    """µs of backend CPU per log, by statement label, of one import into ``dsn``; with
    ``detail``, also by statement (appended to its lists, the calls under ``"<label> calls"``)."""
    conn = await db.connect(dsn)
    try:
        # the index builds' CPU in the backend measured, not in parallel workers
        await conn.execute(
            "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET max_parallel_maintenance_workers"
            " = 0', current_database()); END $$"
        )
        if ddl:
            await conn.execute(ddl)
    finally:
        await conn.close()
    pool = await db.create_pool(dsn, min_size=1, max_size=1)
    try:
        with statements_for(ddl), StatementClock(detail=detail is not None) as clock:
            report = await ingest_file(
                pool, path, chain_id=CHAIN_ID, batch_size=5000, workers=2, bulk=True
            )
        trades = await pool.fetchval(f"SELECT count(*) FROM {_T}")
    finally:
        await pool.close()
    assert report.stored.dead_letters == 0 and trades > 0
    per = {k: v / logs * 1e6 for k, v in clock.secs.items()}
    if detail is not None:
        for k, v in per.items():
            detail.setdefault(k, []).append(v)
            detail.setdefault(f"{k} calls", []).append(clock.calls[k])
        per = {"other": sum(per.values())}  # the columns are not split in this mode
    per["store total"] = sum(v for k, v in per.items() if k not in ("fold", "build"))
    per["trades"] = trades
    return per


COLUMNS = (
    "trades insert",
    "matches insert",
    "links",
    "copy",
    "other",
    "store total",
    "fold",
    "build",
)


async def batch_rounds(
    conn: asyncpg.Connection, names: list[str], batches: list[list[dict[str, Any]]], runs: int
) -> dict[str, list[dict[str, float]]]:
    """Interleaved A/B on one database: each round, every variant in turn stores ``batches``
    with the real ``store_batch`` (bulk) and folds them, inside a transaction that applies the
    variant's DDL first and is rolled back at the end; the dead rows are vacuumed away after
    each round. Same rows, same table, same minute for every variant."""
    logs = sum(len(b) for b in batches)
    decoded = [decode_batch(b, CHAIN_ID) for b in batches]
    blocks = [int(log["blockNumber"], 16) for b in batches for log in b]
    await partitions.ensure(conn, min(blocks), max(blocks))
    results: defaultdict[str, list[dict[str, float]]] = defaultdict(list)
    for run in range(runs):
        order = names[run % len(names) :] + names[: run % len(names)]
        for name in order:
            tx = conn.transaction()
            await tx.start()
            try:
                if VARIANTS[name]:
                    await conn.execute(VARIANTS[name])
                with statements_for(VARIANTS[name]), StatementClock() as clock:
                    for batch in decoded:
                        await store_batch(conn, batch, chain_id=CHAIN_ID, bulk=True)
                    await pending_sums.fold(conn)
            finally:
                await tx.rollback()
            per = {k: v / logs * 1e6 for k, v in clock.secs.items()}
            per["store total"] = sum(v for k, v in per.items() if k not in ("fold", "build"))
            results[name].append(per)
        await conn.execute("VACUUM orderflow_trades, orderflow_matches, orderflow_position_sums")
        print(f"round {run + 1}/{runs}, load " + _load(), flush=True)
    return results


def _load() -> str:
    return "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def _table(results: dict[str, list[dict[str, float]]], names: list[str]) -> None:
    print("| variant | " + " | ".join(COLUMNS) + " |")
    print("|---|" + "---:|" * len(COLUMNS))
    for name in names:
        cells = []
        for c in COLUMNS:
            vals = sorted(r.get(c, 0.0) for r in results[name])
            cells.append(f"{vals[len(vals) // 2]:.1f} ({vals[0]:.1f})")
        print(f"| {name} | " + " | ".join(cells) + " |")


def _detail_table(name: str, detail: dict[str, list[float]]) -> None:
    """``--detail``: each statement's backend µs per log, median (minimum), and its calls."""
    rows = []
    for label, vals in detail.items():
        if label.endswith(" calls"):
            continue
        ordered = sorted(vals)
        calls = sorted(detail[f"{label} calls"])
        rows.append((ordered[len(ordered) // 2], ordered[0], calls[len(calls) // 2], label))
    print(f"\n{name}: | statement | µs per log | calls |\n|---|---:|---:|")
    for median, low, median_calls, label in sorted(rows, reverse=True):
        print(f"| {label} | {median:.2f} ({low:.2f}) | {median_calls:.0f} |")
    total = sum(r[0] for r in rows)
    print(f"| all (sum of medians) | {total:.2f} | |")


async def main_async(args: argparse.Namespace) -> int:
    names = args.variants.split(",") if args.variants else list(VARIANTS)
    if args.detail and args.mode != "import":
        raise SystemExit("--detail needs --mode import")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    extra = args.batches * 5000 if args.mode == "batch" else 0
    logs = generate(args.logs + extra + 5000, args.seed, ("V2",))
    tail, logs = logs[args.logs : args.logs + extra], logs[: args.logs]
    results: defaultdict[str, list[dict[str, float]]] = defaultdict(list)
    details: dict[str, dict[str, list[float]]] = {n: {} for n in names}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "logs.jsonl"
        path.write_text("".join(json.dumps(log) + "\n" for log in logs))
        async with scratch_server(args.dsn, args.data_dir) as scratch:
            if args.mode == "batch":
                dsn = await scratch.fresh()
                await run_variant(dsn, "", path, len(logs))  # the table the batches go to
                conn = await db.connect(dsn)
                try:
                    await conn.execute("VACUUM ANALYZE")
                    batches = [tail[i : i + 5000] for i in range(0, extra, 5000)]
                    print(
                        f"{len(logs):,} V2 logs stored; {len(tail):,} more stored and rolled "
                        f"back per variant and round, in batches of 5,000; load {_load()}",
                        flush=True,
                    )
                    results.update(await batch_rounds(conn, names, batches, args.runs))
                finally:
                    await conn.close()
            else:
                print(f"{len(logs):,} V2 logs, a fresh database per variant", flush=True)
                for run in range(args.runs):
                    for name in names if run % 2 == 0 else names[::-1]:
                        per = await run_variant(
                            await scratch.fresh(),
                            VARIANTS[name],
                            path,
                            len(logs),
                            details[name] if args.detail else None,
                        )
                        results[name].append(per)
                        print(
                            f"run {run + 1} {name:<16} "
                            + " ".join(f"{c} {per.get(c, 0):.1f}" for c in COLUMNS)
                            + f" | load {_load()}",
                            flush=True,
                        )
    print(f"\nbackend µs per log, median (minimum) of {args.runs} runs ({args.mode} mode)")
    if args.detail:
        for name in names:
            _detail_table(name, details[name])
    else:
        _table(results, names)
    print("load average " + _load())
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--logs", type=int, default=50_000, help="V2 logs imported first / per import (50,000)"
    )
    p.add_argument("--runs", type=int, default=2, help="rotations over the variants (2)")
    p.add_argument(
        "--mode",
        choices=("batch", "import"),
        default="batch",
        help="batch: interleaved rolled-back batches on one database (default); import: a "
        "whole import into a fresh database per variant",
    )
    p.add_argument(
        "--batches", type=int, default=2, help="batch mode: 5,000-log batches per variant (2)"
    )
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--detail",
        action="store_true",
        help="import mode: every statement's backend CPU apart (by its constant's name), "
        "instead of the columns",
    )
    p.add_argument("--variants", help=f"comma-separated subset of: {', '.join(VARIANTS)}")
    p.add_argument(
        "--dsn", help="maintenance database URL of a server on this machine (default: embedded)"
    )
    p.add_argument("--data-dir", help="embedded server directory (default: a temporary one)")
    return asyncio.run(main_async(p.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
