"""A fill the listener stored minutes after its block (its trailing, confirming read found it:
docs/listener.md "The trailing, confirming read") is judged by its age on the chain, never as
if it were fresh: an entry on it expires ``stale``."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orderflow.backtest.latency import POLYGON_BLOCK_SECS
from orderflow.chain.settings import ListenerSettings
from orderflow.signals import Reason, evaluate
from orderflow.strategy.settings import StrategySettings
from tests.signals.decision_inputs import BOOK, MARKET_VIEW, NOW, SETTINGS, WHALE, trade


@pytest.mark.parametrize("late_secs", [128, 192])
def test_an_entry_on_a_fill_found_minutes_late_expires(late_secs: int) -> None:
    """Control (right on main): the age is the fill's block time to the decision, whenever the
    fill was stored; 128-192 s (the confirming read's 64 to 96 blocks) is past the default
    ``max_signal_age_secs`` (120 s)."""
    late = trade(timestamp=NOW - timedelta(seconds=late_secs))
    d = evaluate(late, WHALE, MARKET_VIEW, BOOK, SETTINGS, NOW)
    assert d is not None and d.reason is Reason.STALE and d.status == "EXPIRED"
    assert d.inputs["trigger"]["age_secs"] == late_secs


def test_a_strategy_allowing_older_fills_sees_the_fills_true_age() -> None:
    """Control: a strategy that allows fills up to 10 minutes old takes such a fill as what it
    is, 150 s old (recorded in its inputs), not as a fresh one."""
    roomy = SETTINGS.model_copy(update={"max_signal_age_secs": 600})
    late = trade(timestamp=NOW - timedelta(seconds=150))
    d = evaluate(late, WHALE, MARKET_VIEW, BOOK, roomy, NOW)
    assert d is not None and d.reason is not Reason.STALE
    assert d.inputs["trigger"]["age_secs"] == 150


def test_the_confirming_read_is_deeper_than_the_default_signal_age() -> None:
    """The defaults agree: a fill the confirming read finds is at least CONFIRM_DEPTH_BLOCKS
    blocks old, older than any entry signal may be by default."""
    depth = ListenerSettings.model_fields["confirm_depth_blocks"].default
    max_age = StrategySettings.model_fields["max_signal_age_secs"].default
    assert depth * POLYGON_BLOCK_SECS > max_age
