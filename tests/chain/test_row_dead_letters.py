"""The dead letter of a stored or staged row (``dead_letters.row_dead_letter``): the one place
the store's refusals, replacements and forks' left-overs take their row's place from."""

from __future__ import annotations

from orderflow.chain.dead_letters import row_dead_letter

ROW = {
    "tx_hash": "0x" + "ab" * 32,
    "log_index": 7,
    "block_number": 100,
    "number": 101,
    "chain_block": 102,
    "exchange": "0x" + "11" * 20,
    "address": "0x" + "22" * 20,
    "fee_module": "0x" + "33" * 20,
}


def test_a_rows_dead_letter_is_placed_by_the_columns_named() -> None:
    staged = row_dead_letter(137, ROW, {"staged": "OrderFilled"}, "why")
    assert (staged.raw, staged.reason, staged.chain_id) == ({"staged": "OrderFilled"}, "why", 137)
    assert (staged.tx_hash, staged.log_index) == (ROW["tx_hash"], 7)
    assert (staged.block_number, staged.address) == (100, ROW["exchange"])
    forked = row_dead_letter(137, ROW, {}, "r", block="number", address="address")
    assert (forked.block_number, forked.address) == (101, ROW["address"])
    refund = row_dead_letter(137, ROW, {}, "r", block="chain_block", address="fee_module")
    assert (refund.block_number, refund.address) == (102, ROW["fee_module"])
    market = row_dead_letter(137, ROW, {}, "r", address=None)
    assert (market.block_number, market.address, market.topic0) == (100, None, None)
