"""No ``asyncio.wait_for`` in the product: on Python 3.11 (the image's) it returns the result
instead of raising CancelledError when the caller is cancelled in the loop turn its awaitable
completes (CPython gh-86296), so a stop (SIGTERM) landing then is lost: a listener reconnected
forever, an executor traded on (tests/chain_live/test_stop.py, tests/execution/test_stop.py).
``async with asyncio.timeout(...)`` around a plain ``await`` has the same timeout without it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
USE = re.compile(r"\bwait_for\s*\(")


def test_the_product_never_uses_asyncio_wait_for() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for tree in ("orderflow", "operator")
        for path in sorted((ROOT / tree).rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if USE.search(line) and not line.lstrip().startswith("#")
    ]
    assert found == []
