"""What a decoding process imports (``decode_workers``: spawned, so it imports what it runs
afresh): the decoder, not the parent's event loop. ``asyncio`` (with ``ssl``, ≈ 25 ms of an idle
core, more under load) is the writer's: a decoding process never runs a coroutine
(docs/benchmarks.md "The import's timeline", session 47)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from orderflow.chain.contracts import MAINNET
from orderflow.chain.decode_workers import Decoders

# what a decoding process has loaded, asked inside one (a builtin: unpickling it imports nothing)
LOADED = "sorted(m for m in ('asyncio', 'ssl') if m in __import__('sys').modules)"


def test_a_decoding_process_imports_no_asyncio() -> None:
    decoders = Decoders(1, "a.jsonl", 137, MAINNET)
    try:
        assert decoders._pool is not None
        loaded = decoders._pool.submit(eval, LOADED).result(timeout=120)  # a safety net only
    finally:
        decoders.close()
    assert loaded == []


# A script shaped as pip writes the ``orderflow`` console script (its entry's import first),
# which then starts decoders as a file import does and prints what one of them has loaded.
CONSOLE_SCRIPT = """
import sys
from {module} import {name}
if __name__ == "__main__":
    from orderflow.chain.contracts import MAINNET
    from orderflow.chain.decode_workers import Decoders
    decoders = Decoders(1, "a.jsonl", 137, MAINNET)
    try:
        print(decoders._pool.submit(eval, {loaded!r}).result(timeout=120))
    finally:
        decoders.close()
"""

# the CLI's own modules and what they bring, loaded in a decoding process
CLI_LOADED = (
    "sorted(m for m in ('orderflow.cli', 'opentelemetry', 'asyncio')"
    " if m in __import__('sys').modules)"
)


def test_a_decoding_process_of_the_console_script_imports_no_cli(tmp_path: Path) -> None:
    """A spawned process runs its parent's main module again (as ``__mp_main__``): the console
    script's entry (pyproject's ``[project.scripts]``) is imported by every decoding process of
    an import started with ``orderflow listen --from-file``."""
    entry = tomllib.loads(Path("pyproject.toml").read_text())["project"]["scripts"]["orderflow"]
    module, name = entry.split(":")
    script = tmp_path / "orderflow"
    script.write_text(CONSOLE_SCRIPT.format(module=module, name=name, loaded=CLI_LOADED))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"
