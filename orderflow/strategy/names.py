"""What a strategy's name may be, wherever one enters (the command's arguments, the executor's
settings, the operator's resources; the database's CHECK and the CRD's rule say the same).

A DNS label: lower-case letters, digits and inner dashes, at most 63 characters, so that every
strategy can be a TradingStrategy resource (its name a DNS subdomain of at most 253: the label
is the stricter). A name that creates or runs a strategy is held to it; one that stops or reads a
stored strategy (pause, kill, show, a backtest of it, the retire's --kill-strategy) to the
alphabet alone: a longer name stored before 6 Dec 2026 must stay possible to kill.
"""

from __future__ import annotations

import re

STRATEGY_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
MAX_STRATEGY_NAME = 63


def name_problem(name: str, *, new: bool = True) -> str | None:
    """Why ``name`` is not a strategy name (the name shortened: it may be very long), or None.
    ``new=False``: a name that looks a stored strategy up to stop or read it, whose length is
    not checked (a longer one stored before 6 Dec 2026 must stay possible to kill)."""
    if STRATEGY_NAME.fullmatch(name) and (len(name) <= MAX_STRATEGY_NAME or not new):
        return None
    shown = name if len(name) <= 40 else f"{name[:40]}… ({len(name)} characters)"
    return (
        f"{shown!r} is not a strategy name: use lower-case letters, digits and inner dashes, "
        f"at most {MAX_STRATEGY_NAME} characters (a DNS label)"
    )


def checked_name(name: str) -> str:
    """``name`` when it is a strategy name; ValueError saying why otherwise (pydantic's
    validators turn it into the variable's error)."""
    problem = name_problem(name)
    if problem is not None:
        raise ValueError(problem)
    return name
