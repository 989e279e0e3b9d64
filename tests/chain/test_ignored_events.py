"""Non-trade events are recognised and ignored; heavy decoding stays off the event loop.

* A file of unfiltered ConditionalTokens and NegRiskAdapter logs (ERC-1155 transfers single and
  batch, splits, merges, redemptions, conversions, approvals, administration) imports with zero
  dead letters; so do the exchanges' and FeeModules' administrative events.
* A ConditionPreparation with 256 outcomes derives 256 token ids (about 0.1 s of CPU):
  ``decode_batch_async`` runs such batches in a worker thread, never on the event loop.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import asyncpg
import pytest

from orderflow.chain import contracts as c
from orderflow.chain import live_store
from orderflow.chain.decode import decode_batch
from orderflow.chain.encode import encode_condition_preparation, raw_log
from orderflow.chain.ingest import ingest_file
from tests.chain.factory import addr, at, h32
from tests.chain.sample_logs import BTC, BTC_NO, BTC_YES


def _a(tag: int) -> str:
    return "0x" + addr(tag)[2:].rjust(64, "0")


def unfiltered_logs() -> list[dict[str, object]]:
    """One of each, with topics and data shaped as the contracts emit them."""
    ctf, nra = c.CONDITIONAL_TOKENS, c.NEG_RISK_ADAPTER
    exchange, module = c.V1_CTF_EXCHANGE, sorted(c.FEE_MODULES)[0]
    op, frm, to = _a(1), _a(2), _a(3)
    n = 0

    def log(address: str, topics: list[str], words: list[int]) -> dict[str, object]:
        nonlocal n
        n += 1
        return raw_log(address, topics, words, at(30 + n // 4, n, tx=n))

    return [
        log(ctf, [c.TOPIC_TRANSFER_SINGLE, op, frm, to], [BTC_YES, 5_000_000]),
        # TransferBatch(operator, from, to, uint256[] ids, uint256[] values): two dynamic arrays
        log(
            ctf,
            [c.TOPIC_TRANSFER_BATCH, op, frm, to],
            [64, 160, 2, BTC_YES, BTC_NO, 2, 5_000_000, 5_000_000],
        ),
        # PositionSplit(stakeholder, collateralToken, parentCollectionId, conditionId,
        #               uint256[] partition, uint256 amount)
        log(
            ctf,
            [c.TOPIC_POSITION_SPLIT, frm, "0x" + "00" * 32, BTC],
            [int(c.USDC_E, 16), 96, 5_000_000, 2, 1, 2],
        ),
        log(
            ctf,
            [c.TOPIC_POSITIONS_MERGE, frm, "0x" + "00" * 32, BTC],
            [int(c.USDC_E, 16), 96, 5_000_000, 2, 1, 2],
        ),
        log(
            ctf,
            [c.TOPIC_PAYOUT_REDEMPTION, frm, _a(int(c.USDC_E, 16)), "0x" + "00" * 32],
            [int(BTC, 16), 96, 5_000_000, 2, 1, 2],
        ),
        log(ctf, [c.TOPIC_APPROVAL_FOR_ALL, frm, op], [1]),
        log(ctf, [c.TOPIC_URI, h32(BTC_YES)], [32, 0]),
        log(nra, [c.TOPIC_NR_POSITION_SPLIT, frm, BTC], [5_000_000]),
        log(nra, [c.TOPIC_NR_POSITIONS_MERGE, frm, BTC], [5_000_000]),
        log(nra, [c.TOPIC_NR_POSITIONS_CONVERTED, frm, h32(0x99), h32(3)], [5_000_000]),
        log(nra, [c.TOPIC_NR_PAYOUT_REDEMPTION, frm, BTC], [64, 5_000_000, 2, 1, 0]),
        log(nra, [c.TOPIC_NR_MARKET_PREPARED, h32(0x99), op], [0, 64, 0]),
        log(nra, [c.TOPIC_NR_QUESTION_PREPARED, h32(0x99), h32(0x98)], [0, 64, 0]),
        log(nra, [c.TOPIC_NR_OUTCOME_REPORTED, h32(0x99), h32(0x98)], [1]),
        log(exchange, [c.TOPIC_ORDER_CANCELLED, h32(0x77)], []),
        log(exchange, [c.TOPIC_TRADING_PAUSED, op], []),
        log(exchange, [c.TOPIC_NEW_OPERATOR, op, frm], []),
        log(module, [c.TOPIC_FEE_WITHDRAWN], [int(c.USDC_E, 16), int(frm, 16), 0, 1]),
    ]


async def test_unfiltered_ctf_and_adapter_logs_import_without_dead_letters(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    logs = unfiltered_logs()
    path = tmp_path / "ctf-unfiltered.jsonl"
    path.write_text("".join(json.dumps(g) + "\n" for g in logs))
    report = await ingest_file(pool, path, chain_id=137)
    assert report.stored.dead_letters == 0
    assert report.stored.ignored == len(logs)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_dead_letters") == 0


def test_an_unknown_event_of_the_adapter_is_still_a_dead_letter() -> None:
    raw = raw_log(c.NEG_RISK_ADAPTER, [h32(0x1234)], [], at(1, 0))
    (dead,) = decode_batch([raw], 137).dead_letters
    assert "from the NegRiskAdapter" in dead.reason


@pytest.mark.parametrize("slots", [256])
async def test_a_256_outcome_condition_is_decoded_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch, slots: int
) -> None:
    threads: list[int] = []
    real = decode_batch

    def recording(*args: object, **kwargs: object) -> object:
        threads.append(threading.get_ident())
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("orderflow.chain.live_store.decode_batch", recording)
    raw = encode_condition_preparation(
        at=at(40, 0),
        condition_id=h32(0xC0FFEE),
        oracle=addr(0x0A),
        question_id=h32(0x51),
        outcome_slot_count=slots,
    )
    batch = await live_store.decode_batch_async([raw], 137)
    assert len(batch.conditions[0].tokens) == slots
    assert threads and threads[0] != threading.get_ident()
    # A small batch of trades only stays on the loop (no thread hop on the hot path).
    threads.clear()
    await live_store.decode_batch_async([], 137)
    assert threads == [threading.get_ident()]
