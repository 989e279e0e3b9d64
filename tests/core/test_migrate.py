"""`orderflow migrate` against a real PostgreSQL: order, idempotence, concurrency, drift."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from orderflow import db
from orderflow.errors import MigrationError
from orderflow.migrate import discover, migrate

SEED_TABLES = {
    "orderflow_trades",
    "orderflow_wallet_stats",
    "orderflow_market_outcomes",
    "orderflow_signals",
    "orderflow_positions",
    "orderflow_reputation_history",
    "orderflow_performance",
}
LISTENER_TABLES = {
    "orderflow_tokens",
    "orderflow_conditions",
    "orderflow_sync_checkpoints",
    "orderflow_blocks",
    "orderflow_dead_letters",
    "orderflow_matches",
}


async def test_migrate_twice_applies_once(empty_dsn: str) -> None:
    conn = await db.connect(empty_dsn)
    try:
        first = await migrate(conn)
        second = await migrate(conn)
        assert first == [m.name for m in discover()]
        assert second == []
        tables = {
            r["table_name"]
            for r in await conn.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema='public'"
            )
        }
        assert tables >= SEED_TABLES | LISTENER_TABLES
        assert {"orderflow_top_wallets", "orderflow_hot_signals"} <= tables
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM pg_proc WHERE proname = 'orderflow_position_sums_on_insert'"
            )
            == 1
        )
    finally:
        await conn.close()


async def test_concurrent_migrations_do_not_collide(empty_dsn: str) -> None:
    conns = [await db.connect(empty_dsn) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in conns))
        applied = [name for r in results for name in r]
        assert sorted(applied) == sorted(m.name for m in discover())
    finally:
        for c in conns:
            await c.close()


async def test_edited_migration_is_refused(empty_dsn: str, tmp_path: Path) -> None:
    (tmp_path / "001_a.sql").write_text("CREATE TABLE a (x int);")
    conn = await db.connect(empty_dsn)
    try:
        assert await migrate(conn, tmp_path) == ["001_a.sql"]
        (tmp_path / "001_a.sql").write_text("CREATE TABLE a (x bigint);")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(conn, tmp_path)
    finally:
        await conn.close()


async def test_failed_migration_rolls_back_and_names_file(empty_dsn: str, tmp_path: Path) -> None:
    (tmp_path / "001_ok.sql").write_text("CREATE TABLE ok (x int);")
    (tmp_path / "002_bad.sql").write_text("CREATE TABLE bad (x int); SELECT * FROM nope;")
    conn = await db.connect(empty_dsn)
    try:
        with pytest.raises(MigrationError, match=r"002_bad\.sql"):
            await migrate(conn, tmp_path)
        assert await conn.fetchval("SELECT to_regclass('bad')") is None
        assert await conn.fetchval("SELECT max(version) FROM orderflow_schema_migrations") == 1
    finally:
        await conn.close()


def test_bad_file_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "init.sql").write_text("")
    with pytest.raises(MigrationError, match=r"001_name\.sql"):
        discover(tmp_path)


async def test_money_columns_are_exact(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        floats = await conn.fetch(
            """SELECT table_name, column_name FROM information_schema.columns
                WHERE table_name IN ('orderflow_trades', 'orderflow_matches', 'orderflow_positions')
                  AND data_type IN ('real', 'double precision')"""
        )
        assert floats == []
    finally:
        await conn.close()
