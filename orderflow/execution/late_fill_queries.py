"""SQL of the late-fill window: whether an order may still fill (a closed one while its late
fills are asked for: :func:`order_may_fill`), when its window starts (its close, as the UPDATEs
that close an order write it: :func:`closed_at`) and what it matched at the exchange that the
account's trades do not list yet (:func:`matched_unlisted_shares`). Reconciliation, the limits,
the settlement and the wallet squaring read them; ``now`` is always the executor's clock."""

from __future__ import annotations

from orderflow.execution.settlement import LATE_FILLS, UNKNOWN_AFTER_EXPIRY


# What an order ``o`` matched at the exchange (its order endpoint's ``size_matched``, kept as
# ``matched_shares``, migration 089) beyond what the account's trades have listed of it: its
# fills, net of reversals, and its trades that FAILED on chain (reversed fills: listed, and
# nothing of them settled). The exchange's ``size_matched`` still counts a match whose trade
# failed (py-clob-client-v2 issue 34), so until 7 Dec 2026 (session 45) such a match, taken for
# one not listed yet, held an exit's retry 100 shares short of the wallet
# (tests/execution/test_matched_unlisted.py). ``order_queries.matched_unlisted`` (the limits,
# the shares an exit sells) and the wallet squaring read it.
def matched_unlisted_shares(o: str) -> str:
    return (
        f"({o}.matched_shares - {o}.filled_shares - COALESCE((SELECT sum(r.shares)"
        f" FROM orderflow_fills r WHERE r.order_id = {o}.id AND r.reverses IS NOT NULL), 0))"
    )


# The SET clause of an UPDATE of ``orderflow_orders`` that closes an order or changes a closed
# one (``status``: its status after the UPDATE): ``closed_at`` (migration 113), the start of its
# late-fill window, is ``now``, the executor's clock, as the window's "now" and the fill
# watermark are; NULL while it is live. Until 7 Dec 2026 (session 45) the window started at
# ``updated_at``, the database's clock: an executor's clock 20 minutes ahead of it ended the
# window before it began (the late fill never booked), 20 minutes behind it held the shares
# matched unlisted in the limits 20 minutes past its end (tests/execution/test_late_fill_clock.py).
# ``updated_at`` stays the database's (exit_queries reads it against ``clock_timestamp()``).
def closed_at(status: str, now: str) -> str:
    live = f"{status} IN ('INTENT', 'OPEN')"
    return f"closed_at = CASE WHEN {live} THEN NULL ELSE {now}::timestamptz END"


# An order ``o`` that may still fill: live (resting, on its way, in doubt) or an intent maybe
# sent, or closed short of its size and not yet read for LATE_FILLS after its close (a fill from
# before its cancel may reach the account's trades later: the desk asks for it until a complete
# reconciliation pass of its mode has read the trades LATE_FILLS after the close). An intent
# abandoned as unknown to the exchange after its expiry is closed so too: "shown nowhere" is
# also what the exchange answers for a fully matched order whose trades are not listed yet.
# ``now`` is the executor's clock, as the close is (``closed_at``); the window runs back from
# the mode's fill watermark (the start of its last complete pass:
# orderflow.execution.fill_watermark), not from now, so an
# executor down (or an exchange whose trades failed to read) for longer than LATE_FILLS still
# asks. No watermark: from now. The orders reconciliation asks about
# (``order_queries.orders_to_reconcile``), and what holds a settlement back.
def order_may_fill(o: str, now: str) -> str:
    late = int(LATE_FILLS.total_seconds())
    # Each mode's watermark read once per statement (uncorrelated: an InitPlan), not per order.
    known = " ".join(
        f"WHEN '{mode}' THEN (SELECT w.complete_at FROM orderflow_fill_watermarks w"
        f" WHERE w.mode = '{mode}')"
        for mode in ("paper", "live")
    )
    known = f"CASE {o}.mode {known} END"
    return (
        f"({o}.status IN ('OPEN', 'INTENT') OR (({o}.status = 'CANCELED'"
        f" OR ({o}.status = 'ABANDONED' AND {o}.status_reason = '{UNKNOWN_AFTER_EXPIRY}'))"
        f" AND {o}.closed_at >= LEAST({now}::timestamptz, {known}) - interval '{late} seconds'"
        f" AND {o}.filled_shares < {o}.shares))"
    )
