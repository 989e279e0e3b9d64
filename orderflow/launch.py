"""The ``orderflow`` console script's entry: imports nothing until it is called.

A process that ``multiprocessing`` spawns (the file import's decoding processes:
:mod:`orderflow.chain.decode_workers`) first runs its parent's main module again, as
``__mp_main__``. Under ``python -m orderflow`` that is skipped (a ``.__main__`` module); the
console script is a file whose first lines import its entry, so an entry in ``orderflow.cli``
had every decoding process import the whole CLI (settings, telemetry, OpenTelemetry,
``asyncio``: ≈ 0.15 s of CPU each, on the import's start-up; docs/benchmarks.md "The import's
timeline", session 47). This module is that entry instead.
"""

from __future__ import annotations

import gc


def run() -> int:
    """:func:`orderflow.cli.run`, its modules imported with the cyclic collector off (the
    objects they make live to the process's end: it freezes them once they are all loaded)."""
    gc.disable()
    from orderflow.cli import run as command

    return command()
