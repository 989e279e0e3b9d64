"""``orderflow wallet ADDRESS``: a wallet's score broken into factors, statistics, positions."""

from __future__ import annotations

import argparse
import json
import re

import asyncpg

from orderflow import db
from orderflow.cli._common import add_log_format, parse_timestamp, settings_for
from orderflow.errors import ConfigError
from orderflow.migrate import migrate
from orderflow.reputation import ReputationSettings, wallet_sql
from orderflow.reputation.archived import archived_fills
from orderflow.reputation.copy_leaders import relation
from orderflow.reputation.explain import live_factors, render
from orderflow.reputation.per_wallet import wallet_report
from orderflow.reputation.run import population_as_of

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
# A shortened address as the demo prints it: its first digits (8 or more), then `…` or `...`
# and, as the HTML report has them, its last ones.
_SHORT = re.compile(r"^(0x[0-9a-fA-F]{8,39})(?:(?:…|\.\.\.)([0-9a-fA-F]{0,32}))?$")
_ALL = 2**63 - 1  # LIMIT's bigint: a larger --history shows them all as well


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "wallet", help="explain a wallet's score: factors, statistics, positions, history"
    )
    p.add_argument(
        "address",
        help="the wallet (0x + 40 hex digits, any case), or its first digits as the demo prints "
        "it (0x1234abcd…, 0x1234abcd…9f3e): one scored wallet must match",
    )
    p.add_argument(
        "--as-of",
        metavar="TIMESTAMP",
        help="replay positions from fills and resolutions known at this time, scored against "
        "the population as of then (one read-only recompute of every wallet)",
    )
    p.add_argument("--history", type=int, default=10, metavar="N", help="score changes shown")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    add_log_format(p)
    p.set_defaults(handler=run, settings=(ReputationSettings,))


def _wanted(given: str) -> tuple[str, str | None]:
    """The address given, whole (tail None), or a shortened one's first and last digits."""
    if _ADDRESS.match(given):
        return given.lower(), None
    short = _SHORT.match(given)
    if short is None:
        raise ConfigError(
            f"not a wallet address: {given!r} (expected 0x + 40 hex digits, or its first 8 or"
            " more as the demo prints it: 0x1234abcd…)"
        )
    return short.group(1).lower(), (short.group(2) or "").lower()


async def _address(conn: asyncpg.Connection, given: str, wanted: tuple[str, str | None]) -> str:
    """The wallet ``wanted`` names: itself when whole, else the one scored wallet it shortens."""
    head, tail = wanted
    if tail is None:
        return head
    found = [str(r[0]) for r in await conn.fetch(wallet_sql.WALLETS_MATCHING, head, tail)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise ConfigError(
            f"no scored wallet matches {given!r}: give the whole address (0x + 40 hex digits)"
        )
    shown = ", ".join(found[:5]) + (", …" if len(found) > 5 else "")
    raise ConfigError(f"{given!r} matches more than one scored wallet ({shown}): give more digits")


async def run(args: argparse.Namespace) -> int:
    wanted = _wanted(args.address)
    if args.history < 0:
        raise ConfigError(f"--history: the score changes to show, 0 or more, got {args.history}")
    as_of = parse_timestamp(args.as_of) if args.as_of is not None else None
    settings = settings_for(ReputationSettings, args)
    async with db.open_pool(settings, min_size=1, max_size=2) as pool, pool.acquire() as conn:
        await migrate(conn)
        address = await _address(conn, args.address, wanted)
        stats = await conn.fetchrow(wallet_sql.WALLET_STATS, address)
        if as_of is None:
            report = await wallet_report(conn, address, settings=settings, stats=stats)
        else:  # the population and counterparties as of then, not the last run's (later) ones
            prior, factors = await population_as_of(conn, address, as_of=as_of, settings=settings)
            report = await wallet_report(
                conn,
                address,
                as_of=as_of,
                settings=settings,
                stats={"factors": factors or {}},
                prior=prior,
            )
        # Fills in partitions detached for archiving: the replay cannot read them; said, not
        # left out of a record shown as whole.
        archived = await archived_fills(conn, address)
        unscored = stats is None or (archived is not None and stats["reputation_score"] is None)
        if report.trades == 0 and (unscored or as_of is not None):
            # A replay of nothing would score the neutral prior (NOVICE, 4.25): say so instead.
            when = f" before {as_of.isoformat()}" if as_of is not None else ""
            if archived is not None:
                since = (
                    f", fills before {archived.before:%Y-%m-%d %H:%M:%S%z}"
                    if archived.before is not None
                    else ""
                )
                raise ConfigError(
                    f"no attached fills for wallet {address}{when}: {archived.fills} of the"
                    f" wallet's {archived.stored_fills} fills are in partitions detached from"
                    f" orderflow_trades{since}; attach them to replay (`orderflow db partitions`)"
                )
            raise ConfigError(
                f"no fills stored for wallet {address}{when}: nothing to score (check the "
                "address; fills come in with `orderflow listen` or `orderflow import`)"
            )
        history = await conn.fetch(wallet_sql.WALLET_HISTORY, address, min(args.history, _ALL))
        # whom it trails and who trails it, judged by the COPIER test (the last run's pairs:
        # not for a replay)
        copy = None if as_of is not None else await relation(conn, address, stats, settings)
    if args.json:
        out = {
            "wallet_address": address,
            "stats": (
                {k: v for k, v in stats.items() if k not in wallet_sql.FIGURE_COLUMNS}
                if stats
                else None
            ),
            "live": live_factors(report, settings),
            "positions": [
                {
                    "token_id": str(tp.token_id),
                    "market_id": tp.market_id,
                    "outcome_index": tp.outcome_index,
                    "shares": tp.shares,
                    "avg_price": tp.avg_price,
                    "cost_basis": tp.cost_basis,
                    "realized_pnl": tp.realized,
                    "fees_paid": tp.position.fees_paid,
                    "payout": tp.payout,
                    "problem": tp.problem,
                    "last_price": tp.last_price,
                    "unrealized_pnl": tp.unrealized,
                    "taker_volume": tp.taker_volume,
                    "volume": tp.volume,
                }
                for tp in report.positions
            ],
            "history": [dict(h) for h in history],
            # the leaders it trails in copy_min_markets tokens (None: no pairs kept, or a replay)
            "copying": None if copy is None else [c.as_json() for c in copy.leaders],
            # the wallets that copy it by the COPIER rule (None: the same)
            "copied_by": None if copy is None else [c.as_json() for c in copy.copied_by],
            # its fills in detached partitions, not in the positions (None: none)
            "archived": (
                None
                if archived is None
                else {
                    "fills": archived.fills,
                    "stored_fills": archived.stored_fills,
                    "before": archived.before,
                }
            ),
        }
        print(json.dumps(out, default=str, indent=2))
    else:
        print(
            render(
                stats,
                report,
                history,
                replayed=as_of is not None,
                settings=settings,
                archived=archived,
                copy=copy,
            )
        )
    return 0
