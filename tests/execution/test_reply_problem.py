"""What a refused exchange reply's log line says of it: the fields that are wrong, never the
values the reply carried (a trade names our API key as its ``owner``, and wallets)."""

from __future__ import annotations

import pytest
from polymarket.errors import UnexpectedResponseError
from polymarket.models.clob import ClobTrade

from orderflow.execution.live_reads import problem_of

API_KEY = "5f1e2d3c-aaaa-bbbb-cccc-0123456789ab"


def test_a_refused_trade_s_problem_names_fields_not_values() -> None:
    with pytest.raises(UnexpectedResponseError) as refused:
        ClobTrade.parse_response({"id": "trade-1", "owner": API_KEY, "size": "NaN?"})
    problem = problem_of(refused.value)
    assert "market" in problem and "required" in problem.lower(), problem
    assert API_KEY not in problem and "trade-1" not in problem, problem
