"""numpy columns through PostgreSQL's binary COPY, both ways, on the real server."""

from __future__ import annotations

import tracemalloc

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


# Runs of one type broken by others, as the population step's layout has them (int4, float8s,
# int2, float8, int2s).
MIXED = (
    ("idx", "int4"),
    ("a", "float8"),
    ("b", "float8"),
    ("c", "float8"),
    ("changed", "int2"),
    ("score", "float8"),
    ("tier", "int2"),
    ("flags", "int2"),
    ("n", "int8"),
)


def _mixed(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    return {
        name: (rng.normal(size=n) if t == "float8" else rng.integers(-999, 999, n))
        for name, t in MIXED
    }


@pytest.mark.parametrize("n", [0, 1, 3, 70_001])  # 70,001: more than two steps of rows
def test_decode_reads_back_what_encode_wrote(n: int) -> None:
    values = _mixed(n)
    back = binary_copy.decode(MIXED, binary_copy.encode(MIXED, values))
    assert list(back) == [name for name, _ in MIXED]
    for name, pg_type in MIXED:
        assert back[name].shape == (n,) and back[name].dtype.isnative, name
        assert back[name].dtype == np.dtype(binary_copy.TYPES[pg_type]).newbyteorder("=")
        assert np.array_equal(back[name], values[name]), name


@pytest.mark.parametrize("field", ["b", "tier", "n"])
def test_decode_refuses_a_wrong_width_anywhere(field: str) -> None:
    """A field whose length word is not its type's width (a NULL: -1) in the middle of a run, at
    a run's edge, or in the last column: refused, not misread."""
    values = _mixed(5)
    stream = bytearray(binary_copy.encode(MIXED, values))
    record = binary_copy._record(MIXED)
    assert record.fields is not None  # a structured dtype
    at = 19 + 3 * record.itemsize + record.fields[f"_len_{field}"][1]  # the fourth row
    stream[at : at + 4] = (-1).to_bytes(4, "big", signed=True)
    with pytest.raises(ValueError, match="NULL or a field of unexpected width"):
        binary_copy.decode(MIXED, stream)


def test_decode_refuses_a_wrong_field_count() -> None:
    stream = bytearray(binary_copy.encode(MIXED, _mixed(4)))
    at = 19 + 2 * binary_copy._record(MIXED).itemsize
    stream[at : at + 2] = (8).to_bytes(2, "big")
    with pytest.raises(ValueError, match="NULL or a field of unexpected width"):
        binary_copy.decode(MIXED, stream)


async def test_packed_float8_read_to_the_bit(pool: asyncpg.Pool) -> None:
    """A bytea of float8send values (the stored inputs' packed column) reads as one (rows x k)
    array, bit for bit the values the row by row read gives; a short or NULL field is refused."""
    rng = np.random.default_rng(11)
    n = 500
    x = rng.normal(size=(n, 3))
    x[0] = [np.nan, 1e-310, -0.0]
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "CREATE TEMP TABLE p (i int4, a float8, b float8, c float8,"
            " k bytea GENERATED ALWAYS AS (float8send(coalesce(a, 'NaN'))"
            " || float8send(coalesce(b, 'NaN')) || float8send(coalesce(c, 'NaN'))) STORED)"
            " ON COMMIT DROP"
        )
        columns = (("i", "int4"), ("a", "float8"), ("b", "float8"), ("c", "float8"))
        await binary_copy.write(
            conn, "p", columns, {"i": np.arange(n), "a": x[:, 0], "b": x[:, 1], "c": x[:, 2]}
        )
        layout = (("i", "int4"), ("k", binary_copy.packed(3)), ("a", "float8"))
        back = await binary_copy.read(conn, "SELECT i, k, a FROM p ORDER BY i", layout)
        assert back["k"].shape == (n, 3) and back["k"].dtype.isnative
        assert np.array_equal(back["k"].view(np.int64), x.view(np.int64))  # the bits, NaN too
        assert np.array_equal(back["a"], x[:, 0], equal_nan=True)
        for short in ("substr(k, 1, 16)", "NULL::bytea"):
            with pytest.raises(ValueError, match=r"NULL|fixed-width|width"):
                await binary_copy.read(conn, f"SELECT i, {short}, a FROM p ORDER BY i", layout)


async def test_written_as_it_is_encoded_never_whole(pool: asyncpg.Pool) -> None:
    """The rows go out in chunks as they are encoded: the stream (40 MB here; 310 MB for a
    million wallets' scores) is never held whole. Built whole, it was three copies of itself at
    its peak: ``traced peak 3.0 times the stream`` (tracemalloc counts numpy's buffers)."""
    n = 1_000_000
    values: dict[str, np.ndarray] = {
        "i": np.arange(n, dtype=np.int32),
        "s": np.zeros(n, dtype=np.int16),
        "b": np.arange(n, dtype=np.int64),
        "x": np.linspace(0.0, 1.0, n),
    }
    stream = 19 + n * (2 + 4 * 4 + 4 + 2 + 8 + 8) + 2
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("CREATE TEMP TABLE t (i int4, s int2, b int8, x float8) ON COMMIT DROP")
        tracemalloc.start()
        try:
            await binary_copy.write(conn, "t", COLUMNS, values)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < stream / 2, f"traced peak {peak / stream:.1f} times the stream"
        got = await conn.fetchrow("SELECT count(*), sum(b)::int8, max(x) FROM t")
        assert tuple(got) == (n, n * (n - 1) // 2, 1.0)
