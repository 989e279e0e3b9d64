"""A batch's fills and matches as COPY text for the store's staging tables. Pure: no I/O.

``store.store_batch`` streams these bytes into ``orderflow_tmp_fills`` / ``orderflow_tmp_matches``
(columns ``store_sql.FILL_COLUMNS`` / ``MATCH_COLUMNS``) and then runs its set-based statements.
Rendering needs nothing from the database, so a file import does it in its decoding processes
(``decode_workers.py``) and the writer only copies bytes; every other caller renders inside
``store_batch``. Both use this module: one place for how a fill becomes a staging row.

Decoded values are hex strings, integers and a few constants, which COPY's text format takes
as they are. A value that could change meaning there (a backslash, tab, newline or carriage
return — only possible in an event built by hand, never from ``decode``) is detected on the
whole rendered text at C speed and the batch is rendered again with every text field escaped.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from orderflow.chain.events import Fill, Located, LogRef, Match

Epoch = Callable[[LogRef], int | None]
"""Epoch seconds of a log's block, or None when it is not known (the log is dead-lettered)."""

NULL = "\\N"  # COPY text's NULL
_FILL_FIELDS = 20  # len(store_sql.FILL_COLUMNS)
_MATCH_FIELDS = 13  # len(store_sql.MATCH_COLUMNS)


Position = tuple[int, int, str]  # (block number, log index, tx hash): chain order


@dataclass(slots=True)
class CopyRows:
    """Staging rows of one batch, and what the statements after the COPY need to know."""

    fills: bytes = b""
    fill_count: int = 0
    matches: bytes = b""
    match_count: int = 0
    # Transactions whose match links need SQL (a fill not linked inside the batch, every match).
    touched: list[str] = field(default_factory=list)
    # Transactions of V1 fills (fee refunds apply to them), and token ids of V3 fills/matches
    # (registered from their structure): of every event, stored or dead-lettered.
    v1_txs: list[str] = field(default_factory=list)
    v3_tokens: list[int] = field(default_factory=list)
    # The first and last rendered row in chain order: (block, log index, tx hash), None if none.
    # A transaction's logs are consecutive in its block, so only the transactions of these two
    # can have logs outside the batch between them (store.py: which links need SQL).
    first: Position | None = None
    last: Position | None = None
    # The distinct blocks of the rendered rows: the partitions they go to (only those).
    block_numbers: frozenset[int] = frozenset()
    # Whether a (tx hash, log index) is rendered twice among the fills / among the matches: only
    # then can the staging self-join find a row another of the batch holds at another block
    # (store_replace DOUBLED_*, skipped otherwise); True where not known.
    fills_repeat: bool = True
    matches_repeat: bool = True

    @property
    def blocks(self) -> tuple[int, int] | None:
        """Lowest and highest block of the rendered rows."""
        if self.first is None or self.last is None:
            return None
        return self.first[0], self.last[0]

    def span(self, positions: Sequence[Position], fills: int) -> None:
        """Set ``first``, ``last``, the blocks and the repeats from the rows' (block, log index,
        tx hash): the fills' (the first ``fills``), then the matches'."""
        if positions:
            self.first, self.last = min(positions), max(positions)
            self.block_numbers = frozenset(p[0] for p in positions)
        self.fills_repeat = _repeat(positions[:fills])
        self.matches_repeat = _repeat(positions[fills:])


def _repeat(positions: Sequence[Position]) -> bool:
    """Whether two of ``positions`` share their (log index, tx hash)."""
    return len({(p[1], p[2]) for p in positions}) < len(positions)


def match_links(fills: Sequence[Located], matches: Sequence[Located]) -> dict[tuple[str, int], int]:
    """In-batch links: each fill → the first match of its exchange after it in its tx (Fill and
    Match objects, or the file import's light records of them)."""
    by_key: dict[tuple[str, str], list[int]] = {}
    for m in matches:
        by_key.setdefault((m.ref.tx_hash, m.ref.address), []).append(m.ref.log_index)
    if not by_key:
        return {}
    for indexes in by_key.values():
        indexes.sort()
    links: dict[tuple[str, int], int] = {}
    for f in fills:
        found = by_key.get((f.ref.tx_hash, f.ref.address))
        if found is None:
            continue
        i = bisect.bisect_right(found, f.ref.log_index)
        if i < len(found):
            links[(f.ref.tx_hash, f.ref.log_index)] = found[i]
    return links


def own_timestamps() -> Epoch:
    """An :data:`Epoch` that knows only each log's own ``blockTimestamp`` (memoised per time)."""
    memo: dict[datetime, int] = {}

    def epoch(ref: LogRef) -> int | None:
        ts = ref.timestamp
        if ts is None:
            return None
        try:
            return memo[ts]
        except KeyError:
            value = memo[ts] = int(ts.timestamp())
            return value

    return epoch


def _esc(value: object) -> str:
    """One COPY text field, escaped (the slow path)."""
    if value is None:
        return NULL
    if value is True:
        return "t"
    if value is False:
        return "f"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _fill_record(f: Fill, ts: int, link: int | None) -> tuple[object, ...]:
    r = f.ref
    return (
        r.tx_hash,
        r.log_index,
        r.block_number,
        r.block_hash,
        ts,
        r.address,
        f.exchange_version,
        f.order_hash,
        f.maker,
        f.taker,
        f.is_taker_aggregate,
        f.side,
        f.token_id,
        f.shares,
        f.collateral,
        f.fee,
        f.fee_asset,
        f.builder,
        f.metadata,
        link,
    )


def _match_record(m: Match, ts: int) -> tuple[object, ...]:
    r = m.ref
    return (
        r.tx_hash,
        r.log_index,
        r.block_number,
        r.block_hash,
        ts,
        r.address,
        m.exchange_version,
        m.taker_order_hash,
        m.taker_wallet,
        m.side,
        m.token_id,
        m.shares,
        m.collateral,
    )


def _escaped(records: list[tuple[object, ...]]) -> bytes:
    return "".join("\t".join(map(_esc, rec)) + "\n" for rec in records).encode()


def _plain(text: str, rows: int, fields: int, nulls: int) -> bool:
    """True when ``text`` is exactly ``rows`` lines of ``fields`` unescaped fields."""
    return (
        text.count("\n") == rows
        and text.count("\t") == rows * (fields - 1)
        and text.count("\\") == nulls
        and "\r" not in text
    )


def render(
    fills: Sequence[Fill], matches: Sequence[Match], epoch: Epoch
) -> tuple[CopyRows, list[Fill | Match]]:
    """Render ``fills`` and ``matches``; also return the events whose time ``epoch`` does not know
    (the caller dead-letters them). Input order is kept."""
    rows = CopyRows()
    untimed: list[Fill | Match] = []
    links = match_links(fills, matches)
    touched: dict[str, None] = {}
    v1_txs: dict[str, None] = {}
    v3: dict[int, None] = {}
    out: list[str] = []
    timed: list[tuple[Fill, int, int | None]] = []  # for the escaped rendering, if needed
    nulls = 0
    token_text: dict[int, str] = {}  # a batch trades few tokens; int->str is not free
    for f in fills:
        r = f.ref
        version = f.exchange_version
        if version == "V1":
            v1_txs[r.tx_hash] = None
        elif version == "V3":
            v3[f.token_id] = None
        ts = epoch(r)
        if ts is None:
            untimed.append(f)
            continue
        link = links.get((r.tx_hash, r.log_index))
        if link is None:
            touched[r.tx_hash] = None
            nulls += 1
        builder, metadata = f.builder, f.metadata
        if builder is None:
            builder = NULL
            nulls += 1
        if metadata is None:
            metadata = NULL
            nulls += 1
        token = token_text.get(f.token_id) or token_text.setdefault(f.token_id, str(f.token_id))
        out.append(
            f"{r.tx_hash}\t{r.log_index}\t{r.block_number}\t{r.block_hash}\t{ts}\t{r.address}\t"
            f"{version}\t{f.order_hash}\t{f.maker}\t{f.taker}\t"
            f"{'t' if f.is_taker_aggregate else 'f'}\t{f.side}\t{token}\t{f.shares}\t"
            f"{f.collateral}\t{f.fee}\t{f.fee_asset}\t{builder}\t{metadata}\t"
            f"{NULL if link is None else link}\n"
        )
        timed.append((f, ts, link))
    text = "".join(out)
    rows.fill_count = len(out)
    if _plain(text, len(out), _FILL_FIELDS, nulls):
        rows.fills = text.encode()
    else:
        rows.fills = _escaped([_fill_record(f, ts, link) for f, ts, link in timed])
    out = []
    timed_matches: list[tuple[Match, int]] = []
    for m in matches:
        r = m.ref
        if m.exchange_version == "V3":
            v3[m.token_id] = None
        ts = epoch(r)
        if ts is None:
            untimed.append(m)
            continue
        touched[r.tx_hash] = None
        out.append(
            f"{r.tx_hash}\t{r.log_index}\t{r.block_number}\t{r.block_hash}\t{ts}\t{r.address}\t"
            f"{m.exchange_version}\t{m.taker_order_hash}\t{m.taker_wallet}\t{m.side}\t"
            f"{m.token_id}\t{m.shares}\t{m.collateral}\n"
        )
        timed_matches.append((m, ts))
    text = "".join(out)
    rows.match_count = len(out)
    if _plain(text, len(out), _MATCH_FIELDS, 0):
        rows.matches = text.encode()
    else:
        rows.matches = _escaped([_match_record(m, ts) for m, ts in timed_matches])
    positions = [(f.ref.block_number, f.ref.log_index, f.ref.tx_hash) for f, _, _ in timed]
    positions += [(m.ref.block_number, m.ref.log_index, m.ref.tx_hash) for m, _ in timed_matches]
    rows.span(positions, len(timed))
    rows.touched = list(touched)
    rows.v1_txs = list(v1_txs)
    rows.v3_tokens = list(v3)
    return rows, untimed
