"""Token ids: which outcome of which condition a token id stands for, computed without any API.

CTF position ids (V1 and CLOB V2 markets) follow Gnosis ConditionalTokens (see
docs/listener.md "Token ids"): for outcome ``i`` the index set is ``1 << i``;

1. ``h = keccak256(conditionId ++ uint256(indexSet))``, ``odd`` = bit 255 of ``h``;
2. on alt_bn128 (``y² = x³ + 3`` mod ``P``) step ``x = (x + 1) mod P`` starting from ``h`` until
   ``x³ + 3`` is a quadratic residue, ``y = (x³ + 3)^((P + 1) / 4)`` (``P ≡ 3 mod 4``);
3. pick the root whose parity matches ``odd`` (``y = P - y`` otherwise);
4. ``collectionId = x`` with bit 254 flipped when ``y`` is odd;
5. ``positionId = keccak256(collateral ++ collectionId)``; collateral is USDC.e for standard
   markets and the NegRisk wrapped collateral for neg-risk markets.

``conditionId = keccak256(oracle ++ questionId ++ uint256(outcomeSlotCount))``.

ExchangeV3 ids are structured instead (high to low bits): moduleId 8 | baseHash 128 | arity 16 |
reserved 64 | resolutionChain 16 | conditionIndex 16 | outcomeIndex 8; the condition is the id
with its low byte cleared.

Everything here is pure and cached: a condition's ids cost two modular exponentiations each.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from Crypto.Hash import keccak

from orderflow.chain.contracts import MAINNET, ChainAddresses

# alt_bn128 base field modulus.
ALT_BN128_P = 21888242871839275222246405745257275088696311157297823662689037894645226208583
_SQRT_EXP = (ALT_BN128_P + 1) // 4
_BIT_254 = 1 << 254
_UINT256_MAX = (1 << 256) - 1

# CTF's ConditionalTokens refuses more outcome slots than this.
MAX_OUTCOME_SLOTS = 256

TokenGeneration = Literal["CTF", "V3"]


def keccak256(data: bytes) -> bytes:
    """Ethereum's Keccak-256 (not NIST SHA3-256)."""
    return keccak.new(data=data, digest_bits=256).digest()


def _bytes32(value: str | bytes) -> bytes:
    raw = (
        bytes.fromhex(value[2:] if value.startswith("0x") else value)
        if isinstance(value, str)
        else value
    )
    if len(raw) != 32:
        raise ValueError(f"expected 32 bytes, got {len(raw)}")
    return raw


def _address_bytes(address: str) -> bytes:
    raw = bytes.fromhex(address[2:] if address.startswith("0x") else address)
    if len(raw) != 20:
        raise ValueError(f"expected a 20-byte address, got {len(raw)} bytes")
    return raw


def condition_id(oracle: str, question_id: str | bytes, outcome_slot_count: int) -> str:
    """ConditionalTokens' condition id, as lower-case 0x hex."""
    payload = (
        _address_bytes(oracle) + _bytes32(question_id) + outcome_slot_count.to_bytes(32, "big")
    )
    return "0x" + keccak256(payload).hex()


def collection_id(condition: str | bytes, index_set: int) -> int:
    """The CTF collection id of one index set of a condition (no parent collection)."""
    h = int.from_bytes(keccak256(_bytes32(condition) + index_set.to_bytes(32, "big")), "big")
    odd = h >> 255 != 0
    x = h
    while True:
        x = (x + 1) % ALT_BN128_P
        yy = (x * x % ALT_BN128_P * x + 3) % ALT_BN128_P
        y = pow(yy, _SQRT_EXP, ALT_BN128_P)
        if y * y % ALT_BN128_P == yy:
            break
    if odd != bool(y & 1):
        y = ALT_BN128_P - y
    if y & 1:
        x ^= _BIT_254
    return x


def position_id(collateral: str, collection: int) -> int:
    """The ERC-1155 token id of a collection backed by ``collateral``."""
    return int.from_bytes(
        keccak256(_address_bytes(collateral) + collection.to_bytes(32, "big")), "big"
    )


@lru_cache(maxsize=65536)
def ctf_position_ids(condition: str, outcome_slot_count: int, collateral: str) -> tuple[int, ...]:
    """Token ids of every outcome (index ``i`` ↔ index set ``1 << i``) of a condition."""
    if not 2 <= outcome_slot_count <= MAX_OUTCOME_SLOTS:
        raise ValueError(f"outcome slot count out of range: {outcome_slot_count}")
    raw = _bytes32(condition)
    return tuple(
        position_id(collateral, collection_id(raw, 1 << i)) for i in range(outcome_slot_count)
    )


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """One row of the token registry (``orderflow_tokens``)."""

    token_id: int
    condition_id: str
    outcome_index: int
    complement_token_id: int | None
    neg_risk: bool
    collateral: str | None
    generation: TokenGeneration
    source: str


def ctf_tokens(
    condition: str,
    outcome_slot_count: int,
    *,
    neg_risk: bool,
    source: str,
    addresses: ChainAddresses = MAINNET,
) -> tuple[TokenInfo, ...]:
    """Registry rows for every outcome of a CTF condition.

    Neg-risk conditions (prepared by the NegRiskAdapter) are backed by the wrapped collateral,
    standard ones by USDC.e. The complement is only defined for binary conditions.
    """
    collateral = addresses.neg_risk_wrapped_collateral if neg_risk else addresses.usdc_e
    ids = ctf_position_ids(condition, outcome_slot_count, collateral)
    binary = len(ids) == 2
    return tuple(
        TokenInfo(
            token_id=tid,
            condition_id=condition,
            outcome_index=i,
            complement_token_id=ids[1 - i] if binary else None,
            neg_risk=neg_risk,
            collateral=collateral,
            generation="CTF",
            source=source,
        )
        for i, tid in enumerate(ids)
    )


def condition_tokens(
    condition: str,
    oracle: str,
    question_id: str,
    outcome_slot_count: int,
    *,
    source: str,
    addresses: ChainAddresses = MAINNET,
) -> tuple[TokenInfo, ...]:
    """Registry rows of a condition known from its (oracle, question id, outcome count).

    ConditionPreparation and ConditionResolution both carry these: a market prepared before
    the listener's first block is mapped from its resolution. The condition is neg-risk when
    its oracle is the NegRiskAdapter (wrapped collateral), else backed by USDC.e — also for
    markets created under CLOB V2, whose collateral adapters split pUSD into the same USDC.e /
    wrapped-collateral positions. Nothing (an empty tuple) when the condition id does not
    follow from the other three fields or the outcome count is out of range.
    """
    if not 2 <= outcome_slot_count <= MAX_OUTCOME_SLOTS:
        return ()
    try:
        derived = condition_id(oracle, question_id, outcome_slot_count)
    except ValueError:
        return ()
    if derived != condition.lower():
        return ()
    neg_risk = oracle.lower() == addresses.neg_risk_adapter
    return ctf_tokens(
        condition, outcome_slot_count, neg_risk=neg_risk, source=source, addresses=addresses
    )


def resolve_registered_pair(
    token0: int,
    token1: int,
    condition: str,
    *,
    source: str = "TokenRegistered",
    addresses: ChainAddresses = MAINNET,
) -> tuple[TokenInfo, TokenInfo] | None:
    """Order a V1 TokenRegistered pair by outcome, or None if the ids do not belong together.

    TokenRegistered says which two tokens share a condition but not which is outcome 0; the
    answer (and whether the market is neg-risk) comes from recomputing both collaterals' ids.
    """
    pair = {token0, token1}
    for neg_risk in (False, True):
        rows = ctf_tokens(condition, 2, neg_risk=neg_risk, source=source, addresses=addresses)
        if {rows[0].token_id, rows[1].token_id} == pair:
            return rows[0], rows[1]
    return None


@dataclass(frozen=True, slots=True)
class V3PositionId:
    """The bit fields of an ExchangeV3 structured position id."""

    module_id: int
    base_hash: int
    arity: int
    reserved: int
    resolution_chain: int
    condition_index: int
    outcome_index: int

    @property
    def condition_id(self) -> str:
        """The id with its outcome byte cleared, as 0x hex (this generation's condition id)."""
        return "0x" + self.to_int(outcome_index=0).to_bytes(32, "big").hex()

    def to_int(self, *, outcome_index: int | None = None) -> int:
        outcome = self.outcome_index if outcome_index is None else outcome_index
        return (
            self.module_id << 248
            | self.base_hash << 120
            | self.arity << 104
            | self.reserved << 40
            | self.resolution_chain << 24
            | self.condition_index << 8
            | outcome
        )


def decode_v3_position_id(token_id: int) -> V3PositionId:
    """Split a structured id into its fields (no validation; see :func:`v3_token`)."""
    if not 0 <= token_id <= _UINT256_MAX:
        raise ValueError("token id out of uint256 range")
    return V3PositionId(
        module_id=token_id >> 248,
        base_hash=(token_id >> 120) & ((1 << 128) - 1),
        arity=(token_id >> 104) & 0xFFFF,
        reserved=(token_id >> 40) & ((1 << 64) - 1),
        resolution_chain=(token_id >> 24) & 0xFFFF,
        condition_index=(token_id >> 8) & 0xFFFF,
        outcome_index=token_id & 0xFF,
    )


def v3_token(token_id: int, *, addresses: ChainAddresses = MAINNET) -> TokenInfo | None:
    """Registry row for an ExchangeV3 id, or None if it is not a well-formed structured id.

    Well-formed: reserved bits zero and the outcome index below the arity. Binary (arity 2)
    ids get their complement by flipping the outcome byte.
    """
    fields = decode_v3_position_id(token_id)
    if fields.reserved != 0 or fields.arity < 2 or fields.outcome_index >= fields.arity:
        return None
    complement = (
        fields.to_int(outcome_index=1 - fields.outcome_index) if fields.arity == 2 else None
    )
    return TokenInfo(
        token_id=token_id,
        condition_id=fields.condition_id,
        outcome_index=fields.outcome_index,
        complement_token_id=complement,
        neg_risk=False,
        collateral=addresses.pusd,
        generation="V3",
        source="V3PositionId",
    )
