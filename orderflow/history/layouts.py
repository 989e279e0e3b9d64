"""Which published layout a file is, from its column names, and what it lacks.

Column names are compared normalised (lower case, only letters and digits), so the subgraph's
camelCase (``transactionHash``, ``makerAmountFilled``), SQL exports' snake_case
(``transaction_hash``, ``maker_amount_filled``) and Dune's ``evt_`` names meet in one table of
spellings per field. A layout is chosen by the fields it has; a fill layout without the log's
identity (transaction hash + log index, or an ``id`` they derive from), its block or its
exchange is refused with the missing fields named: no approximate identities.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from orderflow.history.errors import LayoutError
from orderflow.history.log_ids import ID_SPELLINGS, read_log_id

Kind = Literal["fills", "matches", "logs", "markets", "blocks"]


def normalise(column: str) -> str:
    return re.sub(r"[^a-z0-9]", "", column.lower())


# canonical field -> accepted spellings (normalised), in order of preference
SPELLINGS: dict[str, tuple[str, ...]] = {
    "tx_hash": ("transactionhash", "txhash", "evttxhash"),
    "log_index": ("logindex", "evtindex"),
    "block_number": ("blocknumber", "evtblocknumber"),
    "block_hash": ("blockhash", "evtblockhash"),
    "timestamp": ("blocktimestamp", "timestamp", "evtblocktime", "blocktime"),
    "exchange": (
        "contractaddress",
        "exchangeaddress",
        "exchange",
        "contract",
        "address",
        "srcaddress",  # Envio's event.srcAddress
    ),
    "order_hash": ("orderhash",),
    "maker": ("maker",),
    "taker": ("taker",),
    "maker_asset_id": ("makerassetid",),
    "taker_asset_id": ("takerassetid",),
    "maker_amount": ("makeramountfilled", "makeramount"),
    "taker_amount": ("takeramountfilled", "takeramount"),
    "fee": ("fee",),
    "side": ("side",),
    "token_id": ("tokenid",),
    "builder": ("builder",),
    "metadata": ("metadata",),
    "taker_order_hash": ("takerorderhash",),
    "taker_order_maker": ("takerordermaker",),
    "id": ("id",),
    "data": ("data",),
    "topics": ("topics",),
    "topic0": ("topic0",),
    "topic1": ("topic1",),
    "topic2": ("topic2",),
    "topic3": ("topic3",),
    "removed": ("removed",),
    "condition_id": ("conditionid",),
    "clob_token_ids": ("clobtokenids",),
    "outcomes": ("outcomes",),
    "outcome_prices": ("outcomeprices",),
    "neg_risk": ("negrisk",),
    "closed": ("closed",),
    "question_id": ("questionid",),
    "resolved_by": ("resolvedby",),
    "closed_time": ("closedtime",),
    "parent_hash": ("parenthash",),
}

# Original spellings to name in error messages (one camelCase, one snake_case).
_SHOWN: dict[str, str] = {
    "tx_hash": "transactionHash / transaction_hash / evt_tx_hash",
    "log_index": "logIndex / log_index / evt_index",
    "block_number": "blockNumber / block_number / evt_block_number",
    "exchange": "contract_address / contract / exchange (the emitting exchange)",
    "order_hash": "orderHash / order_hash",
    "fee": "fee",
    "maker": "maker",
    "taker": "taker",
    "maker_amount": "makerAmountFilled / maker_amount_filled",
    "taker_amount": "takerAmountFilled / taker_amount_filled",
    "maker_asset_id": "makerAssetId / maker_asset_id (V1) or side + tokenId (V2)",
    "taker_asset_id": "takerAssetId / taker_asset_id (V1) or side + tokenId (V2)",
    "taker_order_hash": "takerOrderHash / taker_order_hash",
    "taker_order_maker": "takerOrderMaker / taker_order_maker",
    "data": "data",
    "topics": "topics (a list) or topic0..topic3",
    "condition_id": "conditionId / condition_id",
    "clob_token_ids": "clobTokenIds / clob_token_ids",
    "block_hash": "blockHash / block_hash",
    "timestamp": "timestamp / block_timestamp",
}

_FILL_CORE = ("order_hash", "maker", "taker", "maker_amount", "taker_amount", "fee")
_MATCH_CORE = ("taker_order_hash", "taker_order_maker", "maker_amount", "taker_amount")
_LOCATION = ("tx_hash", "log_index", "block_number", "exchange")
_REQUIRED: dict[Kind, tuple[str, ...]] = {
    "fills": (*_LOCATION, *_FILL_CORE),
    "matches": (*_LOCATION, *_MATCH_CORE),
    "logs": ("tx_hash", "log_index", "block_number", "exchange", "data", "topics"),
    "markets": ("condition_id", "clob_token_ids"),
    "blocks": ("block_number", "block_hash", "timestamp"),
}


@dataclass(slots=True)
class Layout:
    """A file's layout: its kind, which column holds each field, and how V1/V2 fills are told."""

    kind: Kind
    columns: dict[str, str]  # canonical field -> the file's column name
    name: str
    id_derives_log_index: bool = False
    generation: Literal["V1", "V2", "any"] = "any"
    # The exchange of a fill or match row without one (``orderflow import --exchange``): a
    # dump of one exchange's events, as a Graph scaffold's (no column for event.address)
    exchange: str | None = None
    notes: list[str] = field(default_factory=list)

    def has(self, canonical: str) -> bool:
        return canonical in self.columns


def map_columns(columns: Iterable[str]) -> dict[str, str]:
    """canonical field -> the column (of ``columns``) that holds it."""
    by_norm: dict[str, str] = {}
    for col in columns:
        by_norm.setdefault(normalise(col), col)
    found: dict[str, str] = {}
    for canonical, spellings in SPELLINGS.items():
        for spelling in spellings:
            if spelling in by_norm:
                found[canonical] = by_norm[spelling]
                break
    return found


def _kind(found: Mapping[str, str]) -> Kind | None:
    if "data" in found and ("topics" in found or "topic0" in found):
        return "logs"
    if "condition_id" in found and ("clob_token_ids" in found or "outcomes" in found):
        return "markets"
    if "taker_order_hash" in found or _subgraph_matches(found):
        return "matches"
    if {"maker_amount", "order_hash", "maker_asset_id", "token_id"} & found.keys():
        return "fills"
    if "block_hash" in found and "block_number" in found:
        return "blocks"
    return None


def _named(fields: Iterable[str]) -> str:
    return "; ".join(f"{f} ({_SHOWN.get(f, f)})" for f in fields)


def _json_advice(columns: list[str], source: str) -> str | None:
    """What a JSON file that holds no rows seems to be, and the command that makes it rows."""
    stem = source.removesuffix(".gz").rsplit(".", 1)[0]
    out = f"{stem}.jsonl" if f"{stem}.jsonl" != source else f"{stem}.rows.jsonl"  # not over it

    def jq(program: str) -> str:
        if source.endswith(".gz"):
            return f"zcat {source} | jq -c '{program}' > {out}"
        return f"jq -c '{program}' {source} > {out}"

    if "markets" in columns and "conditionId" not in columns:
        return (
            "a Gamma /events reply: its markets are nested in each event; import the markets "
            f"themselves ({jq('.[].markets[]')}) or a /markets reply"
        )
    if columns == ["data", "next_cursor"] or columns == ["data"]:
        rows = jq(".data[]")
        return f'an object wrapping rows under "data"; import the rows themselves ({rows})'
    if not columns:
        return (
            "one JSON object over several lines, neither JSON lines nor an array; import it "
            f"as JSON lines ({jq('.')})"
        )
    return None


def detect(
    columns: list[str], source: str, *, sparse: bool = False, exchange: str | None = None
) -> Layout:
    """The layout of a file with these columns, or LayoutError naming what is missing.

    ``exchange``: the address of the exchange whose fill and match rows lack one (``--exchange``;
    the other kinds do not take it: raw logs carry their own, blocks and markets have none).

    ``sparse``: the columns are the keys of a JSON file's first object, and an API's objects
    leave out what they have no value for (an AMM-era Gamma market has no ``clobTokenIds``, an
    open one no ``closedTime``), so Gamma rows then need only their condition id: each row's
    own keys are read (``markets.MarketRows``)."""
    found = map_columns(columns)
    kind = _kind(found)
    api = None if {"log_index", "id"} & found.keys() else _data_api(columns)
    if api is not None:
        raise LayoutError(
            f"{source}: Polymarket's data API {api} rows: a wallet's trades with decimal size and "
            "price and their transaction hash, without the log index, order hash, block and "
            "exchange of the fills they sum. A fill's identity is (chain, transaction hash, log "
            "index): orderflow imports no approximate identities. Backfill these transactions' "
            "blocks from a node (`orderflow listen` with START_BLOCK) or import a dump of the "
            "OrderFilled events with their log index"
        )
    if kind is None:
        advice = _json_advice(columns, source) if sparse else None
        raise LayoutError(
            f"{source}: not a layout orderflow imports (columns: {', '.join(columns[:20])}). "
            "Known: OrderFilled / OrdersMatched rows, raw logs, Gamma /markets rows, blocks"
            + (f". It looks like {advice}" if advice else "")
        )
    if kind == "logs" and "topics" not in found:
        found["topics"] = found["topic0"]  # topic0..topic3 columns stand in for the list
    required = ["condition_id"] if sparse and kind == "markets" else list(_REQUIRED[kind])
    id_derives = False
    if kind in ("fills", "matches", "logs") and "log_index" not in found and "id" in found:
        id_derives = True  # checked on the first batch: its ids must be log ids (LogId)
        required.remove("log_index")
        if "tx_hash" not in found:
            required.remove("tx_hash")
        if "block_number" not in found:  # an id may carry it (Envio's)
            required.remove("block_number")
    generation: Literal["V1", "V2", "any"] = "any"
    if kind in ("fills", "matches"):
        v1 = "maker_asset_id" in found and "taker_asset_id" in found
        v2 = "side" in found and "token_id" in found
        if v1 != v2:
            generation = "V1" if v1 else "V2"
        elif not v1:
            required += ["maker_asset_id", "taker_asset_id"]
    if exchange is not None and kind in ("fills", "matches"):
        required.remove("exchange")
    else:
        exchange = None
    missing = [f for f in required if f not in found]
    if missing and id_derives:  # refused anyway: say the id is no log index either
        missing[:0] = [f for f in ("log_index", "block_number") if f not in found]
    name = _layout_name(kind, found, generation)
    if missing:
        raise LayoutError(_refusal(source, name, kind, missing, found))
    return Layout(kind, found, name, id_derives, generation, exchange=exchange)


def _data_api(columns: Iterable[str]) -> str | None:
    """``/trades`` or ``/activity`` for the rows of Polymarket's data API, else None (an
    export with a log index or an id that may be one is not refused for a few more columns)."""
    names = {normalise(c) for c in columns}
    if not {"proxywallet", "transactionhash", "size", "price"} <= names:
        return None
    return "/activity" if "usdcsize" in names else "/trades"


def _subgraph_matches(found: Mapping[str, str]) -> bool:
    """The orderbook subgraph's OrdersMatchedEvent: an id, the amounts and asset ids, and no
    order hash, maker or taker (``id, timestamp, makerAssetID, takerAssetID, …Filled``)."""
    return {"id", "maker_amount", "maker_asset_id"} <= found.keys() and not {
        "order_hash",
        "maker",
        "taker",
        "taker_order_maker",
    } & found.keys()


def _layout_name(kind: Kind, found: Mapping[str, str], generation: str) -> str:
    if kind == "matches" and _subgraph_matches(found):
        return (
            "OrdersMatched rows (the Polymarket orderbook subgraph's ordersMatchedEvents, whose "
            "id is the transaction hash: one row per transaction, not per match)"
        )
    if kind == "fills" and "id" in found and "log_index" not in found:
        # a subgraph's, a graph-node table's, Envio's: the id names no indexer
        return "OrderFilled rows keyed by an id (an indexer's event entities)"
    if kind == "fills" and not ({"order_hash", "fee", "log_index"} & found.keys()):
        return "OrderFilled rows (poly_data's orderFilled.csv)"
    if kind == "fills":
        return f"OrderFilled rows ({generation})"
    if kind == "matches":
        return f"OrdersMatched rows ({generation})"
    if kind == "logs":
        return "raw logs"
    if kind == "markets":
        return "Gamma /markets rows"
    return "blocks"


def _refusal(
    source: str, name: str, kind: Kind, missing: list[str], found: Mapping[str, str]
) -> str:
    text = (
        f"{source}: {name} lack {_named(missing)}. "
        "A fill's identity is (chain, transaction hash, log index) and its row needs its block "
        "and exchange: orderflow imports no approximate identities"
    )
    if "log_index" in missing and "id" in found:
        text += (
            f" (an id column stands in for the log index only when it is {ID_SPELLINGS}; "
            "the Polymarket subgraph's id is transactionHash_orderHash, which does not carry "
            "a log index)"
        )
    if "exchange" in missing:
        text += (
            " (a dump of one exchange's events, as a Graph scaffold's, which has no column for "
            "the event's address: name it with --exchange ADDRESS)"
        )
    if kind in ("fills", "matches") and "log_index" in missing:
        text += (
            ". Get the fills with their log index (e.g. a Parquet/SQL export of the OrderFilled "
            "events with log_index and block_number), or backfill these blocks from a node "
            "with `orderflow listen` and START_BLOCK"
        )
    return text


def refuse_other_exchange(
    source: str, layout: Layout, column: str, own: str, unit: str, number: int
) -> LayoutError:
    """The file names another exchange than ``--exchange`` (``layout.exchange``)."""
    return LayoutError(
        f"{source}: --exchange {layout.exchange}, but its {column} column names {own} "
        f"({unit} {number}): one of them is wrong; nothing of the file was stored"
    )


def refuse_underived_id(source: str, layout: Layout, value: object, rows: int) -> LayoutError:
    """The file's ids are no log ids: not one of its first ``rows`` rows derives a log index
    (one row that does not is a dead letter of its own: ``RowEncoder.identity``), or, with the
    file's columns, the whole identity."""
    derived = read_log_id(value)
    if derived is not None:
        lacking = [
            _named([f])
            for f, carried in (("tx_hash", derived.tx), ("block_number", derived.block))
            if carried is None and not layout.has(f)
        ]
        envio = (
            " (an Envio entity's: add event.transaction.hash to its field_selection)"
            if derived.tx is None
            else ""
        )
        return LayoutError(
            f"{source}: {layout.name} lack {'; '.join(lacking)}, which its ids ({value!r}, …) "
            f"do not carry: export it with the ids{envio}. orderflow imports no approximate "
            "identities"
        )
    which = (
        f"its id {value!r} does not"
        if rows == 1
        else (f"none of the ids of its first {rows:,} rows ({value!r}, …)")
    )
    return LayoutError(
        f"{source}: {layout.name} lack log_index ({_SHOWN['log_index']}); {which} derive one "
        f"(a log id is {ID_SPELLINGS}; the Polymarket orderbook subgraph's id is "
        "transactionHash_orderHash, which two fills of one order in one transaction share). "
        "orderflow imports no approximate identities"
    )
