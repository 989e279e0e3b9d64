"""The file import's fast path: a batch of lines whose hot events go straight to COPY text.

Nearly every log of a file import is an OrderFilled or OrdersMatched of a known exchange. For
those, :func:`render_lines` goes from the parsed JSON object to the staging row's text with no
``LogRef`` or ``Fill`` in between (``hot_events.py``: the same field parsers as ``decode``,
per-batch memos, one light record per event). The cross-log steps are the shared ones:
``amounts.correct_match`` per match (a taker fill gets its executed amounts) and the match links,
worked out per transaction in one pass (:func:`_link`), or — for a batch not in chain order —
``amounts.correct_events`` and ``copy_render.match_links`` themselves, on the light records.

A log is taken as hot only when it has exactly the shape that ``decode`` turns into a Fill or a
Match: string fields, a known exchange and topic, ``blockTimestamp`` present, ``removed`` not
true, the right topic count and data length, every field parser satisfied. Anything else — a
malformed value, another event, a retracted log — is decoded by ``decode.log_decoder``, one log
at a time, exactly as ``decode_batch`` would, so dead letters and every other event are the
general path's own. If that decoder returns a Fill or a Match after all (a hot event in a shape
the fast path does not take, e.g. without ``blockTimestamp``), the batch is not this module's:
:func:`render_lines` returns None and the caller decodes the whole batch the general way. So
does a batch holding a retracted log (``removed: true``, rare): it retracts the events of its
block decoded before it (``events.DecodedBatch.retract``), which only the general path orders.
``tests/chain/test_decode_fast.py`` checks both paths give the same chunk, byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import orjson

from orderflow.chain.amounts import correct_events, correct_match
from orderflow.chain.contracts import ChainAddresses
from orderflow.chain.copy_render import NULL, CopyRows, match_links
from orderflow.chain.decode import log_decoder
from orderflow.chain.events import DeadLetter, DecodedBatch, Fill, Match, Removed
from orderflow.chain.file_lines import malformed, parse_line, refused
from orderflow.chain.hot_events import HotLogs
from orderflow.chain.json_keys import duplicate_key

__all__ = ["Rendered", "render_lines", "render_raws"]


def _link(hot: HotLogs) -> None:
    """Correct the takers' amounts (``amounts.correct_events``) and set each fill's ``link``
    (``copy_render.match_links``).

    ``HotLogs.take`` follows each transaction as its logs arrive: a match takes the fills since
    the previous match of its transaction (``segments``). That is what the two functions
    compute when each transaction's hot logs come from one exchange with strictly increasing log
    indexes, as a chain orders them (``regular``); otherwise (a shuffled or duplicated file) the
    two functions themselves run on the whole batch."""
    if hot.regular:
        for match, segment in hot.segments:
            correct_match(match, segment)
            link = match.log_index
            for f in segment:
                f.link = link
        return
    correct_events(hot.fills, hot.matches)
    links = match_links(hot.fills, hot.matches)
    for f in hot.fills:
        f.link = links.get((f.tx_hash, f.log_index))


def _rows(hot: HotLogs) -> CopyRows:
    """The staging rows, as ``copy_render.render`` writes them for the same events."""
    _link(hot)
    fills, matches = hot.fills, hot.matches
    touched: dict[str, None] = {}
    v1_txs: dict[str, None] = {}
    v3: dict[int, None] = {}
    out: list[str] = []
    for f in fills:
        version = f.version
        if version == "V1":
            v1_txs[f.tx_hash] = None
        elif version == "V3":
            v3[f.token_id] = None
        link = f.link
        if link is None:
            touched[f.tx_hash] = None
            out.append(f"{f.head}{f.shares}\t{f.collateral}\t{f.tail}{NULL}\n")
        else:
            out.append(f"{f.head}{f.shares}\t{f.collateral}\t{f.tail}{link}\n")
    fill_text = "".join(out)
    out = []
    for m in matches:
        if m.version == "V3":
            v3[m.token_id] = None
        touched[m.tx_hash] = None
        out.append(f"{m.head}{m.shares}\t{m.collateral}\n")
    rows = CopyRows(
        fills=fill_text.encode(),
        fill_count=len(fills),
        matches="".join(out).encode(),
        match_count=len(matches),
        touched=list(touched),
        v1_txs=list(v1_txs),
        v3_tokens=list(v3),
    )
    positions = [(f.block_number, f.log_index, f.tx_hash) for f in fills]
    positions += [(m.block_number, m.log_index, m.tx_hash) for m in matches]
    rows.span(positions, len(fills))
    return rows


class Rendered(NamedTuple):
    """What ``decode_workers.Chunk`` holds of a batch decoded here."""

    batch: DecodedBatch  # every event but the fills and matches (those are in ``rows``)
    rows: CopyRows
    lines: int
    logs: int
    malformed: int
    top: int | None


def render_lines(
    data: bytes, first_line: int, file_name: str, chain_id: int, addresses: ChainAddresses
) -> Rendered | None:
    """Parse, decode and render the lines of ``data`` (joined by ``\\n``) as
    ``decode_workers`` does, the hot events the fast way; None when the batch holds a fill or
    match only the general path can take, or a retracted log (the caller then decodes it that
    way)."""
    hot = HotLogs(addresses)
    take = hot.take
    decode = log_decoder(chain_id, addresses)
    batch = DecodedBatch()
    bad: list[DeadLetter] = []
    lines = logs = 0  # of the logs decode takes (the hot ones are counted at the end)
    for i, raw in enumerate(data.split(b"\n")):
        b: bytes | None = raw
        if raw[:1] != b"{" or raw[-1:] != b"}":
            b = raw.strip()
            if b[:1] != b"{" or b[-1:] != b"}":
                b = None
        if b is not None:  # file_lines.parse_line's first step
            try:
                value = orjson.loads(b)
            except orjson.JSONDecodeError:
                value = None
            if type(value) is dict and duplicate_key(b, value) is None and _taken(take, value):
                continue
        line = parse_line(first_line + i, raw)  # everything else exactly as the general path
        if line is None:
            continue
        lines += 1
        if line.error is not None:
            bad.append(malformed(file_name, line, chain_id))
            continue
        logs += 1
        item = decode(line.value)
        if type(item) is Fill or type(item) is Match or type(item) is Removed:
            return None
        if type(item) is DeadLetter:
            refused(item, file_name, line.number)
        batch.add(item)
    batch.dead_letters.extend(bad)
    return _rendered(hot, batch, lines, logs, len(bad))


def render_raws(
    raws: Sequence[Mapping[str, Any]], chain_id: int, addresses: ChainAddresses
) -> Rendered | None:
    """:func:`render_lines` for logs already parsed (an ``eth_getLogs`` reply, each log a
    mapping as ``rpc.EthClient.get_logs`` returns them): the same chunk as ``decode_batch`` and
    ``copy_render.render`` give, with no lines to count or to find malformed."""
    hot = HotLogs(addresses)
    take = hot.take
    decode = log_decoder(chain_id, addresses)
    batch = DecodedBatch()
    logs = 0  # of the logs decode takes (the hot ones are counted at the end)
    for raw in raws:
        if type(raw) is dict and _taken(take, raw):
            continue
        logs += 1
        item = decode(raw)
        if type(item) is Fill or type(item) is Match or type(item) is Removed:
            return None
        batch.add(item)
    return _rendered(hot, batch, logs, logs, 0)


def _taken(take: Callable[[dict[str, Any]], bool], value: dict[str, Any]) -> bool:
    """``HotLogs.take``; an exception (KeyError, TypeError, FieldError …) means "not hot": the
    log is ``decode``'s business, which names its problem or decodes it."""
    try:
        return take(value)
    except Exception:
        return False


def _rendered(hot: HotLogs, batch: DecodedBatch, lines: int, logs: int, bad: int) -> Rendered:
    """The batch's chunk: the hot events' rows, the highest block, the counts."""
    rows = _rows(hot)
    top = batch.top_block()
    if rows.blocks is not None:
        top = rows.blocks[1] if top is None else max(top, rows.blocks[1])
    for ref in (*batch.ignored, *batch.removed):
        ref.raw = None  # counted only: not worth sending back
    hot_logs = rows.fill_count + rows.match_count
    return Rendered(batch, rows, lines + hot_logs, logs + hot_logs, bad, top)
