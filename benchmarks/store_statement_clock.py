"""The PostgreSQL backend's CPU per statement the store sends (``benchmarks/ingest_indexes.py``):
:class:`StatementClock` wraps the asyncpg methods the store calls and reads the backend's
``/proc/<pid>/schedstat`` around each, by label (:data:`LABELS`: the columns) or, with ``detail``,
by the statement's constant (:func:`detail_label`); :func:`statements_for` gives the "before 016"
variants the store's statements as they were then."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
from ingest_index_variants import BEFORE_016

from orderflow.chain import (
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
from orderflow.chain import store_sql as sql

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
