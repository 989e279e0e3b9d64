"""A file wrong as a whole: its first rows all dead letters, so one refusal, nothing stored.

A bad row is a dead letter and the rest of the file is imported (``dead.py``). But a file whose
every row is one — a required column present and empty in every row, a Parquet column of a type
that cannot hold its field (amounts or asset ids as float64), a column of the right name holding
another field — is no file of bad rows: its layout is wrong, and a million-row file would leave a
million dead letters and report "imported" with nothing stored. So an import judges the file by
its first ``DEAD_FILE_ROWS`` rows, holding their batches unstored until it knows: when they are
all dead letters it refuses the file (``LayoutError``) naming the column and the reason the most
of them share, storing nothing of it and leaving no dead letter; as soon as one row is not, the
held batches are stored as before, and the rest of the file is not judged again.

``DEAD_FILE_ROWS`` is 1,000: a dump's rows come in block order, and a thousand bad rows before
the first good one is no stretch of bad rows a real export holds (the dead letters of a real
dump seen so far come one here and there); it is also the most an import holds unstored while
it judges (dead letters only: a batch with a good row is stored at once). A file of fewer rows,
all dead, keeps its dead letters (it is short enough to read through them).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

from orderflow.chain.events import DeadLetter, DecodedBatch
from orderflow.history.errors import LayoutError
from orderflow.history.layouts import Layout

DEAD_FILE_ROWS = 1_000
_VALUES = re.compile(r"0x[0-9a-fA-F]+|[0-9]+")  # in a reason: the row's own values

# The fields every row of these kinds reads as a whole number (``rows.uint``: an integer, a
# whole decimal, digits or 0x hex) — not a field read only when another is absent (asset ids).
WHOLE_NUMBERS: dict[str, tuple[str, ...]] = {
    "fills": ("maker_amount", "taker_amount", "fee"),
    "matches": ("maker_amount", "taker_amount"),
    "blocks": ("block_number",),
}
IDENTITY_NUMBERS = ("log_index", "block_number")  # of an event row whose id gives neither


def whole_numbers(layout: Layout) -> tuple[str, ...]:
    """The fields every row of ``layout`` reads as a whole number."""
    fields = WHOLE_NUMBERS.get(layout.kind, ())
    if layout.kind in ("fills", "matches", "logs") and not layout.id_derives_log_index:
        fields += IDENTITY_NUMBERS
    return fields


def refuse_unholdable(source: str, layout: Layout, schema: Any) -> None:
    """A Parquet file (``schema``, None for a text file) whose column of one of its layout's
    ``whole_numbers`` is of a type no value of which is one — floating point, boolean, a time,
    a list, struct or map — is refused from its schema, before a row is read: every row would
    be a dead letter."""
    if schema is None:
        return
    import pyarrow as pa

    for name in whole_numbers(layout):
        column = layout.columns.get(name)
        if column is None:
            continue
        kind = schema.field(schema.get_all_field_indices(column)[-1]).type  # the last, as read
        held = kind.value_type if pa.types.is_dictionary(kind) else kind
        if any(
            is_type(held)
            for is_type in (
                pa.types.is_floating,
                pa.types.is_boolean,
                pa.types.is_temporal,
                pa.types.is_nested,
            )
        ):
            raise LayoutError(
                f"{source}: column {column} is {kind}, which holds no whole number: no row's "
                f"{name.replace('_', ' ')} can be read from it (write it as integers, "
                "decimal(78, 0) or text of digits, from the source's exact values, and import "
                "it again). Nothing of it was stored"
            )


class FirstRows:
    """Judges a file by its first ``rows`` rows: ``held(batch)`` for each decoded batch, in
    order, before it is stored, says whether to hold it (still judging: no event, no log of
    another kind) or store it (and every batch held before it); it raises ``LayoutError`` once
    ``rows`` rows are dead letters and none was not."""

    def __init__(
        self, source: str, unit: str, columns: Mapping[str, str], rows: int = DEAD_FILE_ROWS
    ) -> None:
        self.source, self.unit, self.columns, self.rows = source, unit, columns, rows
        self.judging = rows > 0
        self._dead = 0
        self._causes: Counter[str] = Counter()
        self._first: dict[str, DeadLetter] = {}

    def held(self, batch: DecodedBatch) -> bool:
        """Whether this decoded batch (its dead letters made, nothing stored) is held unstored."""
        if not self.judging:
            return False
        if batch.events or batch.ignored or batch.removed:  # a row that is no dead letter:
            self.judging = False  # the file is judged, and good
            return False
        for letter in batch.dead_letters:
            cause = self._cause(letter)
            self._causes[cause] += 1
            self._first.setdefault(cause, letter)
        self._dead += len(batch.dead_letters)
        if self._dead >= self.rows:
            raise self._refusal()
        return True

    def _cause(self, letter: DeadLetter) -> str:
        """A dead letter's reason without where it is, nor the value it names (after its first
        ``: ``), nor the numbers and hex in it (a time, a block: one cause, row after row)."""
        return _VALUES.sub("…", self._reason(letter))

    def _reason(self, letter: DeadLetter) -> str:
        """A dead letter's reason without where it is, nor the value it names."""
        reason = letter.reason.removeprefix(f"{self.source} {self.unit} {letter.line}: ")
        return reason.split(": ", 1)[0]

    def _column(self, cause: str) -> str | None:
        """The file's column of the field ``cause`` names (``maker amount is missing``)."""
        named = [f for f in self.columns if cause.startswith(f.replace("_", " ") + " ")]
        return self.columns[max(named, key=len)] if named else None

    def _refusal(self) -> LayoutError:
        key, count = self._causes.most_common(1)[0]
        first = self._first[key]
        cause, example = self._reason(first), first.reason
        column = self._column(cause)
        where = f"column {column}: " if column is not None else ""
        shared = "all" if count == self._dead else f"{count:,} of them"
        return LayoutError(
            f"{self.source}: its first {self._dead:,} rows are all dead letters, "
            f"{shared} for the same cause, {where}{cause} (the first: {example}). "
            "The file is wrong as a whole, not a few bad rows: a column empty in every row, of a "
            "type that cannot hold its field, or holding another field; fix the export and "
            "import it again. Nothing of it was stored, and no dead letter was left"
        )
