"""Plans as the tests read them: ``EXPLAIN (FORMAT JSON)``'s root node, and its nodes depth first
with the subplans each sits under."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import asyncpg

Node = dict[str, Any]


async def plan_of(
    conn: asyncpg.Connection, query: str, *args: object, analyze: bool = True
) -> Node:
    """The root node of ``query``'s plan, executed (``analyze``: its rows and loops) or not."""
    options = "ANALYZE, COSTS OFF" if analyze else "COSTS OFF"
    explained = await conn.fetchval(f"EXPLAIN ({options}, FORMAT JSON) {query}", *args)
    # asyncpg hands the JSON over as text unless a codec on the connection decodes it
    root = json.loads(explained) if isinstance(explained, str) else explained
    return dict(root[0]["Plan"])


def nodes(plan: Node, under: tuple[str, ...] = ()) -> Iterator[tuple[Node, tuple[str, ...]]]:
    """Every node of ``plan``, depth first, with the names of the subplans it is in, outermost
    first, its own included (``"CTE tot"``, ``"SubPlan 1"``, ``"InitPlan 2"``)."""
    name = plan.get("Subplan Name")
    if name is not None:
        under = (*under, str(name))
    yield plan, under
    for child in plan.get("Plans", []):
        yield from nodes(child, under)
