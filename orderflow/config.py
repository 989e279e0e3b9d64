"""Settings shared by every service.

Each service extends :class:`CommonSettings` with its own model (``orderflow.chain.settings``,
``orderflow.strategy.settings`` …). Settings are read from the environment (names are the seed's
where it had one: ``DATABASE_URL``, ``POLYGON_RPC_URL``; ``RUST_LOG`` became ``LOG_LEVEL``) and
validated at start-up, so a bad value stops the process with a message naming the variable.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import platformdirs
from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from orderflow.errors import InvalidSettings

_PROBLEM_VARIABLE = re.compile(r"([A-Z][A-Z0-9_]*)(?:\.[^:\s]+)?: ")
"""The variable a problem line of :func:`read` starts with (``HEALTH_PORT: …``, ``X.0: …``)."""
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,15}")
"""A URL scheme as RFC 3986 spells it (short): what a DATABASE_URL error may show of the value."""

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LogFormat = Literal["json", "text"]

POLYGON_CHAIN_ID = 137


def default_data_dir() -> Path:
    """Per-user data directory: ``~/.local/share/orderflow`` on Linux."""
    return Path(platformdirs.user_data_dir("orderflow", appauthor=False))


class LogSettings(BaseSettings):
    """How every orderflow command logs (read before anything else, by every command)."""

    # allow_inf_nan: no setting is a number that is not finite (`inf` seconds between runs was
    # taken: one run, then a sleep for ever); env_ignore_empty: a variable set but empty
    # (`LOG_LEVEL=`, a chart's `value: ""`) is unset, its default (`ORDERFLOW_DATA_DIR=` was the
    # current directory), as OpenTelemetry's variables are. Every model of a command inherits both.
    model_config = SettingsConfigDict(
        extra="ignore", populate_by_name=True, allow_inf_nan=False, env_ignore_empty=True
    )

    log_level: LogLevel = Field(
        default="INFO",
        validation_alias="LOG_LEVEL",
        description="Log level (the seed's RUST_LOG).",
    )
    log_format: LogFormat | None = Field(
        default=None,
        validation_alias="LOG_FORMAT",
        description=(
            "json or text. Unset: text in a terminal (stdout and stderr both TTYs), json "
            "anywhere else (containers, pipes, files)."
        ),
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_format(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip().lower() or None
        return value


class CommonSettings(LogSettings):
    """Settings every orderflow process reads."""

    database_url: SecretStr | None = Field(
        default=None,
        validation_alias="DATABASE_URL",
        description=(
            "PostgreSQL (>= 14) connection URL. Unset: an embedded PostgreSQL (pip package "
            "pgserver) is started under ORDERFLOW_DATA_DIR, unless ORDERFLOW_EMBEDDED_DATABASE "
            "is off (as the image has it), where it is refused."
        ),
    )
    embedded_database: bool = Field(
        default=True,
        validation_alias="ORDERFLOW_EMBEDDED_DATABASE",
        description=(
            "Whether a process without DATABASE_URL may start an embedded PostgreSQL of its own. "
            "The image sets it off: in a pod that database would be the pod's own, lost with it "
            "and seen by no other (each executor replica trading alone)."
        ),
    )
    data_dir: Path = Field(
        default_factory=default_data_dir,
        validation_alias="ORDERFLOW_DATA_DIR",
        description="Where the embedded database and local state live.",
    )
    chain_id: int = Field(
        default=POLYGON_CHAIN_ID,
        validation_alias="CHAIN_ID",
        gt=0,
        description="EVM chain id of the node and of every stored row (Polygon PoS = 137).",
    )
    health_port: int = Field(
        default=8080,
        validation_alias="HEALTH_PORT",
        ge=0,
        le=65535,
        description="Port for /healthz, /readyz and /metrics (0 = disabled).",
    )

    @field_validator("database_url")
    @classmethod
    def _check_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        url = value.get_secret_value()
        scheme = url.split("://", 1)[0] if "://" in url else None
        if scheme in ("postgres", "postgresql"):
            return value
        # Only a scheme-like word is shown: without "://" the whole value (its password) would be
        if scheme is None or not _SCHEME.fullmatch(scheme):
            raise ValueError("DATABASE_URL must start with postgresql:// (it has no URL scheme)")
        raise ValueError(f"DATABASE_URL must start with postgresql://, got {scheme!r}://…")


S = TypeVar("S", bound=BaseSettings)


def _variable(model: type[BaseSettings], exc: SettingsError) -> str:
    """The variable a ``SettingsError`` is about (its message names the Python field) and why."""
    found = re.search(r'field "([^"]+)"', str(exc))
    name = found.group(1) if found else None
    if name is None or name not in model.model_fields:
        return "a variable holding a list or an object is not valid JSON"
    example = "a list or an object, e.g. [1000, 5000] or {...}"
    return f"{_env_name(model, name)}: not valid JSON ({example})"


def _env_name(model: type[BaseSettings], name: str) -> str:
    """The environment variable a field of ``model`` is read from (``name`` itself when it is
    no field's: an alias already)."""
    field = model.model_fields.get(name)
    if field is None:
        return name
    alias = field.validation_alias
    if isinstance(alias, str):
        return alias
    if isinstance(alias, AliasChoices):  # ("calculation_interval_secs", "CALCULATION_…")
        names = [c for c in alias.choices if isinstance(c, str)]
        return next((c for c in names if c.isupper()), name.upper())
    return (str(model.model_config.get("env_prefix") or "") + name).upper()


def load(model: type[S], **overrides: Any) -> S:
    """Build a settings model from the environment, turning validation errors into ConfigError.

    The message lists every offending variable with pydantic's reason, never the value itself
    (it may be a secret): :func:`invalid_settings`.
    """
    settings, problems = read(model, **overrides)
    if settings is None:
        raise invalid_settings(problems)
    return settings


def settings_problems(*models: type[BaseSettings]) -> list[str]:
    """What is wrong with the environment for each of ``models``: ``VARIABLE: reason`` lines,
    each once (the models a command reads share the common variables)."""
    problems: list[str] = []
    for model in models:
        problems += read(model)[1]
    return problems


def invalid_settings(problems: list[str]) -> InvalidSettings:
    """The one refusal of a command's settings: every bad variable, one line each, under one
    heading (exit 2); its ``variables`` name them (sorted, each once)."""
    unique = list(dict.fromkeys(problems))
    named = {m.group(1) for p in unique if (m := _PROBLEM_VARIABLE.match(p))}
    message = "invalid settings:\n" + "\n".join(f"  {p}" for p in unique)
    return InvalidSettings(message, tuple(sorted(named)))


def usable_log_settings() -> LogSettings:
    """The log settings as far as they are valid: each variable's value, a bad one's default
    (``LOG_LEVEL=bogus LOG_FORMAT=json``: INFO in JSON), so that a refusal of the settings can
    itself be logged as they ask."""
    settings, _ = read(LogSettings)
    if settings is not None:
        return settings
    fields = LogSettings.model_fields
    defaults = {
        name: field.get_default(call_default_factory=True) for name, field in fields.items()
    }
    values = dict(defaults)
    for name in fields:
        alone, _ = read(LogSettings, **{k: v for k, v in defaults.items() if k != name})
        if alone is not None:
            values[name] = getattr(alone, name)
    return LogSettings(**values)


def read(model: type[S], **overrides: Any) -> tuple[S | None, list[str]]:
    """``model`` built from the environment, or None and its bad variables."""
    try:
        return model(**overrides), []
    except SettingsError as exc:
        # A JSON-valued variable that is not JSON, decoded before validation (a traceback that
        # named the Python field): the variable named, never its value.
        return None, [_variable(model, exc)]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            if loc:  # the variable, not the Python field (calculation_interval_secs, work_mem)
                loc[0] = _env_name(model, loc[0])
            # A check across variables (its message names them) has no place of its own
            problems.append(f"{'.'.join(loc)}: {err['msg']}" if loc else err["msg"])
        return None, problems


def redact_url(url: str) -> str:
    """``scheme://host[:port]`` of a configured URL, plus ``/…`` when a path, query, fragment or
    ``user:password@`` was dropped (any may hold a provider's key): what a log line may show."""
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # not a number: dropped with the rest
        port = ""
    kept = parts.path in ("", "/") and not (parts.query or parts.fragment or parts.username)
    return f"{parts.scheme}://{parts.hostname or '?'}{port}{'' if kept else '/…'}"
