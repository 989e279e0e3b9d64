"""Polymarket's contracts on Polygon: addresses, event topics, and the subscription filter.

Everything the listener watches is named here once. Addresses are lower-case hex strings
everywhere in orderflow (the database checks it), so comparisons are plain string equality.

Three exchange generations emit fills (see docs/listener.md):

* V1 (Sept 2022 to 28 Apr 2026): CTF Exchange and NegRisk CTF Exchange, collateral USDC.e;
* V2 (CLOB V2, from 28 Apr 2026): two exchanges whose events carry ``side`` and ``tokenId``,
  collateral pUSD, the same CTF position ids as V1;
* V3 ("ExchangeV3", Protocol V2): the V2 event layout with structured position ids.

ConditionalTokens (the Gnosis CTF) emits ConditionPreparation / ConditionResolution, which name
the markets and settle them.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

ExchangeVersion = Literal["V1", "V2", "V3"]

# --- mainnet addresses (Polygon PoS, chain id 137) --------------------------------------------
V1_CTF_EXCHANGE = "0x4bfb41d5b3570defd03c39a9a4d8de6bd8b8982e"
V1_NEG_RISK_CTF_EXCHANGE = "0xc5d563a36ae78145c45a50134d48a1215220f80a"
V2_CTF_EXCHANGE = "0xe111180000d2663c0091e4f400237545b87b996b"
V2_NEG_RISK_CTF_EXCHANGE = "0xe2222d279d744050d28e00520010520000310f59"
V3_EXCHANGE = "0xe3333700ca9d93003f00f0f71f8515005f6c00aa"
CONDITIONAL_TOKENS = "0x4d97dcd97ec945f40cf65f87097ace5ea0476045"
NEG_RISK_ADAPTER = "0xd91e80cf2e7be2e162c6513ced06f1dd0da35296"
NEG_RISK_WRAPPED_COLLATERAL = "0x3a3bd7bb9528e159577f7c2e685cc81a765002e2"
USDC_E = "0x2791bca1f2de4661ed88a30c99a7a9449aa84174"
PUSD = "0xc011a7e12a19f7b1f670d46f03b03f3342e82dfb"
POSITION_MANAGER = "0x006f54f7f9a22e0000cc2ab60031000000ae9fef"

# Deployment blocks: a backfill from scratch need not start earlier than the oldest of these.
CTF_DEPLOY_BLOCK = 4_023_686
V1_CTF_EXCHANGE_DEPLOY_BLOCK = 33_605_403
V1_NEG_RISK_CTF_EXCHANGE_DEPLOY_BLOCK = 50_505_492
NEG_RISK_ADAPTER_DEPLOY_BLOCK = 50_505_403

# --- topic0 = keccak256(event signature); tests recompute every one ----------------------------
# V1 exchanges
TOPIC_ORDER_FILLED_V1 = "0xd0a08e8c493f9c94f29311604c9de1b4e8c8d4c06bd0c789af57f2d65bfec0f6"
TOPIC_ORDERS_MATCHED_V1 = "0x63bf4d16b7fa898ef4c4b2b6d90fd201e9c56313b65638af6088d149d2ce956c"
TOPIC_TOKEN_REGISTERED = "0xbc9a2432e8aeb48327246cddd6e872ef452812b4243c04e6bfb786a2cd8faf0d"  # noqa: S105 (a topic, not a secret)
TOPIC_FEE_CHARGED_V1 = "0xacffcc86834d0f1a64b0d5a675798deed6ff0bcfc2231edd3480e7288dba7ff4"
# CLOB V2 and ExchangeV3 (same layout)
TOPIC_ORDER_FILLED_V2 = "0xd543adfd945773f1a62f74f0ee55a5e3b9b1a28262980ba90b1a89f2ea84d8ee"
TOPIC_ORDERS_MATCHED_V2 = "0x174b3811690657c217184f89418266767c87e4805d09680c39fc9c031c0cab7c"
TOPIC_FEE_CHARGED_V2 = "0x55bb3cade9d43b798a4fe5ffdd05024b2d7870df53920673bfc7e68047cd0ab1"
# ConditionalTokens
TOPIC_CONDITION_PREPARATION = "0xab3760c3bd2bb38b5bcf54dc79802ed67338b4cf29f3054ded67ed24661e4177"
TOPIC_CONDITION_RESOLUTION = "0xb44d84d3289691f71497564b85d4233648d9dbae8cbdbb4329f301c3a0185894"
TOPIC_POSITION_SPLIT = "0x2e6bb91f8cbcda0c93623c54d0403a43514fabc40084ec96b6d5379a74786298"
TOPIC_POSITIONS_MERGE = "0x6f13ca62553fcc2bcd2372180a43949c1e4cebba603901ede2f4e14f36b282ca"
TOPIC_PAYOUT_REDEMPTION = "0x2682012a4a4f1973119f1c9b90745d1bd91fa2bab387344f044cb3586864d18d"
TOPIC_TRANSFER_SINGLE = "0xc3d58168c5ae7397731d063d5bbf3d657854427343f4c083240f7aacaa2d0f62"

# The Solidity signatures behind the topics (documentation, and the tests hash them).
EVENT_SIGNATURES: dict[str, str] = {
    TOPIC_ORDER_FILLED_V1: (
        "OrderFilled(bytes32,address,address,uint256,uint256,uint256,uint256,uint256)"
    ),
    TOPIC_ORDERS_MATCHED_V1: "OrdersMatched(bytes32,address,uint256,uint256,uint256,uint256)",
    TOPIC_TOKEN_REGISTERED: "TokenRegistered(uint256,uint256,bytes32)",
    TOPIC_FEE_CHARGED_V1: "FeeCharged(address,uint256,uint256)",
    TOPIC_ORDER_FILLED_V2: (
        "OrderFilled(bytes32,address,address,uint8,uint256,uint256,uint256,uint256,bytes32,bytes32)"
    ),
    TOPIC_ORDERS_MATCHED_V2: "OrdersMatched(bytes32,address,uint8,uint256,uint256,uint256)",
    TOPIC_FEE_CHARGED_V2: "FeeCharged(address,uint256)",
    TOPIC_CONDITION_PREPARATION: "ConditionPreparation(bytes32,address,bytes32,uint256)",
    TOPIC_CONDITION_RESOLUTION: ("ConditionResolution(bytes32,address,bytes32,uint256,uint256[])"),
    TOPIC_POSITION_SPLIT: "PositionSplit(address,address,bytes32,bytes32,uint256[],uint256)",
    TOPIC_POSITIONS_MERGE: "PositionsMerge(address,address,bytes32,bytes32,uint256[],uint256)",
    TOPIC_PAYOUT_REDEMPTION: (
        "PayoutRedemption(address,address,bytes32,bytes32,uint256[],uint256)"
    ),
    TOPIC_TRANSFER_SINGLE: "TransferSingle(address,address,address,uint256,uint256)",
}

# Events orderflow decodes and stores, per emitter kind.
EXCHANGE_TOPICS_V1: tuple[str, ...] = (
    TOPIC_ORDER_FILLED_V1,
    TOPIC_ORDERS_MATCHED_V1,
    TOPIC_TOKEN_REGISTERED,
)
EXCHANGE_TOPICS_V2: tuple[str, ...] = (TOPIC_ORDER_FILLED_V2, TOPIC_ORDERS_MATCHED_V2)
CTF_TOPICS: tuple[str, ...] = (TOPIC_CONDITION_PREPARATION, TOPIC_CONDITION_RESOLUTION)

# Events we recognise but deliberately do not store (they are not dead letters): fees are
# already in OrderFilled, and CTF transfers/splits are outside the trade ledger.
IGNORED_TOPICS: frozenset[str] = frozenset(
    {
        TOPIC_FEE_CHARGED_V1,
        TOPIC_FEE_CHARGED_V2,
        TOPIC_POSITION_SPLIT,
        TOPIC_POSITIONS_MERGE,
        TOPIC_PAYOUT_REDEMPTION,
        TOPIC_TRANSFER_SINGLE,
    }
)

_ADDRESS = re.compile(r"^0x[0-9a-f]{40}$")


def normalize_address(value: str) -> str:
    """Lower-case ``0x`` + 40 hex digits, or ValueError naming the bad value."""
    lowered = value.strip().lower()
    if not _ADDRESS.match(lowered):
        raise ValueError(f"not an address (0x + 40 hex digits): {value!r}")
    return lowered


class ChainAddresses(BaseModel):
    """The contracts one deployment watches. ``MAINNET`` is Polygon; tests and forks override.

    ``exchanges`` maps each exchange address to the generation whose event layout it emits;
    ``neg_risk_exchanges`` is the subset that settles neg-risk markets (the exchange an order
    for such a market is signed against).
    """

    model_config = ConfigDict(frozen=True)

    exchanges: dict[str, ExchangeVersion]
    neg_risk_exchanges: frozenset[str] = frozenset()
    ctf: str = CONDITIONAL_TOKENS
    neg_risk_adapter: str = NEG_RISK_ADAPTER
    neg_risk_wrapped_collateral: str = NEG_RISK_WRAPPED_COLLATERAL
    usdc_e: str = USDC_E
    pusd: str = PUSD
    position_manager: str = POSITION_MANAGER

    @field_validator("exchanges", mode="before")
    @classmethod
    def _lower_exchanges(cls, value: object) -> object:
        if isinstance(value, dict):
            return {normalize_address(str(k)): v for k, v in value.items()}
        return value

    @field_validator("neg_risk_exchanges", mode="before")
    @classmethod
    def _lower_neg_risk(cls, value: object) -> object:
        if isinstance(value, list | tuple | set | frozenset):
            return frozenset(normalize_address(str(v)) for v in value)
        return value

    @field_validator(
        "ctf",
        "neg_risk_adapter",
        "neg_risk_wrapped_collateral",
        "usdc_e",
        "pusd",
        "position_manager",
        mode="before",
    )
    @classmethod
    def _lower(cls, value: object) -> object:
        return normalize_address(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _neg_risk_subset(self) -> ChainAddresses:
        unknown = self.neg_risk_exchanges - set(self.exchanges)
        if unknown:
            raise ValueError(f"neg_risk_exchanges not among exchanges: {sorted(unknown)}")
        if self.ctf in self.exchanges:
            raise ValueError("the ConditionalTokens address cannot also be an exchange")
        return self

    def watched_addresses(self) -> list[str]:
        """Every address the subscription filter lists: the exchanges, then ConditionalTokens."""
        return [*self.exchanges, self.ctf]

    def topics(self) -> list[list[str]]:
        """The ``topics`` filter: topic0 is any event orderflow stores (one OR-list).

        Combined with :meth:`watched_addresses` this selects exactly the decodable events and
        leaves out the CTF's high-volume transfers.
        """
        wanted: list[str] = []
        versions = set(self.exchanges.values())
        if "V1" in versions:
            wanted.extend(EXCHANGE_TOPICS_V1)
        if versions & {"V2", "V3"}:
            wanted.extend(EXCHANGE_TOPICS_V2)
        wanted.extend(CTF_TOPICS)
        return [wanted]

    def log_filter(self) -> dict[str, object]:
        """``{"address": [...], "topics": [[...]]}`` for eth_getLogs / eth_subscribe."""
        return {"address": self.watched_addresses(), "topics": self.topics()}

    def version_of(self, address: str) -> ExchangeVersion | None:
        """The generation of an exchange address, or None when it is not an exchange."""
        return self.exchanges.get(address)


MAINNET = ChainAddresses(
    exchanges={
        V1_CTF_EXCHANGE: "V1",
        V1_NEG_RISK_CTF_EXCHANGE: "V1",
        V2_CTF_EXCHANGE: "V2",
        V2_NEG_RISK_CTF_EXCHANGE: "V2",
        V3_EXCHANGE: "V3",
    },
    neg_risk_exchanges=frozenset({V1_NEG_RISK_CTF_EXCHANGE, V2_NEG_RISK_CTF_EXCHANGE}),
)
