"""A fill, match or raw-log file's parsed batches, regrouped so each holds whole blocks.

The taker-amount correction and the links between fills, matches and fee refunds work on a
whole transaction (``orderflow.chain.amounts``), and the listener stores whole blocks: an
import's batches must hold them whole too, or its rows would differ from the listener's.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from itertools import pairwise

from orderflow.history.events import Parsed
from orderflow.history.report import Position


def whole_blocks(
    batches: Iterable[tuple[Parsed, Position]],
    batch_size: int,
    *,
    ended_early: Callable[[], bool] = lambda: False,
    withheld: list[tuple[int, int]] | None = None,
) -> Generator[tuple[Parsed, Position], None, None]:
    """The parsed batches, each extended so no block is split between two.

    The taker-amount correction and the links between fills, matches and fee refunds work on a
    whole transaction (``orderflow.chain.amounts``); the listener stores whole blocks, so a
    dump must too or its rows would differ. The rows of a block continuing at the start of the
    next batch move into the batch where it began: a file that keeps each block's rows
    together, in any order within the block (an export ordered by block or block time only, a
    Parquet file written by parallel tasks), has every transaction whole in one batch. (Until
    7 Dec 2026 only the rows of the previous batch's last *transaction* moved: a block's rows
    in another order than the log's, cut by a batch boundary, left a taker without some of its
    makers, stored at the amounts its OrderFilled reported.) As in ``listen --from-file``, a
    batch grows by at most another ``batch_size`` rows (a block larger than that is cut: a
    taker whose makers an earlier batch stored has them read back, ``stored_makers``; one whose
    makers come after it, out of log order, keeps the amounts it reported).

    A file that ``ended_early`` (cut short, read once the batches are) has the rows of its last
    block read left out of its last batch when they are not in log order, into ``withheld``
    (:func:`_withhold_last_block`).
    """
    if withheld is None:
        withheld = []
    held: tuple[Parsed, Position] | None = None
    for parsed, at in batches:
        if held is not None:
            prev = held[0]
            block = _last_block(prev)
            cut = 0
            room = max(2 * batch_size - len(prev.rows), 0)
            while cut < min(len(parsed.rows), room) and parsed.rows[cut][1][2] == block:
                cut += 1
            prev.rows.extend(parsed.rows[:cut])
            del parsed.rows[:cut]
            if not parsed.rows:  # all of it belonged to that transaction
                prev.dead.extend(parsed.dead)
                prev.read += parsed.read
                held = (prev, at)
                continue
            yield held
        held = (parsed, at)
    if held is not None:
        if ended_early():
            _withhold_last_block(held[0], withheld)
        yield held


def _last_block(parsed: Parsed) -> int | None:
    return parsed.rows[-1][1][2] if parsed.rows else None


def _withhold_last_block(parsed: Parsed, withheld: list[tuple[int, int]]) -> None:
    """Take the rows of the file's last block read out of its last batch (into ``withheld``:
    (block, rows)) when they are not in log order: the file broke off there, and the rest of
    that block may be in the part that is missing — a taker read before some of its makers,
    stored without them, would keep the amounts it reported for good (a good copy imported
    afterwards stores nothing over it, nor does the chain's backfill). In log order every
    maker precedes its taker, so the rows read are stored, as before."""
    block = _last_block(parsed)
    if block is None:
        return
    indexes = [identity[1] for _, identity, _, _ in parsed.rows if identity[2] == block]
    if all(a <= b for a, b in pairwise(indexes)):
        return
    parsed.rows[:] = [item for item in parsed.rows if item[1][2] != block]
    withheld.append((block, len(indexes)))
