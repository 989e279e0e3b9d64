"""``orderflow demo --small`` end to end on a real PostgreSQL: every stage, both reports."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from pathlib import Path
from xml.etree import ElementTree

import asyncpg
import pytest

from orderflow.cli import main
from orderflow.demo.store import redact, with_database
from orderflow.embedded import pgdata_dir, stop_server


def test_demo_small_runs_end_to_end(
    pg_server_dsn: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", pg_server_dsn)
    name = f"demo_{uuid.uuid4().hex[:10]}"
    out = tmp_path / "demo"
    code = main(["demo", "--small", "--seed", "2", "--out-dir", str(out), "--database", name])
    text = capsys.readouterr().out
    assert code == 0, text
    for needle in (
        "Top 15 wallets",
        "hidden style",
        "Spearman",
        "follow-all",
        "follow-random",
        "Verdict:",
        "95% bootstrap interval over markets",
        "AUC, skilled vs not",
        "market makers in the top tiers",
        "wash wallets in the top tiers",
        "forward test: Spearman",
        "Flagged wallets",
        "report.html",
    ):
        assert needle in text
    check_wallet_table(text)
    # The verdict is read from the interval: one of three words, never a bare sign.
    assert re.search(r"Verdict: (PAID|LOST|INCONCLUSIVE) ", text)
    html = (out / "report.html").read_text()
    assert "<th>measured edge</th><th>measured se</th>" in html and "Population prior" in html
    svgs = re.findall(r"<svg.*?</svg>", html, re.S)
    assert len(svgs) == 7  # verdict, fills, prices, equity, P&L by type, skill, quality
    for svg in svgs:  # each chart is well-formed XML with drawn marks, not an empty frame
        root = ElementTree.fromstring(svg)  # noqa: S314 (our own output)
        assert (
            root.findall(".//{http://www.w3.org/2000/svg}polyline")
            or root.findall(".//{http://www.w3.org/2000/svg}circle")
            or root.findall(".//{http://www.w3.org/2000/svg}rect")
        )
    assert "<script" not in html and "http" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    assert (out / "logs.jsonl").stat().st_size > 0 and (out / "truth.json").exists()

    import asyncio

    async def check() -> None:
        conn = await asyncpg.connect(with_database(pg_server_dsn, name))
        try:
            trades = await conn.fetchval("SELECT count(*) FROM orderflow_trades")
            scored = await conn.fetchval(
                "SELECT count(*) FROM orderflow_wallet_stats WHERE reputation_score IS NOT NULL"
            )
            strategy = await conn.fetchval(
                "SELECT count(*) FROM orderflow_strategies WHERE name = 'demo'"
            )
            executed = await conn.fetchval(
                "SELECT count(*) FROM orderflow_signals WHERE strategy = 'demo' "
                "AND status = 'EXECUTED'"
            )
            positions = await conn.fetchval(
                "SELECT count(*) FROM orderflow_positions WHERE strategy = 'demo'"
            )
            entries = await conn.fetchval(
                "SELECT count(*) FROM orderflow_signals WHERE strategy = 'demo' "
                "AND status = 'EXECUTED' AND side = 'BUY'"
            )
            delays = {
                r[0]
                for r in await conn.fetch(
                    "SELECT decided_at - trade_time FROM orderflow_signals WHERE strategy = 'demo'"
                )
            }
        finally:
            await conn.close()
        assert delays <= {timedelta(seconds=8.008)}  # decided the latency after the leader
        assert trades > 1000 and scored > 50 and strategy == 1
        assert positions == entries  # one position per executed entry; exits close them
        match = re.search(r"strategy\s+(\d+)\s+(\d+)", text)
        assert match is not None and int(match.group(2)) == executed

    asyncio.run(check())

    # A rerun starts from a clean database: same seed, same numbers.
    assert main(["demo", "--small", "--seed", "2", "--out-dir", str(out), "--database", name]) == 0
    again = capsys.readouterr().out
    table = re.compile(r"^(?:strategy|follow-all|follow-random) .*$", re.M)
    assert len(table.findall(text)) == 6  # the summary table and the interval table
    assert table.findall(again) == table.findall(text)
    check_explore_line(text, with_database(pg_server_dsn, name), monkeypatch, capsys)


_TOP_ROW = re.compile(
    r"^(0x[0-9a-f]{10}…) +\S+ +[\d.]+ +\d+ +\d+ +([+-][\d.]+) ±([\d.]+) +"
    r"(?:([+-][\d.]+) ±([\d.]+)|-)",
    re.M,
)


def check_wallet_table(text: str) -> None:
    """The top wallets' table shows each record's measured edge ± se beside the posterior, and
    the line under it says what the prior did: in the default worlds every posterior is the
    population's mean (the prior's spread at its floor), and the table read as broken."""
    table = text.split("Top 15 wallets", 1)[1].split("Score quality against", 1)[0]
    assert " wins posterior ± sd measured ± se " in table, table  # titles apart
    rows = _TOP_ROW.findall(table)
    assert len(rows) == 15, table
    assert "Population prior" in table, table
    posteriors = [float(r[1]) for r in rows]
    measured = [float(r[3]) for r in rows if r[3]]
    assert len(measured) > 1, table
    if "at its floor" in table:  # shrunk alike (but for mu's own se), the records apart
        assert "the data cannot tell these wallets apart yet" in table
        assert max(posteriors) - min(posteriors) <= 0.005 < max(measured) - min(measured), table
    flagged = text.split("Flagged wallets", 1)[1].split("Paper trading", 1)[0]
    assert "measured" in flagged, flagged


def check_explore_line(
    text: str, dsn: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The closing line names an address as the console printed it, and ``orderflow wallet``
    takes it so."""
    line = next(x for x in text.splitlines() if "explore it" in x)
    first = _TOP_ROW.findall(text.split("Top 15 wallets", 1)[1])[0][0]
    assert f"orderflow wallet {first}" in line and "as printed" in line, line
    monkeypatch.setenv("DATABASE_URL", dsn)
    assert main(["wallet", first]) == 0
    assert first.removesuffix("…") in capsys.readouterr().out


def test_demo_bad_arguments_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--small", "--set", "kelly_fraction=2", "--out-dir", str(tmp_path)]) == 2
    assert "kelly_fraction" in capsys.readouterr().err
    assert main(["demo", "--step", "0", "--out-dir", str(tmp_path)]) == 2
    assert "--step" in capsys.readouterr().err
    assert main(["demo", "--database", "Bad-Name", "--out-dir", str(tmp_path)]) == 2
    assert "--database" in capsys.readouterr().err
    assert main(["demo", "--wallets", "1"]) == 2
    assert "--wallets" in capsys.readouterr().err
    assert main(["demo", "--seeds", "0", "--out-dir", str(tmp_path)]) == 2
    assert "--seeds" in capsys.readouterr().err
    assert main(["demo", "--latency", "soon", "--out-dir", str(tmp_path)]) == 2
    assert "--latency" in capsys.readouterr().err


def test_demo_refuses_a_bad_database_name_before_starting_a_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad option is refused before any I/O: `--database Bad-Name` started the embedded
    PostgreSQL and printed "simulating, ingesting …" before saying the name was wrong."""
    data = tmp_path / "data"
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("ORDERFLOW_DATA_DIR", str(data))
    try:
        assert main(["demo", "--database", "Bad-Name", "--out-dir", str(tmp_path / "o")]) == 2
        out = capsys.readouterr()
        assert "--database" in out.err
        assert "simulating" not in out.out
        assert not pgdata_dir(data).exists()
    finally:
        stop_server(data)


def test_redact_hides_passwords() -> None:
    assert redact("postgresql://u:secret@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert redact("postgresql://u@h/d") == "postgresql://u@h/d"


async def test_fresh_database_without_privilege_is_a_clear_error(pg_server_dsn: str) -> None:
    from orderflow.demo.store import fresh_database
    from orderflow.errors import DatabaseError

    role = f"r_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(pg_server_dsn)
    try:
        await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'pw' NOCREATEDB")
        parts = pg_server_dsn.split("://", 1)[1]
        rest = parts.split("@", 1)[1] if "@" in parts else parts
        limited = f"postgresql://{role}:pw@{rest}"
        with pytest.raises(DatabaseError, match="CREATEDB"):
            await fresh_database(limited, f"demo_{uuid.uuid4().hex[:8]}")
    finally:
        await admin.execute(f"DROP ROLE IF EXISTS {role}")
        await admin.close()
