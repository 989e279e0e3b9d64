"""Signals waiting for their decision, and what each decision can know.

A fill some followers want is decided ``latency`` after it (:class:`Pending`): its order is at
the exchange then. But the decision reads only what the executor had stored when it decided —
the fills of blocks at least the listener's ``visibility`` old
(:meth:`orderflow.backtest.latency.Execution.horizon`): a later block is stored only once it is
buried under as many confirmations. So the tape is read for a pending signal when the replay
passes its horizon, not its decision time (:class:`Sight`, :meth:`Queue.read`): the quote of
each leg's side, whether its wallet had left the token since the fill, whether its market had
resolved. The tape changes only between the replay's drains (a fill observed, a resolution), so
reading it for every horizon before the drain's bound reads it as it stood then.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from orderflow.backtest.tape import Tape
from orderflow.signals.quotes import QUOTE_WINDOW_SECS
from orderflow.signals.views import MarketView, Side, TradeView, WalletView

if TYPE_CHECKING:
    from orderflow.backtest.engine import Run


@dataclass(frozen=True)
class Leg:
    """One reading of a fill by the followers ``runs``: as an entry (the fill as it is) or as an
    exit (its wallet leaving a token: :func:`orderflow.signals.exits.leaving`), with the market
    of the token it trades as seen right after the fill."""

    trade: TradeView
    market: MarketView
    runs: list[Run]


@dataclass(frozen=True, slots=True)
class Sight:
    """What one leg's decision reads of the tape, as of its horizon: the executor's quote on
    the leg's side (the fills seen since the quote window before the trigger: nothing revealed
    after it, :meth:`orderflow.backtest.tape.Tape.quote`), whether the trigger's wallet had left
    its token since (``leader_exited``), whether its market had resolved."""

    quote: Decimal | None
    left: bool
    resolved: bool


@dataclass(order=True)
class Pending:
    """A fill some followers want, waiting for its decision time (fill + latency): the exit it
    is (the leader of held positions leaving their token) and the entry it is, one pass. The
    tape is read for it at ``horizon`` (the newest block time its decision can know)."""

    due: datetime
    seq: int
    wallet: WalletView = field(compare=False)
    exit: Leg | None = field(compare=False)
    entry: Leg | None = field(compare=False)
    seen: int = field(compare=False, default=0)  # the tape's count of fills, this one included
    tried: int = field(compare=False, default=0)  # exits tried before this one (a late exit)
    horizon: datetime | None = field(compare=False, default=None)  # None: the due time
    sights: dict[Side, Sight] = field(compare=False, default_factory=dict)  # by the legs' sides

    def legs(self) -> list[tuple[Leg, Side]]:
        """The exit first (a SELL), then the entry (a BUY), as the executor's pass."""
        pairs: tuple[tuple[Leg | None, Side], ...] = ((self.exit, "SELL"), (self.entry, "BUY"))
        return [(leg, side) for leg, side in pairs if leg is not None]

    def read(self, tape: Tape) -> None:
        """Read the tape for each leg, as it stands now (at the horizon)."""
        for leg, side in self.legs():
            trade = leg.trade
            since = trade.timestamp - timedelta(seconds=QUOTE_WINDOW_SECS)
            market = leg.market.market_id
            self.sights[side] = Sight(
                quote=tape.quote(trade.token_id, side, since),
                left=tape.left_since(trade, self.seen),
                resolved=market is not None and market in tape.resolved,
            )


class Queue:
    """The pending signals, by horizon (the tape read for them) and by decision time."""

    def __init__(self) -> None:
        self._due: list[Pending] = []
        self._unread: list[tuple[datetime, int, Pending]] = []

    def push(self, pending: Pending) -> None:
        heapq.heappush(self._due, pending)
        horizon = pending.due if pending.horizon is None else pending.horizon
        heapq.heappush(self._unread, (horizon, pending.seq, pending))

    def next_due(self) -> datetime | None:
        return self._due[0].due if self._due else None

    def pop(self) -> Pending:
        """The next pending signal to decide (its tape read: :meth:`read` came first)."""
        return heapq.heappop(self._due)

    def read(self, tape: Tape, before: datetime | None, inclusive: bool) -> None:
        """Read the tape for every pending signal whose horizon is before ``before`` (at it
        too when ``inclusive``; all of them when None). The drain's bound is the next fill's
        time and every horizon was passed after the fill before it: the tape holds the fills up
        to each horizon read, and none after it."""
        while self._unread:
            horizon = self._unread[0][0]
            if before is not None and (horizon > before or (horizon == before and not inclusive)):
                return
            heapq.heappop(self._unread)[2].read(tape)
