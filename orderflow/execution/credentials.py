"""Live-trading credentials, read from the executor's environment (never from a strategy).

``POLY_PRIVATE_KEY`` signs orders; ``POLY_FUNDER`` is the wallet that holds the funds when it is
not the key's own address (a Polymarket proxy, Safe or deposit wallet); ``POLY_SIGNATURE_TYPE``
(0 EOA, 1 POLY_PROXY, 2 POLY_GNOSIS_SAFE, 3 POLY_1271 deposit wallet) is checked against what the
SDK derives from key and funder. API credentials (``POLY_API_KEY``, ``POLY_API_SECRET``,
``POLY_API_PASSPHRASE``) are optional: without them the SDK derives them from the key (L1 auth).
A proxy, Safe or deposit wallet sends its redemptions through Polymarket's relayer, which needs a
key of its own (:func:`relayer_key`): a Relayer API key (``POLY_RELAYER_API_KEY`` and the address
that owns it, ``POLY_RELAYER_API_KEY_ADDRESS``) or a Builder API key (``POLY_BUILDER_API_KEY``,
``POLY_BUILDER_SECRET``, ``POLY_BUILDER_PASSPHRASE``); an EOA needs neither.
Every secret is a ``SecretStr``: it never reaches a log line, an error message or the database.
"""

from __future__ import annotations

from typing import Self

from polymarket.auth import ApiKey, BuilderApiKey, RelayerApiKey
from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

WALLET_TYPE_SIGNATURE = {"EOA": 0, "POLY_PROXY": 1, "GNOSIS_SAFE": 2, "DEPOSIT_WALLET": 3}


class LiveCredentials(BaseSettings):
    # A variable set but empty is unset, as in every settings model (orderflow.config.LogSettings)
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, env_ignore_empty=True)

    private_key: SecretStr | None = Field(
        default=None,
        validation_alias="POLY_PRIVATE_KEY",
        description="Hex private key that signs orders (0x-prefixed or not).",
    )
    funder: str | None = Field(
        default=None,
        validation_alias="POLY_FUNDER",
        description="Funding wallet address; unset: the key's own address (EOA).",
    )
    signature_type: int | None = Field(
        default=None,
        ge=0,
        le=3,
        validation_alias="POLY_SIGNATURE_TYPE",
        description="0 EOA, 1 POLY_PROXY, 2 POLY_GNOSIS_SAFE, 3 POLY_1271; checked, not guessed.",
    )
    api_key: SecretStr | None = Field(default=None, validation_alias="POLY_API_KEY")
    api_secret: SecretStr | None = Field(default=None, validation_alias="POLY_API_SECRET")
    api_passphrase: SecretStr | None = Field(default=None, validation_alias="POLY_API_PASSPHRASE")
    clob_url: str | None = Field(
        default=None,
        validation_alias="POLY_CLOB_URL",
        description="Override the CLOB REST URL (a staging or test server); unset: production.",
    )
    rpc_url: SecretStr | None = Field(
        default=None,
        validation_alias="POLY_RPC_URL",
        description="The Polygon JSON-RPC node the live wallet's redemptions are read and, for an "
        "EOA wallet, sent through (a node URL often carries its API key: kept secret); unset: "
        "the SDK's public default node.",
    )

    relayer_api_key: SecretStr | None = Field(
        default=None,
        validation_alias="POLY_RELAYER_API_KEY",
        description="Polymarket Relayer API key: a proxy, Safe or deposit wallet redeems through "
        "the relayer with it (with POLY_RELAYER_API_KEY_ADDRESS); an EOA needs none.",
    )
    relayer_api_key_address: str | None = Field(
        default=None,
        validation_alias="POLY_RELAYER_API_KEY_ADDRESS",
        description="The address that created POLY_RELAYER_API_KEY (given with it).",
    )
    builder_api_key: SecretStr | None = Field(default=None, validation_alias="POLY_BUILDER_API_KEY")
    builder_secret: SecretStr | None = Field(default=None, validation_alias="POLY_BUILDER_SECRET")
    builder_passphrase: SecretStr | None = Field(
        default=None, validation_alias="POLY_BUILDER_PASSPHRASE"
    )

    @field_validator(
        "private_key",
        "api_key",
        "api_secret",
        "api_passphrase",
        "rpc_url",
        "relayer_api_key",
        "builder_api_key",
        "builder_secret",
        "builder_passphrase",
    )
    @classmethod
    def _blank_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value().strip() else None

    @field_validator("funder", "relayer_api_key_address")
    @classmethod
    def _check_address(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not (value.startswith("0x") and len(value) == 42):
            name = "POLY_FUNDER" if info.field_name == "funder" else "POLY_RELAYER_API_KEY_ADDRESS"
            raise ValueError(f"{name} must be a 0x-prefixed 20-byte address")
        return value

    @model_validator(mode="after")
    def _api_all_or_none(self) -> Self:
        given = [v is not None for v in (self.api_key, self.api_secret, self.api_passphrase)]
        if any(given) and not all(given):
            raise ValueError(
                "set all of POLY_API_KEY, POLY_API_SECRET, POLY_API_PASSPHRASE or none of them"
            )
        relayer = (self.relayer_api_key, self.relayer_api_key_address)
        if (relayer[0] is None) != (relayer[1] is None):
            raise ValueError("set POLY_RELAYER_API_KEY with POLY_RELAYER_API_KEY_ADDRESS")
        builder = [v is not None for v in self._builder()]
        if any(builder) and not all(builder):
            raise ValueError(
                "set all of POLY_BUILDER_API_KEY, POLY_BUILDER_SECRET, POLY_BUILDER_PASSPHRASE"
                " or none of them"
            )
        if relayer[0] is not None and all(builder):
            raise ValueError("set a Relayer API key or a Builder API key for the relayer, not both")
        if self.signature_type in (1, 2) and self.funder is None:
            raise ValueError("POLY_SIGNATURE_TYPE 1 or 2 needs POLY_FUNDER (the proxy/Safe)")
        return self

    def _builder(self) -> tuple[SecretStr | None, SecretStr | None, SecretStr | None]:
        return (self.builder_api_key, self.builder_secret, self.builder_passphrase)

    @property
    def relayer_secrets(self) -> tuple[str, ...]:
        """The relayer key's secret texts (kept out of every log line and row)."""
        given = (self.relayer_api_key, *self._builder())
        return tuple(s.get_secret_value() for s in given if s is not None)

    @property
    def present(self) -> bool:
        """Live trading is possible only with a signing key."""
        return self.private_key is not None


def relayer_key(creds: LiveCredentials) -> ApiKey | None:
    """The key the SDK's gasless path (a proxy, Safe or deposit wallet's redemption) sends to
    Polymarket's relayer: a Relayer API key, a Builder API key, or none (an EOA's)."""
    if creds.relayer_api_key is not None and creds.relayer_api_key_address is not None:
        return RelayerApiKey(
            key=creds.relayer_api_key.get_secret_value(), address=creds.relayer_api_key_address
        )
    key, secret, passphrase = creds._builder()
    if key is None or secret is None or passphrase is None:
        return None
    return BuilderApiKey(
        key=key.get_secret_value(),
        secret=secret.get_secret_value(),
        passphrase=passphrase.get_secret_value(),
    )


def requested_wallet(creds: LiveCredentials) -> str | None:
    """The wallet the credentials name: ``POLY_FUNDER``, else the key's own address for an EOA
    (no signature type, or 0); None when the SDK is to find it (the default deposit wallet) or
    the key is missing or invalid (the log-in says why)."""
    if creds.funder is not None:
        return creds.funder
    if creds.private_key is None or creds.signature_type not in (None, 0):
        return None
    from eth_account import Account

    try:
        return str(Account.from_key(creds.private_key.get_secret_value()).address)
    except (ValueError, TypeError):
        return None
