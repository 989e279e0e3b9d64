"""Position events: the CTF's PositionSplit / PositionsMerge and the NegRiskAdapter's events.

Gnosis ConditionalTokens (Polymarket's CTF) declares::

    event PositionSplit(address indexed stakeholder, IERC20 collateralToken,
                        bytes32 indexed parentCollectionId, bytes32 indexed conditionId,
                        uint[] partition, uint amount);
    event PositionsMerge(address indexed stakeholder, IERC20 collateralToken,
                         bytes32 indexed parentCollectionId, bytes32 indexed conditionId,
                         uint[] partition, uint amount);

so ``topics`` = [topic0, stakeholder, parentCollectionId, conditionId] and ``data`` = the ABI
encoding of (collateralToken, partition, amount): the address word, the offset of the dynamic
array (0x60, three head words), the amount, then the array's length and items. Polymarket splits
a binary condition with partition [1, 2] and no parent collection (zero). For a neg-risk market
the caller of the CTF is the NegRiskAdapter (it wraps the user's collateral first), so the CTF's
``stakeholder`` is the adapter and ``collateralToken`` the wrapped collateral.

The listener recognises both topics and ignores them (they are outside the trade ledger); the
simulator emits them for market makers' splits and merges. Used by :mod:`orderflow.sim.emit`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orderflow.chain import contracts as c
from orderflow.chain.encode import ZERO32, LogPosition, _address_topic, _hash_topic, raw_log
from orderflow.chain.tokens import keccak256

BINARY_PARTITION = (1, 2)


def _position_event(
    topic0: str,
    *,
    at: LogPosition,
    stakeholder: str,
    collateral: str,
    condition_id: str,
    amount: int,
    partition: Sequence[int],
    parent_collection_id: str,
    ctf: str,
) -> dict[str, Any]:
    if amount <= 0:
        raise ValueError(f"amount must be positive, got {amount}")
    return raw_log(
        ctf,
        [
            topic0,
            _address_topic(stakeholder),
            _hash_topic(parent_collection_id),
            _hash_topic(condition_id),
        ],
        [int(_address_topic(collateral), 16), 0x60, amount, len(partition), *partition],
        at,
    )


def encode_position_split(
    *,
    at: LogPosition,
    stakeholder: str,
    collateral: str,
    condition_id: str,
    amount: int,
    partition: Sequence[int] = BINARY_PARTITION,
    parent_collection_id: str = ZERO32,
    ctf: str = c.CONDITIONAL_TOKENS,
) -> dict[str, Any]:
    """PositionSplit: ``amount`` collateral became ``amount`` of each outcome in ``partition``."""
    return _position_event(
        c.TOPIC_POSITION_SPLIT,
        at=at,
        stakeholder=stakeholder,
        collateral=collateral,
        condition_id=condition_id,
        amount=amount,
        partition=partition,
        parent_collection_id=parent_collection_id,
        ctf=ctf,
    )


def encode_positions_merge(
    *,
    at: LogPosition,
    stakeholder: str,
    collateral: str,
    condition_id: str,
    amount: int,
    partition: Sequence[int] = BINARY_PARTITION,
    parent_collection_id: str = ZERO32,
    ctf: str = c.CONDITIONAL_TOKENS,
) -> dict[str, Any]:
    """PositionsMerge: ``amount`` of each outcome in ``partition`` became ``amount`` collateral."""
    return _position_event(
        c.TOPIC_POSITIONS_MERGE,
        at=at,
        stakeholder=stakeholder,
        collateral=collateral,
        condition_id=condition_id,
        amount=amount,
        partition=partition,
        parent_collection_id=parent_collection_id,
        ctf=ctf,
    )


# --- the NegRiskAdapter's own events ------------------------------------------------------------
# A neg-risk split, merge or conversion goes through the NegRiskAdapter, which calls the CTF (whose
# events then name the adapter as stakeholder) and emits its own event naming the user:
#   PositionSplit(address indexed stakeholder, bytes32 indexed conditionId, uint256 amount)
#   PositionsMerge(address indexed stakeholder, bytes32 indexed conditionId, uint256 amount)
#   PositionsConverted(address indexed stakeholder, bytes32 indexed marketId,
#                      uint256 indexed indexSet, uint256 amount)
# (Polymarket/neg-risk-ctf-adapter, src/NegRiskAdapter.sol). The listener does not watch the
# adapter; a log from it is a dead letter there until it learns to ignore these topics.

TOPIC_ADAPTER_POSITION_SPLIT = "0x" + keccak256(b"PositionSplit(address,bytes32,uint256)").hex()
TOPIC_ADAPTER_POSITIONS_MERGE = "0x" + keccak256(b"PositionsMerge(address,bytes32,uint256)").hex()
TOPIC_ADAPTER_POSITIONS_CONVERTED = (
    "0x" + keccak256(b"PositionsConverted(address,bytes32,uint256,uint256)").hex()
)


def encode_adapter_split_or_merge(
    *,
    at: LogPosition,
    merge: bool,
    stakeholder: str,
    condition_id: str,
    amount: int,
    adapter: str = c.NEG_RISK_ADAPTER,
) -> dict[str, Any]:
    """The adapter's PositionSplit (``merge=False``) or PositionsMerge (``merge=True``)."""
    if amount <= 0:
        raise ValueError(f"amount must be positive, got {amount}")
    topic0 = TOPIC_ADAPTER_POSITIONS_MERGE if merge else TOPIC_ADAPTER_POSITION_SPLIT
    return raw_log(
        adapter,
        [topic0, _address_topic(stakeholder), _hash_topic(condition_id)],
        [amount],
        at,
    )


def encode_positions_converted(
    *,
    at: LogPosition,
    stakeholder: str,
    market_id: str,
    index_set: int,
    amount: int,
    adapter: str = c.NEG_RISK_ADAPTER,
) -> dict[str, Any]:
    """PositionsConverted: ``amount`` NO of each question in ``index_set`` (bit i = question i)
    became ``amount`` YES of every other question plus (questions in the set - 1) * ``amount``
    collateral."""
    if amount <= 0 or index_set <= 0:
        raise ValueError(f"amount and index_set must be positive, got {amount}, {index_set}")
    return raw_log(
        adapter,
        [
            TOPIC_ADAPTER_POSITIONS_CONVERTED,
            _address_topic(stakeholder),
            _hash_topic(market_id),
            f"0x{index_set:064x}",
        ],
        [amount],
        at,
    )
