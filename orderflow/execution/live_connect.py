"""Connecting to the CLOB: a :class:`LiveBroker` authenticated with the executor's credentials.

The SDK derives the API credentials when none are given, and says which kind of wallet the
funder is: a declared ``POLY_SIGNATURE_TYPE`` that does not match it is a configuration error.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from polymarket import AsyncSecureClient, PolymarketError
from polymarket.environments import PRODUCTION
from polymarket.models import ApiKeyCreds

from orderflow.errors import ConfigError, ExecutionError
from orderflow.execution.credentials import WALLET_TYPE_SIGNATURE, LiveCredentials
from orderflow.execution.live import LiveBroker


async def open_live_broker(creds: LiveCredentials) -> LiveBroker:
    """Authenticate with the CLOB (deriving API credentials if none are given)."""
    if creds.private_key is None:
        raise ConfigError("live mode needs POLY_PRIVATE_KEY in the executor's environment")
    api = None
    if creds.api_key and creds.api_secret and creds.api_passphrase:
        api = ApiKeyCreds.model_validate(
            {
                "apiKey": creds.api_key.get_secret_value(),
                "secret": creds.api_secret.get_secret_value(),
                "passphrase": creds.api_passphrase.get_secret_value(),
            }
        )
    key = creds.private_key.get_secret_value()
    wallet = creds.funder
    if wallet is None and creds.signature_type in (None, 0):
        from eth_account import Account

        try:
            wallet = Account.from_key(key).address
        except (ValueError, TypeError):
            raise ConfigError("POLY_PRIVATE_KEY is not a valid private key") from None
    try:
        client = await AsyncSecureClient.create(
            private_key=key,
            wallet=wallet,
            environment=_environment(creds.clob_url),
            credentials=api,
        )
    except PolymarketError as exc:
        # The SDK's messages never contain the key, but stay on the safe side: type only.
        raise ExecutionError(f"cannot authenticate with the CLOB: {type(exc).__name__}") from None
    declared = creds.signature_type
    actual = WALLET_TYPE_SIGNATURE.get(str(client.wallet_type))
    if declared is not None and actual != declared:
        await client.close()
        raise ConfigError(
            f"POLY_SIGNATURE_TYPE={declared} but the funder is a {client.wallet_type} wallet "
            f"of this key (signature type {actual})"
        )
    return LiveBroker(client)


def _environment(clob_url: str | None) -> Any:
    if clob_url is None:
        return PRODUCTION
    # The SDK has no public constructor for environments; its internal helper is the one place
    # that builds one (used for a staging or test CLOB only).
    from polymarket._internal.environment import get_environment_config, with_environment_config

    config = dataclasses.replace(get_environment_config(PRODUCTION), clob_url=clob_url)
    return with_environment_config(PRODUCTION, config=config)
