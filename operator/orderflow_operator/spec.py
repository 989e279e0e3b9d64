"""The TradingStrategy spec: the executor's StrategySettings plus the switches the operator owns.

The spec model *extends* :class:`orderflow.strategy.StrategySettings` rather than copying it, so a
field the executor adds appears in the spec (and, through ``orderflow_operator.crd``, in the CRD)
without anyone editing this file. Only three fields are the operator's own:

* ``paused`` and ``killed`` become the state columns of ``orderflow_strategies`` (they are not
  settings: the executor must honour them even when the settings are unchanged);
* ``credentialsSecret`` names the Secret holding the live trading credentials. The operator never
  reads it (credentials live in the executor's environment, mounted by the chart from
  ``credentials.existingSecret``); it refuses ``mode: live`` without one, so that nobody flips a
  strategy to live by accident, and, when told which Secret the executor holds
  (``OPERATOR_LIVE_CREDENTIALS_SECRET``), any other name: the executor would trade another
  wallet than the spec says, or, holding no credentials, refuse to start at all.

Parsing is pure: :func:`parse_spec` turns a raw spec mapping into either a :class:`ParsedSpec` or
a :class:`SpecProblem` (a reason for the status condition plus a human message), never raising.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Self

from pydantic import Field, ValidationError, field_validator, model_validator

from orderflow.strategy import StrategySettings
from orderflow.strategy.names import name_problem

# A Secret's name is a DNS subdomain.
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# ... and so is a private key's hex (POLY_PRIVATE_KEY, with or without 0x): never a name.
PRIVATE_KEY_HEX = r"^(0x)?[0-9a-f]{64}$"
PRIVATE_KEY = re.compile(PRIVATE_KEY_HEX)

ProblemReason = Literal["InvalidName", "InvalidSpec", "MissingCredentials"]


class TradingStrategySpec(StrategySettings):
    """``spec`` of a TradingStrategy: every StrategySettings field (camelCase) and three more."""

    paused: bool = Field(
        default=False,
        description="Stop opening new positions (open ones are kept and managed). Takes effect "
        "within a second and holds across operator and executor restarts.",
    )
    killed: bool = Field(
        default=False,
        description="Stop all trading and cancel open live orders. Stronger than paused.",
    )
    credentials_secret: str | None = Field(
        default=None,
        max_length=253,
        pattern=DNS_SUBDOMAIN,
        # refused by the API server too, so a pasted key is never stored in the resource
        json_schema_extra={"not": {"pattern": PRIVATE_KEY_HEX}},
        description="Name of the Secret with the live trading credentials: the executor's "
        "(the chart's credentials.existingSecret, which it mounts into the executor); the "
        "operator refuses any other. Required when mode is live.",
    )

    @field_validator("credentials_secret")
    @classmethod
    def _not_a_private_key(cls, value: str | None) -> str | None:
        """Refused without repeating it: the message goes to the status and an Event."""
        if value is not None and PRIVATE_KEY.match(value):
            raise ValueError(
                "this is a private key (64 hex digits), not a Secret's name: name the Secret "
                "that holds the key, and treat this key as exposed (it is in the resource)"
            )
        return value

    @model_validator(mode="after")
    def _live_needs_credentials(self) -> Self:
        if self.mode == "live" and not self.credentials_secret:
            raise ValueError("mode live needs credentialsSecret (the Secret with the CLOB keys)")
        return self

    def settings(self) -> StrategySettings:
        """The executor's part of the spec, without the operator's switches."""
        fields = set(StrategySettings.model_fields)
        return StrategySettings.model_validate(self.model_dump(include=fields))


@dataclass(frozen=True, slots=True)
class ParsedSpec:
    """A spec that passed every check: what to write, and the switches."""

    settings: StrategySettings
    paused: bool
    killed: bool


@dataclass(frozen=True, slots=True)
class SpecProblem:
    """Why a spec is not applied. ``paused``/``killed`` are still read when they are booleans,
    because stopping a strategy is always safe (see ``orderflow_operator.reconcile``)."""

    reason: ProblemReason
    message: str
    paused: bool
    killed: bool


def _flag(spec: Mapping[str, Any], key: str) -> bool:
    value = spec.get(key)
    return value if isinstance(value, bool) else False


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)


def parse_spec(
    name: str, spec: Mapping[str, Any] | None, *, live_credentials: str | None = None
) -> ParsedSpec | SpecProblem:
    """Validate a resource's name and spec the way the executor would, without raising.

    ``live_credentials``: the Secret the executor's credentials come from ("" for none), which
    a live spec must name; None accepts any name (the executor's Secret is not known)."""
    raw = dict(spec or {})
    paused, killed = _flag(raw, "paused"), _flag(raw, "killed")
    if (problem := name_problem(name)) is not None:
        return SpecProblem("InvalidName", f"name {problem}", paused, killed)
    try:
        parsed = TradingStrategySpec.model_validate(raw)
    except ValidationError as exc:
        missing = raw.get("mode") == "live" and not raw.get("credentialsSecret")
        reason: ProblemReason = "MissingCredentials" if missing else "InvalidSpec"
        return SpecProblem(reason, _describe(exc), paused, killed)
    named = parsed.credentials_secret
    if parsed.mode == "live" and live_credentials is not None and named != live_credentials:
        if live_credentials:
            message = (
                f"credentialsSecret {named!r} is not the executor's credentials Secret "
                f"{live_credentials!r} (credentials.existingSecret): it would trade that one"
            )
        else:
            message = (
                "mode live: the executor has no live credentials (set the chart's "
                "credentials.existingSecret and name that Secret in credentialsSecret)"
            )
        return SpecProblem("MissingCredentials", message, paused, killed)
    return ParsedSpec(parsed.settings(), parsed.paused, parsed.killed)
