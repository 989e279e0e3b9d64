"""Why an import stops before or during a file (bad rows never stop it: they are dead letters)."""

from __future__ import annotations

from orderflow.errors import OrderflowError


class HistoryError(OrderflowError):
    """An import cannot go on (the message says what to do)."""


class LayoutError(HistoryError):
    """A file whose layout cannot give exact rows: it names what is missing."""
