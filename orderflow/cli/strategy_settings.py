"""``--set KEY=VALUE`` on a strategy's settings: one rule for ``strategy set``, ``backtest``,
``demo`` and ``execute`` (the same bad assignment reads the same in each)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from orderflow.errors import ConfigError
from orderflow.strategy.settings import StrategySettings

# Every name a setting answers to (snake_case field, camelCase alias) -> its field.
_FIELDS = {n: n for n in StrategySettings.model_fields} | {
    f.alias: n for n, f in StrategySettings.model_fields.items() if f.alias
}


def build_settings(
    base: Mapping[str, object] | None, *, from_env: bool = False, assignments: list[str]
) -> StrategySettings:
    """Existing settings (stored or default, snake_case or the CRD's camelCase; or, with
    ``from_env``, the environment's), with ``KEY=VALUE`` assignments applied. A bad value is a
    ConfigError naming its environment variable when it came from there."""
    assigned: set[str] = set()
    try:
        # Stored values are taken as they are, so a row that no longer validates can be
        # repaired with --set (validation happens once, after the assignments). Their names are
        # made the fields' so that an assignment replaces a camelCase value instead of meeting it.
        values = (
            StrategySettings.from_env().model_dump()
            if from_env
            else {_FIELDS.get(k, k): v for k, v in (base or {}).items()}
        )
        for item in assignments:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
            key = key.strip()
            if key not in _FIELDS:
                raise ConfigError(f"unknown strategy setting {key!r} (see `strategy show`)")
            values[_FIELDS[key]] = value.strip()
            assigned.add(_FIELDS[key])
        return StrategySettings.model_validate(values)
    except ValidationError as exc:
        problems = "\n".join(
            f"  {_source(e['loc'], from_env=from_env, assigned=assigned)}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(f"invalid strategy settings:\n{problems}") from None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _source(loc: tuple[int | str, ...], *, from_env: bool, assigned: set[str]) -> str:
    """What to name for a validation error: the environment variable a value came from
    (StrategySettings.from_env: the upper-case field name, ENABLE_PAPER_TRADING for the mode),
    else the field."""
    field = ".".join(str(p) for p in loc)
    if not from_env or field not in StrategySettings.model_fields or field in assigned:
        return field or "settings"
    return "ENABLE_PAPER_TRADING" if field == "mode" else field.upper()
