"""Raw Polymarket logs for the ingest benchmarks: a realistic mix of matches (1-3 maker fills,
the taker's aggregate fill, OrdersMatched) and direct fills on all five exchanges, plus the
ConditionPreparation of every market and some resolutions, encoded with
``orderflow.chain.encode`` (``generate``; ``benchmarks/ingest.py`` and others time them)."""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orderflow.chain import contracts as c  # noqa: E402
from orderflow.chain.encode import (  # noqa: E402
    LogPosition,
    encode_condition_preparation,
    encode_condition_resolution,
)
from orderflow.chain.encode_trades import encode_fill, encode_match  # noqa: E402
from orderflow.chain.tokens import condition_id, ctf_position_ids  # noqa: E402

T0 = 1_777_000_000
CHAIN_ID = 137
EXCHANGES: list[
    tuple[str, c.ExchangeVersion, str]
] = [  # (address, version, market kind), with weights below
    (c.V1_CTF_EXCHANGE, "V1", "std"),
    (c.V1_NEG_RISK_CTF_EXCHANGE, "V1", "neg"),
    (c.V2_CTF_EXCHANGE, "V2", "std"),
    (c.V2_NEG_RISK_CTF_EXCHANGE, "V2", "neg"),
    (c.V3_EXCHANGE, "V3", "v3"),
]
WEIGHTS = [25, 15, 30, 15, 15]


def _h(rng: random.Random, bits: int = 256) -> str:
    return f"0x{rng.getrandbits(bits):0{bits // 4}x}"


def prepare_market(
    rng: random.Random, i: int, position: Callable[[], LogPosition]
) -> tuple[str, tuple[int, int], tuple[str, str, str], dict[str, Any]]:
    """The ``i``-th binary CTF market (every third a neg-risk one): its kind ("std" or "neg"),
    (yes, no) token ids, (condition id, oracle, question id) and its ConditionPreparation log
    at ``position()`` (called after the question id is drawn)."""
    neg = i % 3 == 1
    oracle = c.NEG_RISK_ADAPTER if neg else "0x" + "0a" * 20
    question = _h(rng)
    cid = condition_id(oracle, question, 2)
    collateral = c.NEG_RISK_WRAPPED_COLLATERAL if neg else c.USDC_E
    yes, no = ctf_position_ids(cid, 2, collateral)
    log = encode_condition_preparation(
        at=position(), condition_id=cid, oracle=oracle, question_id=question, outcome_slot_count=2
    )
    return ("neg" if neg else "std"), (yes, no), (cid, oracle, question), log


def v3_market(rng: random.Random, i: int) -> tuple[int, int]:
    """The (yes, no) structured ExchangeV3 position ids of the ``i``-th V3 market."""
    base = (1 << 248) | (rng.getrandbits(128) << 120) | (2 << 104) | (i << 8)
    return base, base | 1


def generate(
    n: int, seed: int = 7, versions: tuple[str, ...] | None = None
) -> list[dict[str, Any]]:
    """N raw logs (deterministic for a seed), in chain order; ``versions`` keeps some exchanges."""
    rng = random.Random(seed)
    weights = [
        w if versions is None or e[1] in versions else 0
        for e, w in zip(EXCHANGES, WEIGHTS, strict=True)
    ]
    logs: list[dict[str, Any]] = []
    markets: dict[str, list[tuple[int, int]]] = {"std": [], "neg": [], "v3": []}
    conditions: list[tuple[str, str, str]] = []
    block = 70_000_000
    for i in range(max(4, n // 4000)):

        def position(i: int = i) -> LogPosition:
            return LogPosition(block, _h(rng), _h(rng), i, T0)

        kind, tokens, condition, log = prepare_market(rng, i, position)
        markets[kind].append(tokens)
        conditions.append(condition)
        logs.append(log)
    for i in range(max(2, n // 8000)):
        markets["v3"].append(v3_market(rng, i))
    wallets = [_h(rng, 160) for _ in range(max(50, n // 25))]
    while len(logs) < n:
        block += 1
        logs += trading_block(
            rng,
            LogPosition(block, _h(rng), "", 0, T0 + 2 * (block - 70_000_000)),
            weights,
            lambda kind: rng.choice(markets[kind]),
            lambda: rng.choice(wallets),
        )
    logs = logs[: max(0, n - len(conditions) // 2)]
    block += 1
    for i, (cid, oracle, question) in enumerate(conditions[: n - len(logs)]):
        logs.append(
            encode_condition_resolution(
                at=LogPosition(block, _h(rng), _h(rng), i, T0 + 10**6),
                condition_id=cid,
                oracle=oracle,
                question_id=question,
                payout_numerators=[1, 0] if i % 2 else [0, 1],
            )
        )
    return logs


def trading_block(
    rng: random.Random,
    at: LogPosition,
    weights: list[int],
    pick_market: Callable[[str], tuple[int, int]],
    pick_wallet: Callable[[], str],
) -> list[dict[str, Any]]:
    """One block of trading from log index ``at.log_index`` on: 4-12 matches (1-3 maker fills,
    the taker's aggregate fill, OrdersMatched) or direct V1 fills. ``pick_market(kind)``: the
    (yes, no) token ids of a market of that kind ("std", "neg", "v3"); ``pick_wallet()``: an
    address. Block number, hash and time come from ``at`` (its tx hash is ignored)."""
    logs: list[dict[str, Any]] = []
    block, block_hash, log_index = at.block_number, at.block_hash, at.log_index
    ts = at.timestamp or 0
    for _ in range(rng.randint(4, 12)):
        exchange, version, kind = rng.choices(EXCHANGES, weights)[0]
        yes, no = pick_market(kind)
        token = yes if rng.random() < 0.5 else no
        tx = _h(rng)
        cents = rng.randint(1, 99)

        def pos(
            li: int, b: int = block, tx: str = tx, bh: str = block_hash, ts: int = ts
        ) -> LogPosition:
            return LogPosition(b, bh, tx, li, ts)

        if version == "V1" and rng.random() < 0.15:  # a direct fillOrder: no match event
            shares = rng.randint(1, 5000) * 10_000
            logs.append(
                encode_fill(
                    "V1",
                    at=pos(log_index),
                    order_hash=_h(rng),
                    maker=pick_wallet(),
                    taker=pick_wallet(),
                    side=rng.choice(("BUY", "SELL")),
                    token_id=token,
                    shares=shares,
                    collateral=shares * cents // 100,
                    exchange=exchange,
                )
            )
            log_index += 1
            continue
        taker = pick_wallet()
        taker_hash = _h(rng)
        total = 0
        for _ in range(rng.randint(1, 3)):
            shares = rng.randint(1, 2000) * 10_000
            total += shares
            logs.append(
                encode_fill(
                    version,
                    at=pos(log_index),
                    order_hash=_h(rng),
                    maker=pick_wallet(),
                    taker=taker,
                    side="SELL",
                    token_id=token,
                    shares=shares,
                    collateral=shares * cents // 100,
                    exchange=exchange,
                )
            )
            log_index += 1
        fee = 0 if version == "V1" else total * cents * (100 - cents) // 10_000 // 50
        logs.append(
            encode_fill(
                version,
                at=pos(log_index),
                order_hash=taker_hash,
                maker=taker,
                taker=exchange,
                side="BUY",
                token_id=token,
                shares=total,
                collateral=total * cents // 100,
                fee=fee,
                exchange=exchange,
            )
        )
        logs.append(
            encode_match(
                version,
                at=pos(log_index + 1),
                taker_order_hash=taker_hash,
                taker_order_maker=taker,
                side="BUY",
                token_id=token,
                shares=total,
                collateral=total * cents // 100,
                exchange=exchange,
            )
        )
        log_index += 2
    return logs
