"""numpy columns through PostgreSQL's binary COPY, both ways, on the real server."""

from __future__ import annotations

import asyncpg
import numpy as np
import pytest

from orderflow.reputation import binary_copy

COLUMNS = (("i", "int4"), ("s", "int2"), ("b", "int8"), ("x", "float8"))


async def test_round_trip_through_postgres(pool: asyncpg.Pool) -> None:
    rng = np.random.default_rng(7)
    n = 1_000
    values = {
        "i": np.arange(n, dtype=np.int64) - 500,
        "s": rng.integers(-3, 4, n),
        "b": rng.integers(-(2**62), 2**62, n),
        "x": np.concatenate([rng.normal(size=n - 3), [np.nan, 1e-310, -0.0]]),
    }
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("CREATE TEMP TABLE t (i int4, s int2, b int8, x float8) ON COMMIT DROP")
        await binary_copy.write(conn, "t", COLUMNS, values)
        rows = await conn.fetch("SELECT i, s, b, x FROM t ORDER BY i")
        assert [r["b"] for r in rows] == values["b"].tolist()
        assert [r["s"] for r in rows] == values["s"].tolist()
        stored = np.array([r["x"] for r in rows])
        assert np.array_equal(stored, values["x"], equal_nan=True)  # to the bit, NaN kept

        back = await binary_copy.read(conn, "SELECT i, s, b, x FROM t ORDER BY i", COLUMNS)
        for name, _ in COLUMNS:
            assert np.array_equal(back[name], values[name], equal_nan=True), name
        assert back["x"].dtype == np.float64 and back["x"].dtype.isnative

        # a NULL cannot be read as a fixed-width record: refused, not misread
        await conn.execute("UPDATE t SET x = NULL WHERE i = 0")
        with pytest.raises(ValueError, match=r"NULL|fixed-width"):
            await binary_copy.read(conn, "SELECT i, s, b, x FROM t ORDER BY i", COLUMNS)


def test_refuses_what_is_not_a_copy_stream() -> None:
    with pytest.raises(ValueError, match="not a PostgreSQL binary COPY"):
        binary_copy.decode(COLUMNS, b"id,x\n1,2\n")
