"""An entry on its way is dropped when its leader leaves after the buy it followed on the chain
(block, log index), as the stored checks compare (orderflow.signals.market_queries.left_since):
not by row id. A sale from before the buy, stored late (its block read again after a retraction),
has the higher id: the leader sold, then bought, and still holds the token."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

from orderflow.execution.order_worker import OrderWorker
from orderflow.signals.views import TradeView


def _trade(id_: int, side: str, block: int, log_index: int) -> TradeView:
    return TradeView(
        chain_id=137,
        tx_hash=f"0x{id_:064x}",
        log_index=log_index,
        wallet="0xw",
        side="SELL" if side == "SELL" else "BUY",
        token_id=7,
        price=Decimal("0.5"),
        size=Decimal(10),
        usdc_size=Decimal(5),
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
        id=id_,
        block_number=block,
    )


def test_a_sale_before_the_followed_buy_on_the_chain_drops_no_entry() -> None:
    worker = OrderWorker(cast(Any, None), cast(Any, None))
    state = SimpleNamespace(name="alpha")
    worker.entries[1] = cast(
        Any, SimpleNamespace(signal_id=1, state=state, trade=_trade(10, "BUY", 100, 3))
    )
    worker.leader_sold(cast(Any, state), [_trade(11, "SELL", 95, 0)])  # stored late
    assert worker.left == set()
    worker.leader_sold(cast(Any, state), [_trade(9, "SELL", 100, 4)])  # after, stored before
    assert worker.left == {1}
