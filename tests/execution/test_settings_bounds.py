"""Settings where money is at stake are bounded, finite and refused clearly (issue 15, item 11)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from orderflow.cli import main
from orderflow.strategy.settings import StrategySettings
from orderflow_operator.spec import ParsedSpec, parse_spec


@pytest.mark.parametrize(
    "values",
    [
        {"bankroll_usd": 1e30},
        {"bankroll_usd": float("inf")},
        {"max_daily_loss": float("inf")},
        {"max_daily_loss": float("nan")},
        {"max_position_usd": 1e30, "bankroll_usd": 1e30},
        {"max_market_exposure_usd": 1e30},
        {"min_trigger_usd": float("inf")},
        {"max_signal_age_secs": float("inf")},
        {"min_order_size": 1e30},
        {"tick_size": 1e-30},
    ],
)
def test_unbounded_money_settings_are_refused(values: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(values))):
        StrategySettings.model_validate(values)


def test_the_largest_allowed_bankroll_sizes_without_decimal_errors() -> None:
    """``bankroll_usd=1e30`` raised decimal.InvalidOperation out of the executor loop; at the
    bound, the whole sizing path stays within Decimal's precision."""
    from orderflow.signals.sizing import size_position

    top = StrategySettings.model_fields["bankroll_usd"].metadata
    assert any(getattr(m, "le", None) for m in top)
    s = StrategySettings(bankroll_usd=1e9, max_position_usd=1e9, max_market_exposure_usd=1e9)
    sizing = size_position(
        0.9,
        Decimal("0.5"),
        s,
        bankroll=Decimal(repr(s.bankroll_usd)),
        market_exposure=Decimal(0),
        tick=Decimal("0.01"),
    )
    assert sizing.shares > 0


def test_environment_refuses_inf_and_huge_values() -> None:
    with pytest.raises(ValueError, match="max_daily_loss"):
        StrategySettings.from_env({"MAX_DAILY_LOSS": "inf"})
    with pytest.raises(ValueError, match="bankroll_usd"):
        StrategySettings.from_env({"BANKROLL_USD": "1e30"})


def test_cli_refuses_inf_with_a_clear_error(
    env: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["strategy", "set", "omega", "--set", "max_daily_loss=inf"]) == 2
    err = capsys.readouterr().err
    assert "max_daily_loss" in err and "finite" in err and "Traceback" not in err
    assert main(["strategy", "set", "omega", "--set", "bankroll_usd=1e30"]) == 2
    err = capsys.readouterr().err
    assert "bankroll_usd" in err and "Traceback" not in err
    assert main(["strategy", "set", "omega", "--set", "bankroll_usd=5000"]) == 0
    capsys.readouterr()
    assert main(["strategy", "show", "omega"]) == 0
    assert json.loads(capsys.readouterr().out)["settings"]["bankroll_usd"] == 5000


def test_operator_refuses_unbounded_specs() -> None:
    bad = parse_spec("omega", {"bankrollUsd": 1e30})
    assert not isinstance(bad, ParsedSpec) and "bankrollUsd" in bad.message
    bad = parse_spec("omega", {"maxDailyLoss": "Infinity"})
    assert not isinstance(bad, ParsedSpec) and "maxDailyLoss" in bad.message
    assert isinstance(parse_spec("omega", {"bankrollUsd": 5000}), ParsedSpec)


def test_crd_carries_the_upper_bounds() -> None:
    from orderflow_operator import crd

    spec = crd.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    for field in ("bankrollUsd", "maxPositionUsd", "maxMarketExposureUsd", "maxDailyLoss"):
        assert "maximum" in spec["properties"][field], field


def test_cli_repairs_a_stored_row_that_no_longer_validates(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    import asyncpg

    assert main(["strategy", "set", "omega"]) == 0

    async def corrupt() -> None:
        conn = await asyncpg.connect(env)
        try:
            await conn.execute(
                "UPDATE orderflow_strategies SET settings = settings || '{\"kelly_fraction\": 5}'"
            )
        finally:
            await conn.close()

    asyncio.run(corrupt())
    capsys.readouterr()
    assert main(["strategy", "set", "omega", "--set", "kelly_fraction=0.2"]) == 0
    capsys.readouterr()
    assert main(["strategy", "show", "omega"]) == 0
    assert json.loads(capsys.readouterr().out)["settings"]["kelly_fraction"] == 0.2
