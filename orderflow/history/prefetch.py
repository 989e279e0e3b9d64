"""A generator run in a worker thread one item ahead of its consumer (reading and parsing a
file's next batch while the database stores the current one)."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any, TypeVar

T = TypeVar("T")


class Prefetch:
    """Runs a generator in a worker thread, one item ahead of its consumer."""

    def __init__(self, gen: Generator[T, None, None]) -> None:
        self.gen = gen
        self.next: asyncio.Future[Any] = self._ask()

    def _ask(self) -> asyncio.Future[Any]:
        return asyncio.ensure_future(asyncio.to_thread(lambda: next(self.gen, None)))

    async def get(self) -> Any:
        item = await self.next
        if item is not None:
            self.next = self._ask()
        return item

    async def close(self) -> None:
        if not self.next.done():
            await asyncio.wait([self.next])
        if not self.next.cancelled():
            self.next.exception()
        self.gen.close()
