"""What decoding produces: one frozen dataclass per event kind, each carrying its log's identity.

Amounts stay integers in base units (6 decimals for both collateral and outcome shares) so
nothing is rounded on the way to PostgreSQL; the ``Decimal`` properties are for readers.
A fill's identity is ``(chain_id, tx_hash, log_index)`` — never the transaction hash alone.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal, Protocol

from orderflow.chain.contracts import ExchangeVersion
from orderflow.chain.tokens import TokenInfo

Side = Literal["BUY", "SELL"]
FeeAsset = Literal["COLLATERAL", "SHARES"]

UNIT = Decimal(1_000_000)  # 6 decimals: USDC.e, pUSD and CTF outcome tokens alike
PRICE_QUANTUM = Decimal("1E-10")  # orderflow_trades.price is NUMERIC(20, 10)


def units(base: int) -> Decimal:
    """Base units (1e-6) as an exact Decimal of whole units."""
    return Decimal(base) / UNIT


def price_of(collateral: int, shares: int) -> Decimal:
    """Collateral per share, rounded half-up to 10 places like PostgreSQL's NUMERIC(20, 10)."""
    if shares == 0:
        return Decimal(0)
    return (Decimal(collateral) / Decimal(shares)).quantize(PRICE_QUANTUM, ROUND_HALF_UP)


# Events are immutable by convention, not ``frozen=True``: a frozen dataclass pays one
# ``object.__setattr__`` per field on construction (about 4 µs for a Fill on the reference
# machine, more than the rest of decoding), and decoding speed is the point of this stage.
# LogRef keeps value semantics (eq + hash) so refs can live in sets and dict keys.


@dataclass(slots=True, unsafe_hash=True)
class LogRef:
    """Where a log sits in the chain. ``timestamp`` is None when the node omitted it."""

    chain_id: int
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    address: str
    timestamp: datetime | None
    # The raw log object, kept (not copied) so a log that cannot be stored still reaches the
    # dead-letter table intact.
    raw: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)


class _Amounts:
    """Exact unit amounts and price of an event carrying base-unit ``shares`` and ``collateral``."""

    __slots__ = ()
    shares: int
    collateral: int

    @property
    def size(self) -> Decimal:
        return units(self.shares)

    @property
    def usdc_size(self) -> Decimal:
        return units(self.collateral)

    @property
    def price(self) -> Decimal:
        return price_of(self.collateral, self.shares)


@dataclass(slots=True)
class Fill(_Amounts):
    """One OrderFilled, from the point of view of the order's owner (``maker``).

    ``shares`` and ``collateral`` are gross base units. ``taker`` is the counterparty as
    emitted, or the exchange itself for the taker order's aggregate row.
    """

    ref: LogRef
    exchange_version: ExchangeVersion
    order_hash: str
    maker: str
    taker: str
    side: Side
    token_id: int
    shares: int
    collateral: int
    fee: int
    fee_asset: FeeAsset
    builder: str | None
    metadata: str | None
    is_taker_aggregate: bool

    @property
    def fee_units(self) -> Decimal:
        return units(self.fee)


@dataclass(slots=True)
class Match(_Amounts):
    """One OrdersMatched: a taker order against one or more maker orders (counted once)."""

    ref: LogRef
    exchange_version: ExchangeVersion
    taker_order_hash: str
    taker_wallet: str
    side: Side
    token_id: int
    shares: int
    collateral: int


# --- what the cross-log logic reads (amounts.py, copy_render.match_links) ---------------------
# Fill, Match and LogRef have these fields; so do the file import's light records of the hot
# events (decode_fast.py), which never build a Fill: one implementation serves both.


class RefFields(Protocol):
    """A log's place: the transaction, its index there, and the emitting exchange."""

    @property
    def tx_hash(self) -> str: ...
    @property
    def log_index(self) -> int: ...
    @property
    def address(self) -> str: ...


class Located(Protocol):
    @property
    def ref(self) -> RefFields: ...


class FillFields(Located, Protocol):
    """What the taker-amount correction reads of a fill (and may lower: shares, collateral)."""

    shares: int
    collateral: int

    @property
    def is_taker_aggregate(self) -> bool: ...
    @property
    def order_hash(self) -> str: ...
    @property
    def side(self) -> str: ...
    @property
    def token_id(self) -> int: ...


class MatchFields(Located, Protocol):
    """What the taker-amount correction reads of a match (and may lower: shares, collateral)."""

    shares: int
    collateral: int

    @property
    def taker_order_hash(self) -> str: ...
    @property
    def side(self) -> str: ...


@dataclass(slots=True)
class TokenRegistration:
    """V1 TokenRegistered, with the pair already ordered by outcome (see tokens.py)."""

    ref: LogRef
    condition_id: str
    token0: int
    token1: int
    tokens: tuple[TokenInfo, ...]


@dataclass(slots=True)
class ConditionPreparation:
    """ConditionalTokens ConditionPreparation, with the computed token ids of every outcome."""

    ref: LogRef
    condition_id: str
    oracle: str
    question_id: str
    outcome_slot_count: int
    neg_risk: bool
    tokens: tuple[TokenInfo, ...]


@dataclass(slots=True)
class ConditionResolution:
    """ConditionalTokens ConditionResolution: outcome ``i`` pays numerator[i] / sum per share."""

    ref: LogRef
    condition_id: str
    oracle: str
    question_id: str
    outcome_slot_count: int
    payout_numerators: tuple[int, ...]

    @property
    def payouts(self) -> tuple[Decimal, ...]:
        total = sum(self.payout_numerators)
        return tuple(Decimal(n) / Decimal(total) for n in self.payout_numerators)

    @property
    def winning_outcome(self) -> int | None:
        """The single outcome that pays, or None for a split payout."""
        paying = [i for i, n in enumerate(self.payout_numerators) if n]
        return paying[0] if len(paying) == 1 else None


@dataclass(slots=True)
class FeeRefund:
    """A FeeModule's FeeRefunded: part of a V1 fill's fee paid back to the order's owner.

    ``token_id`` says in what: 0 = collateral (a SELL's fee), else the outcome token (a BUY's
    fee, taken in shares). ``order_hash`` and ``fee_charged`` exist in the 2025 module's event
    only; the 2023 module's refunds are matched to their fill by wallet and asset instead.
    """

    ref: LogRef
    wallet: str
    token_id: int
    refund: int
    order_hash: str | None = None
    fee_charged: int | None = None


@dataclass(slots=True)
class Ignored:
    """A known event orderflow deliberately does not store (FeeCharged, CTF transfers …)."""

    ref: LogRef
    topic0: str


@dataclass(slots=True)
class Removed:
    """A log the node retracted (``removed: true``) after a reorg: never stored; it retracts its
    block (number and hash) as far as it was stored or decoded before it
    (``DecodedBatch.retract``, ``rollback.retract_removed``)."""

    ref: LogRef


@dataclass(slots=True)
class DeadLetter:
    """A log that could not be decoded, with the reason and whatever identity was parseable."""

    raw: Mapping[str, Any]
    reason: str
    chain_id: int
    tx_hash: str | None = None
    log_index: int | None = None
    block_number: int | None = None
    address: str | None = None
    topic0: str | None = None
    file: str | None = None  # read from a file (history import, listen --from-file): its name
    line: int | None = None  # … and the line of a text file, the row of Parquet or a JSON array


Event = Fill | Match | TokenRegistration | ConditionPreparation | ConditionResolution | FeeRefund
Decoded = Event | Ignored | Removed | DeadLetter


@dataclass(slots=True)
class DecodedBatch:
    """A batch of logs sorted by kind, in input order within each kind."""

    fills: list[Fill] = field(default_factory=list)
    matches: list[Match] = field(default_factory=list)
    registrations: list[TokenRegistration] = field(default_factory=list)
    conditions: list[ConditionPreparation] = field(default_factory=list)
    resolutions: list[ConditionResolution] = field(default_factory=list)
    refunds: list[FeeRefund] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    removed: list[LogRef] = field(default_factory=list)
    ignored: list[LogRef] = field(default_factory=list)

    def add(self, item: Decoded) -> None:
        if isinstance(item, Fill):
            self.fills.append(item)
        elif isinstance(item, Match):
            self.matches.append(item)
        elif isinstance(item, DeadLetter):
            self.dead_letters.append(item)
        elif isinstance(item, TokenRegistration):
            self.registrations.append(item)
        elif isinstance(item, ConditionPreparation):
            self.conditions.append(item)
        elif isinstance(item, ConditionResolution):
            self.resolutions.append(item)
        elif isinstance(item, FeeRefund):
            self.refunds.append(item)
        elif isinstance(item, Removed):
            self.retract(item.ref)
            self.removed.append(item.ref)
        else:
            self.ignored.append(item.ref)

    def retract(self, ref: LogRef) -> None:
        """Drop the events of ``ref``'s block (its number and hash) added so far.

        A node that retracts one log of a block has retracted the block (the live listener rolls
        the block back). Only what came before the removal goes: a log of the block added after
        it is the block sent again. As in a rollback, token registrations stay (facts about the
        ids, true on every fork); dead letters stay too (a record of what could not be read)."""
        key = (ref.block_number, ref.block_hash)
        for events in (self.fills, self.matches, self.conditions, self.resolutions, self.refunds):
            _drop_block(events, key)

    def extend(self, other: DecodedBatch) -> None:
        self.fills.extend(other.fills)
        self.matches.extend(other.matches)
        self.registrations.extend(other.registrations)
        self.conditions.extend(other.conditions)
        self.resolutions.extend(other.resolutions)
        self.refunds.extend(other.refunds)
        self.dead_letters.extend(other.dead_letters)
        self.removed.extend(other.removed)
        self.ignored.extend(other.ignored)

    @property
    def events(self) -> int:
        """Number of storable events (fills, matches, registrations, conditions, resolutions,
        fee refunds)."""
        return (
            len(self.fills)
            + len(self.matches)
            + len(self.registrations)
            + len(self.conditions)
            + len(self.resolutions)
            + len(self.refunds)
        )

    def __len__(self) -> int:
        return self.events + len(self.dead_letters) + len(self.removed) + len(self.ignored)

    def top(self, unstored: Collection[tuple[str, int]] = ()) -> tuple[int, str] | None:
        """The highest block of the batch's storable (or ignored) logs, with its hash: what a
        stream's checkpoint may advance to once the batch is stored. ``unstored``: the (tx
        hash, log index) of logs the writer made dead letters of instead (the database refused
        them, or their time was unknown): left out, their blocks were not stored."""
        top: tuple[int, str] | None = None
        refs = (
            *(e.ref for e in self.fills),
            *(e.ref for e in self.matches),
            *(e.ref for e in self.conditions),
            *(e.ref for e in self.resolutions),
            *(e.ref for e in self.refunds),
            *(r.ref for r in self.registrations),
            *self.ignored,
        )
        for ref in refs:
            if (top is None or ref.block_number > top[0]) and (
                not unstored or (ref.tx_hash, ref.log_index) not in unstored
            ):
                top = (ref.block_number, ref.block_hash)
        return top

    def top_block(self, unstored: Collection[tuple[str, int]] = ()) -> int | None:
        """The block number of :meth:`top`."""
        top = self.top(unstored)
        return None if top is None else top[0]


def _drop_block(events: list[Any], key: tuple[int, str]) -> None:
    """Remove, in place, the events of the block ``key`` (number, hash): callers hold bound
    ``append`` methods of these lists (``decode_batch``)."""
    if any((e.ref.block_number, e.ref.block_hash) == key for e in events):
        events[:] = [e for e in events if (e.ref.block_number, e.ref.block_hash) != key]
