"""The benchmark scripts as the tests that run them small use them: loaded as modules
(``benchmarks/`` is not a package), or run as scripts."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_benchmark(script: str) -> ModuleType:
    """``benchmarks/<script>.py`` as the module ``<script>_benchmark``: registered in
    ``sys.modules`` (its dataclasses look their module up there), with ``benchmarks/`` on
    ``sys.path`` for its sibling modules, as when it runs as a script."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(
        f"{script}_benchmark", BENCHMARKS / f"{script}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def run_benchmark(script: str, *args: str, timeout: float = 240) -> str:
    """``benchmarks/<script>.py args`` in a subprocess: its standard output (it must succeed)."""
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / f"{script}.py"), *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout
