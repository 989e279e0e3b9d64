"""``orderflow strategy status NAME``: a strategy's figures, positions, live orders, order
outcomes and signals, as aligned text or (``--json``) one JSON document with exact decimals."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from orderflow.cli._common import parse_timestamp
from orderflow.durations import parse_duration
from orderflow.errors import ConfigError
from orderflow.execution.status import OrderLine, PositionLine, StrategyStatus


def parse_since(value: str, now: datetime) -> datetime:
    """``--since``: a duration back from now (``90m``, ``24h``, ``7d``: a unit is required, a
    bare number is a unix time) or a timestamp."""
    text = value.strip().lower()
    try:
        if text[-1:] in ("s", "m", "h", "d", "w"):
            return now - timedelta(seconds=parse_duration(text, "--since"))
        return parse_timestamp(value)
    except (ConfigError, OverflowError):
        raise ConfigError(
            f"--since expects a duration (30m, 24h, 7d) or a timestamp, got {value!r}"
        ) from None


def to_json(status: StrategyStatus) -> str:
    """One JSON document: decimals as exact strings (no exponent, no trailing zeros), token ids
    as strings, times in ISO 8601."""
    doc = asdict(status)
    doc["orders"]["fill_ratio"] = status.orders.fill_ratio
    doc["today"] = {
        "trades": doc.pop("trades_today"),
        "wins": doc.pop("wins_today"),
        "losses": doc.pop("losses_today"),
    }
    doc["signals"] = {"counts": doc.pop("signal_counts"), "skip_reasons": doc.pop("skip_reasons")}
    shares, cost = doc.pop("left_wallet")
    doc["left_wallet"] = {"shares": shares, "cost": cost}
    return json.dumps(_plain(doc), indent=2)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) if k != "token_id" else str(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return number(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def usd(value: Decimal) -> str:
    return f"{value:,.2f}"


def number(value: Decimal | None) -> str:
    """Shares and prices as stored, without trailing zeros (``-`` for none)."""
    if value is None:
        return "-"
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def short(value: object | None, head: int = 6, tail: int = 4) -> str:
    text = "-" if value is None else str(value)
    return text if len(text) <= head + tail + 1 else f"{text[:head]}…{text[-tail:]}"


def age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


_NUMERIC = {"SHARES", "COST", "LAST", "UNREALIZED", "LIMIT", "FILLED", "AGE"}


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Aligned columns, numbers to the right."""
    lines = [header, *rows]
    widths = [max(len(r[i]) for r in lines) for i in range(len(header))]
    right = [h in _NUMERIC for h in header]
    return [
        "  "
        + "  ".join(
            c.rjust(w) if r else c.ljust(w) for c, w, r in zip(line, widths, right, strict=True)
        ).rstrip()
        for line in lines
    ]


def _pairs(pairs: list[tuple[str, str, str]]) -> list[str]:
    """``label  value  note`` lines, labels to the left and values to the right."""
    label = max(len(k) for k, _, _ in pairs)
    value = max(len(v) for _, v, _ in pairs)
    return [f"  {k.ljust(label)}  {v.rjust(value)}  {n}".rstrip() for k, v, n in pairs]


def _since(status: StrategyStatus) -> str:
    return f"since {status.since:%Y-%m-%d %H:%M} UTC"


def _left_wallet(s: StrategyStatus) -> list[tuple[str, str, str]]:
    """The shares that left the wallet outside the executor, when any did: their cost, in the
    realized P&L above as sold for nothing."""
    shares, cost = s.left_wallet
    if shares == 0:
        return []
    note = f"{shares.normalize():f} shares left the wallet outside the executor: sold for 0"
    return [("  of which left wallet", usd(-cost), note)]


def to_text(status: StrategyStatus) -> str:
    s = status
    dd = "-" if s.max_drawdown is None else f"{s.max_drawdown * 100:.2f}%"
    parts = ", ".join(f"{m} {usd(v)}" for m, v in s.realized_by_mode.items())
    figures = [
        ("bankroll", usd(s.bankroll), ""),
        ("equity", usd(s.equity), ""),
        ("realized P&L", usd(s.realized_pnl), parts if len(s.realized_by_mode) > 1 else ""),
        *_left_wallet(s),
        ("unrealized P&L", usd(s.unrealized_pnl), "at each token's tape price"),
        (
            "today's P&L",
            usd(s.day_pnl),
            f"since 00:00 UTC, {s.mode} positions and orders;"
            f" daily loss limit -{usd(s.max_daily_loss)}",
        ),
        *(
            []
            if s.cash is None
            else [("cash", usd(s.cash), f"{s.mode}: bankroll + realized - open cost and BUYs")]
        ),
        ("max drawdown", dd, ""),
        ("trades today", str(s.trades_today), f"{s.wins_today} won, {s.losses_today} lost"),
    ]
    out = [f"strategy {s.name}  {s.mode}  {s.state}"]
    if s.error:
        out.append(f"  {s.error}")
    if s.credentials is not None:
        c = s.credentials
        since = f"{c.since.astimezone(UTC):%Y-%m-%d %H:%M}"
        last = f"{c.last_refused_at.astimezone(UTC):%H:%M:%S}"
        out.append(
            f"  the exchange refuses the executor's API key since {since} UTC ({c.refusals}"
            f" refused, last at {last}: {c.last_error or '-'}): no {s.mode} order is sent;"
            " check POLY_API_KEY / POLY_API_SECRET / POLY_API_PASSPHRASE and restart the executor"
        )
    out += _refused_cancels(s.live_orders)
    out += _pairs(figures)
    out += ["", f"open positions ({len(s.positions)})"]
    out += _positions(s.positions) if s.positions else ["  no open positions"]
    out += ["", f"live orders ({len(s.live_orders)})"]
    out += _orders(s.live_orders) if s.live_orders else ["  no live orders"]
    out += ["", f"orders {_since(s)}", *_outcomes(s)]
    out += ["", f"signals {_since(s)}", *_signals(s)]
    return "\n".join(out)


def _positions(positions: list[PositionLine]) -> list[str]:
    header = ["MODE", "TOKEN", "MARKET", "OUTCOME", "SHARES", "COST", "LAST", "UNREALIZED"]
    header += ["LEADER", "SIGNAL", "OPENED (UTC)"]
    rows = [
        [
            p.mode,
            short(p.token_id),
            short(p.market_id),
            "-" if p.outcome_index is None else str(p.outcome_index),
            number(p.shares),
            usd(p.cost_basis),
            number(p.last_price),
            usd(p.unrealized_pnl),
            short(p.leader),
            p.signal_type or "-",
            f"{p.opened_at.astimezone(UTC):%Y-%m-%d %H:%M}",
        ]
        for p in positions
    ]
    return _table(header, rows)


def _refused_cancels(orders: list[OrderLine]) -> list[str]:
    """A line when the exchange refuses the cancels of live orders: how many are still at the
    exchange, since when (the first refusal of any of them), the latest refusal and why."""
    refused = [(o.cancel_refused_at, o) for o in orders if o.cancel_refused_at is not None]
    if not refused:
        return []
    when, last = max(refused, key=lambda r: r[0])
    since = min(o.cancel_refused_since or at for at, o in refused)
    n = len(refused)
    return [
        f"  cancels refused: {n} live order{'' if n == 1 else 's'} still at the exchange"
        f" since {_utc(since)} UTC (last refused at {_utc(when)} UTC:"
        f" {last.cancel_refused_why or '-'}); the executor keeps asking, at most a minute apart"
    ]


def _utc(when: datetime) -> str:
    return f"{when.astimezone(UTC):%Y-%m-%d %H:%M:%S}"


def _orders(orders: list[OrderLine]) -> list[str]:
    header = ["MODE", "SIDE", "TOKEN", "MARKET", "LIMIT", "SHARES", "FILLED", "STATUS", "AGE"]
    header += ["EXPIRES (UTC)", "CANCEL"]
    rows = [
        [
            o.mode,
            o.side,
            short(o.token_id),
            short(o.market_id),
            number(o.price),
            number(o.shares),
            number(o.filled),
            "resting" if o.status == "OPEN" else "in doubt",
            age(o.age_secs),
            "-" if o.expires_at is None else f"{o.expires_at.astimezone(UTC):%H:%M:%S}",
            f"refused {o.cancel_refusals}x" if o.cancel_refusals else "-",
        ]
        for o in orders
    ]
    return _table(header, rows)


def _outcomes(s: StrategyStatus) -> list[str]:
    o = s.orders
    pairs = [
        ("sent", str(o.sent), ""),
        ("filled in full", str(o.filled), ""),
        ("partly filled", str(o.partly_filled), ""),
        ("expired unfilled", str(o.expired_unfilled), ""),
        ("cancelled", str(sum(o.canceled.values())), ""),
        *[(f"  {reason}", str(n), "") for reason, n in o.canceled.items()],
        ("rejected", str(o.rejected), ""),
        ("still live", str(o.open), ""),
        ("abandoned unsent", str(o.abandoned), ""),
    ]
    if o.fill_ratio is None:
        pairs.append(("fill ratio", "-", ""))
    else:
        shares = f"{number(o.shares_filled)} of {number(o.shares_ordered)} shares"
        pairs.append(("fill ratio", f"{o.fill_ratio * 100:.1f}%", shares))
    return _pairs(pairs)


def _signals(s: StrategyStatus) -> list[str]:
    if not s.signal_counts:
        return ["  no signals"]
    out = [
        f"  {kind}  " + "  ".join(f"{status} {n}" for status, n in statuses.items())
        for kind, statuses in s.signal_counts.items()
    ]
    if s.skip_reasons:
        width = max(len(r) for r in s.skip_reasons)
        out.append("  top skip reasons")
        out += [f"    {reason.ljust(width)}  {n}" for reason, n in s.skip_reasons.items()]
    return out
