"""What the exchange answers, checked before anything is priced, sized or booked from it.

The SDK's models refuse what does not parse (a missing field, a wrong type, NaN, Infinity:
:class:`polymarket.errors.UnexpectedResponseError`); they take any finite number. What does not
parse fails only what it is about (:mod:`orderflow.execution.live_reads`): one trade of the
account's trades (the orders it names are in doubt), one order's lookup, one token's book.
These checks refuse what parses but cannot be true:

* a market's rules (``GET /book``, or the minimum a refusal states): a tick that is none of the
  CLOB's (:data:`CLOB_TICKS`), a minimum order size not in (0, :data:`MAX_MIN_ORDER_SIZE`]; its
  fee schedule (``GET /clob-markets``): a rate outside [0, 1], an exponent outside
  [1, :data:`MAX_FEE_EXPONENT`] (a fee per share above ``p(1 - p)``, which fills are checked
  against). The whole answer is refused (read again after the failed-read pause; the strategy's
  settings meanwhile): a tick of 0.3 priced a 0.25 ask at 0.30, and a minimum of 10⁹ shares
  held every position to resolution;
* a fill of one of our orders (a placement's answer, ``GET /data/trades``): shares not
  positive, a price outside (0, 1) or beyond the order's limit (a BUY above it, a SELL below),
  a fee that is negative or above a rate of 1, more shares than the order has left. That fill
  alone is refused, the others booked (:func:`plausible_fills`); the order is in doubt while it
  is reported (:func:`orderflow.execution.settlement.settle`), as for a trade that does not parse;
* a placement's answer naming an order id that is none of the order's: the order is in doubt
  (reconciled by its own ids);
* the account's trades (``GET /data/trades``): more than
  :data:`orderflow.execution.live_trades.MAX_TRADE_PAGES` pages (each naming a new cursor) fails the
  whole read.

Each refusal is logged (``exchange reply refused``, with ``what`` and ``problem``) and counted
(``orderflow_exchange_replies_refused_total{what}``) — a reply the exchange keeps giving at every
pass (a fill, by order and trade id; a trade, by id; an order's lookup, by order and problem)
once per process: it was logged and counted again by every reconciliation pass, every 2 s.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence
from decimal import Decimal
from typing import Any

from orderflow.execution.broker import FillReport, MarketRules
from orderflow.execution.exchange_text import exchange_text
from orderflow.signals.sizing import USDC_STEP, fee_per_share
from orderflow.strategy.settings import MAX_MIN_ORDER_SIZE
from orderflow.telemetry import meter

log = logging.getLogger(__name__)
_refused = meter("orderflow.execution").create_counter(
    "orderflow_exchange_replies_refused_total",
    description="Exchange answers refused as impossible (a market's rules, a fill), by what",
)

# The largest fee exponent believed (Polymarket's schedules: 1, or 2 for some categories).
MAX_FEE_EXPONENT = Decimal(4)
# The CLOB's ticks: the SDK builds orders on these only (polymarket's _ALLOWED_TICK_SIZES).
CLOB_TICKS = frozenset(Decimal(t) for t in ("0.1", "0.01", "0.005", "0.0025", "0.001", "0.0001"))
_MAX_MIN = Decimal(repr(MAX_MIN_ORDER_SIZE))
# The refusals given once (``once``), by what and key; forgotten all at once past this many (then
# each is given once more), so that a long run's memory stays bounded.
_ONCE_MAX = 100_000
_given: set[tuple[str, Hashable]] = set()


def refuse_reply(what: str, problem: str, *, once: Hashable | None = None, **extra: Any) -> None:
    """Log and count an exchange answer refused as impossible; with ``once`` (what identifies
    it among the answers of its kind), only the first time this process refuses it."""
    if once is not None:
        if (what, once) in _given:
            return
        if len(_given) >= _ONCE_MAX:
            _given.clear()
        _given.add((what, once))
    _refused.add(1, {"what": what})
    log.warning("exchange reply refused", extra={"what": what, "problem": problem, **extra})


def minimum_problem(minimum: Decimal) -> str | None:
    if not 0 < minimum <= _MAX_MIN:
        return f"min_order_size {minimum} outside (0, {_MAX_MIN}]"
    return None


def rules_problem(rules: MarketRules) -> str | None:
    """Why a market's stated rules cannot be the CLOB's (None: they can)."""
    fee = rules.fee
    if fee is not None and not (0 <= fee.rate <= 1 and 1 <= fee.exponent <= MAX_FEE_EXPONENT):
        return f"fee schedule rate {fee.rate}, exponent {fee.exponent} out of bounds"
    if rules.tick_size is not None and rules.tick_size not in CLOB_TICKS:
        return f"tick_size {rules.tick_size} is none of the CLOB's"
    if rules.min_order_size is not None:
        return minimum_problem(rules.min_order_size)
    return None


def fill_problem(fill: FillReport, side: str, limit: Decimal, left: Decimal) -> str | None:
    """Why a fill reported for our order (``side`` at ``limit``, ``left`` shares unfilled)
    cannot be one of its fills (None: it can)."""
    if fill.shares <= 0:
        return f"shares {fill.shares} not positive"
    if fill.shares > left:
        return f"shares {fill.shares} more than the order's {left} left"
    if not 0 < fill.price < 1:
        return f"price {fill.price} outside (0, 1)"
    # A placement's price is its amounts' ratio: a rounding of the collateral amount is no
    # worse price.
    slack = USDC_STEP / fill.shares
    if (side == "BUY" and fill.price > limit + slack) or (
        side == "SELL" and fill.price < limit - slack
    ):
        return f"price {fill.price} beyond the order's limit {limit}"
    if not 0 <= fill.fee <= fill.shares * fee_per_share(fill.price, Decimal(1)) + USDC_STEP:
        return f"fee {fill.fee} negative or above a rate of 1"
    return None


def plausible_fills(
    fills: Sequence[FillReport], side: str, limit: Decimal, left: Decimal, *, order_id: Hashable
) -> tuple[FillReport, ...]:
    """The fills that can be our order's (in their order, each within what is left after the
    ones kept before it); each other one is refused (logged, counted: once per order and fill
    key), not the rest."""
    kept: list[FillReport] = []
    for fill in fills:
        problem = fill_problem(fill, side, limit, left)
        if problem is not None:
            key = (order_id, fill.fill_key)
            refuse_reply("fill", problem, once=key, fill_key=fill.fill_key, order_id=order_id)
            continue
        kept.append(fill)
        left -= fill.shares
    return tuple(kept)


# The placement statuses of an order the exchange took (Polymarket's insert statuses; the SDK
# accepts the first three, and reads "unmatched" as a refusal:
# placement_answer.PLACED_ANYWAY handles it).
PLACEMENT_STATUSES = frozenset({"live", "matched", "delayed", "unmatched"})


def placement_untold(success: bool, status: str, error_msg: str) -> str | None:
    """What a placement answer the SDK reads as a refusal leaves untold, when it gives no reason
    for refusing (None: a refusal with its reason, ``errorMsg``): ``success`` false, a
    ``status`` not the CLOB's, or else no ``orderID``. Polymarket's order docs: a
    refused order's reason is in ``errorMsg``; ``success`` false is a server-side error. An
    answer with ``success`` and an unknown ``status``, or neither a success nor a reason, may
    hide an order the exchange took: in doubt, never a refusal (it was recorded REJECTED and
    never asked about: tests/execution/test_placement_status.py)."""
    if error_msg.strip():
        return None
    if not success:
        return "success false without errorMsg"
    if status.strip().lower() not in PLACEMENT_STATUSES:
        return f"status {exchange_text(repr(status), 40)} is none of the CLOB's"
    return "no orderID"
