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
# FeeModules (github.com/Polymarket/exchange-fee-module): 2023 deployment for the CTF Exchange
# (broadcast/Deploy.s.sol/137), its NegRisk twin (neg-risk-ctf-adapter addresses.json,
# "negRiskFeeModule"), and the v2.0.0 release's FeeModule and NegRiskFeeModule (Aug 2025).
FEE_MODULES = frozenset(
    {
        "0x56c79347e95530c01a2fc76e732f9566da16e113",
        "0x78769d50be1763ed1ca0d5e878d93f05aabff29e",
        "0xe3f18acc55091e2c48d883fc8c8413319d4ab7b0",
        "0xb768891e3130f6df18214ac804d4db76c2c37730",
    }
)

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
TOPIC_TRANSFER_BATCH = "0x4a39dc06d4c0dbc64b70af90fd698a233a518aa5d07e595d983b8c0526c8f7fb"
TOPIC_APPROVAL_FOR_ALL = "0x17307eab39ab6107e8899845ad3d59bd9653f200f220920489ca2b5937696c31"
TOPIC_URI = "0x6bb7ff708619ba0610cba295a58592e0451dee2622938c8755667688daf3529b"
# NegRiskAdapter (its own PositionSplit/Merge/PayoutRedemption signatures, not the CTF's)
TOPIC_NR_MARKET_PREPARED = "0xf059ab16d1ca60e123eab60e3c02b68faf060347c701a5d14885a8e1def7b3a8"
TOPIC_NR_QUESTION_PREPARED = "0xaac410f87d423a922a7b226ac68f0c2eaf5bf6d15e644ac0758c7f96e2c253f7"
TOPIC_NR_OUTCOME_REPORTED = "0x9e9fa7fd355160bd4cd3f22d4333519354beff1f5689bde87f2c5e63d8d484b2"
TOPIC_NR_POSITION_SPLIT = "0xbbed930dbfb7907ae2d60ddf78345610214f26419a0128df39b6cc3d9e5df9b0"
TOPIC_NR_POSITIONS_MERGE = "0xba33ac50d8894676597e6e35dc09cff59854708b642cd069d21eb9c7ca072a04"
TOPIC_NR_POSITIONS_CONVERTED = "0xb03d19dddbc72a87e735ff0ea3b57bef133ebe44e1894284916a84044deb367e"
TOPIC_NR_PAYOUT_REDEMPTION = "0x9140a6a270ef945260c03894b3c6b3b2695e9d5101feef0ff24fec960cfd3224"
# Exchange and fee-module administration (Auth, Pausable, Registry mixins)
TOPIC_ORDER_CANCELLED = "0x5152abf959f6564662358c2e52b702259b78bac5ee7842a0f01937e670efcc7d"
TOPIC_TRADING_PAUSED = "0x203c4bd3e526634f661575359ff30de3b0edaba6c2cb1eac60f730b6d2d9d536"
TOPIC_TRADING_UNPAUSED = "0xa1e8a54850dbd7f520bcc09f47bff152294b77b2081da545a7adf531b7ea283b"
TOPIC_NEW_ADMIN = "0xf9ffabca9c8276e99321725bcb43fb076a6c66a54b7f21c4e8146d8519b417dc"
TOPIC_NEW_OPERATOR = "0xf1e04d73c4304b5ff164f9d10c7473e2a1593b740674a6107975e2a7001c1e5c"
TOPIC_REMOVED_ADMIN = "0x787a2e12f4a55b658b8f573c32432ee11a5e8b51677d1e1e937aaf6a0bb5776e"
TOPIC_REMOVED_OPERATOR = "0xf7262ed0443cc211121ceb1a80d69004f319245615a7488f951f1437fd91642c"
TOPIC_PROXY_FACTORY_UPDATED = "0x3053c6252a932554235c173caffc1913604dba3a41cee89516f631c4a1a50a37"
TOPIC_SAFE_FACTORY_UPDATED = "0x9726d7faf7429d6b059560dc858ed769377ccdf8b7541eabe12b22548719831f"
# Polymarket's FeeModule (repository Polymarket/exchange-fee-module): it calls a V1 exchange's
# matchOrders and pays back part of the fee the exchange charged. Two event layouts were
# deployed: the 2023 module's (token, to, id, amount; nothing indexed) and the 2025 v2.0.0
# module's (orderHash, to and feeCharged indexed; id and refund in data).
TOPIC_FEE_REFUNDED_2023 = "0x18fe0464eb77016dc4e227eb0d690e4002756d82b442143bbfb874548952b5f2"
TOPIC_FEE_REFUNDED = "0xb608d2bf25d8b4b744ba23ce2ea9802ea955e216c064a62f42152fbf98958d24"
TOPIC_FEE_WITHDRAWN = "0x6ce49f8691a80db5eb4f60cd55b14640529346a7ddf9bf8f77a423fa6a10bfdb"

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
    TOPIC_TRANSFER_BATCH: "TransferBatch(address,address,address,uint256[],uint256[])",
    TOPIC_APPROVAL_FOR_ALL: "ApprovalForAll(address,address,bool)",
    TOPIC_URI: "URI(string,uint256)",
    TOPIC_NR_MARKET_PREPARED: "MarketPrepared(bytes32,address,uint256,bytes)",
    TOPIC_NR_QUESTION_PREPARED: "QuestionPrepared(bytes32,bytes32,uint256,bytes)",
    TOPIC_NR_OUTCOME_REPORTED: "OutcomeReported(bytes32,bytes32,bool)",
    TOPIC_NR_POSITION_SPLIT: "PositionSplit(address,bytes32,uint256)",
    TOPIC_NR_POSITIONS_MERGE: "PositionsMerge(address,bytes32,uint256)",
    TOPIC_NR_POSITIONS_CONVERTED: "PositionsConverted(address,bytes32,uint256,uint256)",
    TOPIC_NR_PAYOUT_REDEMPTION: "PayoutRedemption(address,bytes32,uint256[],uint256)",
    TOPIC_ORDER_CANCELLED: "OrderCancelled(bytes32)",
    TOPIC_TRADING_PAUSED: "TradingPaused(address)",
    TOPIC_TRADING_UNPAUSED: "TradingUnpaused(address)",
    TOPIC_NEW_ADMIN: "NewAdmin(address,address)",
    TOPIC_NEW_OPERATOR: "NewOperator(address,address)",
    TOPIC_REMOVED_ADMIN: "RemovedAdmin(address,address)",
    TOPIC_REMOVED_OPERATOR: "RemovedOperator(address,address)",
    TOPIC_PROXY_FACTORY_UPDATED: "ProxyFactoryUpdated(address,address)",
    TOPIC_SAFE_FACTORY_UPDATED: "SafeFactoryUpdated(address,address)",
    TOPIC_FEE_REFUNDED_2023: "FeeRefunded(address,address,uint256,uint256)",
    TOPIC_FEE_REFUNDED: "FeeRefunded(bytes32,address,uint256,uint256,uint256)",
    TOPIC_FEE_WITHDRAWN: "FeeWithdrawn(address,address,uint256,uint256)",
}

# Events orderflow decodes and stores, per emitter kind.
EXCHANGE_TOPICS_V1: tuple[str, ...] = (
    TOPIC_ORDER_FILLED_V1,
    TOPIC_ORDERS_MATCHED_V1,
    TOPIC_TOKEN_REGISTERED,
)
EXCHANGE_TOPICS_V2: tuple[str, ...] = (TOPIC_ORDER_FILLED_V2, TOPIC_ORDERS_MATCHED_V2)
CTF_TOPICS: tuple[str, ...] = (TOPIC_CONDITION_PREPARATION, TOPIC_CONDITION_RESOLUTION)
FEE_MODULE_TOPICS: tuple[str, ...] = (TOPIC_FEE_REFUNDED_2023, TOPIC_FEE_REFUNDED)

# Events we recognise but deliberately do not store (they are not dead letters): fees are
# already in OrderFilled, and ERC-1155 transfers, splits, merges, redemptions, conversions and
# administration are outside the trade ledger. A file of unfiltered ConditionalTokens or
# NegRiskAdapter logs imports with none of them dead-lettered.
IGNORED_TOPICS: frozenset[str] = frozenset(
    {
        TOPIC_FEE_CHARGED_V1,
        TOPIC_FEE_CHARGED_V2,
        TOPIC_POSITION_SPLIT,
        TOPIC_POSITIONS_MERGE,
        TOPIC_PAYOUT_REDEMPTION,
        TOPIC_TRANSFER_SINGLE,
        TOPIC_TRANSFER_BATCH,
        TOPIC_APPROVAL_FOR_ALL,
        TOPIC_URI,
        TOPIC_NR_MARKET_PREPARED,
        TOPIC_NR_QUESTION_PREPARED,
        TOPIC_NR_OUTCOME_REPORTED,
        TOPIC_NR_POSITION_SPLIT,
        TOPIC_NR_POSITIONS_MERGE,
        TOPIC_NR_POSITIONS_CONVERTED,
        TOPIC_NR_PAYOUT_REDEMPTION,
        TOPIC_ORDER_CANCELLED,
        TOPIC_TRADING_PAUSED,
        TOPIC_TRADING_UNPAUSED,
        TOPIC_NEW_ADMIN,
        TOPIC_NEW_OPERATOR,
        TOPIC_REMOVED_ADMIN,
        TOPIC_REMOVED_OPERATOR,
        TOPIC_PROXY_FACTORY_UPDATED,
        TOPIC_SAFE_FACTORY_UPDATED,
        TOPIC_FEE_WITHDRAWN,
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
    fee_modules: frozenset[str] = frozenset()  # MAINNET lists Polymarket's

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

    @field_validator("fee_modules", mode="before")
    @classmethod
    def _lower_fee_modules(cls, value: object) -> object:
        if isinstance(value, list | tuple | set | frozenset):
            return frozenset(normalize_address(str(v)) for v in value)
        return value

    @model_validator(mode="after")
    def _neg_risk_subset(self) -> ChainAddresses:
        unknown = self.neg_risk_exchanges - set(self.exchanges)
        if unknown:
            raise ValueError(f"neg_risk_exchanges not among exchanges: {sorted(unknown)}")
        if self.ctf in self.exchanges:
            raise ValueError("the ConditionalTokens address cannot also be an exchange")
        return self

    def watched_addresses(self) -> list[str]:
        """Every address the subscription filter lists: the exchanges, ConditionalTokens, then
        the FeeModules (their FeeRefunded lowers a V1 fill's fee to what was paid)."""
        return [*self.exchanges, self.ctf, *sorted(self.fee_modules)]

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
        if self.fee_modules:
            wanted.extend(FEE_MODULE_TOPICS)
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
    fee_modules=FEE_MODULES,
)
