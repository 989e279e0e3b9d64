"""The ``orderflow`` process keeps the cyclic collector off what lives to its end
(``orderflow.cli.run``, docs/benchmarks.md "session 46"): no collection walks the start-up's
objects again once the command's modules are imported, and the exit's collections walk nothing.
In-process callers of ``main`` (the tests) keep their collector as it was."""

from __future__ import annotations

import contextlib
import gc
import subprocess
import sys

from orderflow.cli import main

# The command's process, then what its collector holds at the exit, and whether the command
# ran with it on (its handler: the version action, which exits as a command does).
CODE = """
import atexit, gc, sys
atexit.register(lambda: print(len(gc.get_objects()), gc.get_freeze_count(), gc.isenabled()))
sys.argv = ["orderflow", *sys.argv[1:]]
from orderflow.cli import run
raise SystemExit(run())
"""


def _at_exit(*words: str) -> tuple[int, int, bool]:
    done = subprocess.run(
        [sys.executable, "-c", CODE, *words], capture_output=True, text=True, timeout=120
    )
    walked, frozen, enabled = done.stdout.strip().splitlines()[-1].split()
    return int(walked), int(frozen), enabled == "True"


def test_the_process_exits_with_everything_frozen() -> None:
    for words in (["--version"], ["migrate", "--help"]):
        walked, frozen, enabled = _at_exit(*words)
        assert frozen > 20_000  # the modules' objects: tens of thousands
        assert walked < 100  # what the exit's collections would walk: the atexit call's own
        assert enabled  # frozen, not switched off: a long-running command collects its garbage


def test_main_in_process_leaves_the_collector_alone() -> None:
    frozen = gc.get_freeze_count()
    with contextlib.suppress(SystemExit):  # the version action exits
        main(["--version"])
    assert gc.get_freeze_count() == frozen
    assert gc.isenabled()
