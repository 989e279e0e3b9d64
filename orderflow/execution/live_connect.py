"""Connecting to the CLOB: a :class:`LiveBroker` authenticated with the executor's credentials.

The SDK derives the API credentials when none are given, and says which kind of wallet the
funder is: a declared ``POLY_SIGNATURE_TYPE`` that does not match it is a configuration error.
Logging in asks the exchange (the key checked or derived): when the CLOB does not answer
(:func:`~orderflow.execution.unanswered.exchange_unanswered`: no connection, a timeout, 5xx, 408,
425, 429), :func:`connect_live_broker` starts the executor without it and logs in as soon as
it answers (:mod:`orderflow.execution.live_pending`).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from polymarket import AsyncSecureClient, PolymarketError
from polymarket.environments import PRODUCTION
from polymarket.models import ApiKeyCreds

from orderflow.errors import ConfigError, ExecutionError
from orderflow.execution.book_reads import PublicBooks
from orderflow.execution.broker import Broker, CredentialsRefusedError, ExchangeBusyError
from orderflow.execution.credentials import (
    WALLET_TYPE_SIGNATURE,
    LiveCredentials,
    relayer_key,
    requested_wallet,
)
from orderflow.execution.exchange_text import keep_out
from orderflow.execution.live import LiveBroker
from orderflow.execution.live_pending import PendingLiveBroker
from orderflow.execution.signer_limits import SignerLimits
from orderflow.execution.unanswered import exchange_unanswered

log = logging.getLogger(__name__)


async def connect_live_broker(creds: LiveCredentials) -> Broker:
    """The live broker, logged in now when the CLOB answers; when it does not, one that keeps
    logging in (a pause of 1 s doubling to 5 s) and refuses every call until it has: the
    executor starts anyway — its paper strategies trade, a killed strategy's orders are
    cancelled as soon as the exchange is back. A refused key or a bad configuration still
    stops the start-up."""
    try:
        return await open_live_broker(creds)
    except CredentialsRefusedError:
        raise
    except ExchangeBusyError as exc:
        log.warning(
            "the CLOB does not answer; the executor starts without it and logs in as soon as it"
            " does (no live order, cancel or fill read until then)",
            extra={"error": str(exc)},
        )
        return PendingLiveBroker(lambda: open_live_broker(creds), first_error=str(exc))


async def open_live_broker(creds: LiveCredentials) -> LiveBroker:
    """Authenticate with the CLOB (deriving API credentials if none are given)."""
    if creds.private_key is None:
        raise ConfigError("live mode needs POLY_PRIVATE_KEY in the executor's environment")
    api = None
    secrets = (creds.api_key, creds.api_secret, creds.api_passphrase)
    if creds.api_key and creds.api_secret and creds.api_passphrase:
        api = ApiKeyCreds.model_validate(
            {
                "apiKey": creds.api_key.get_secret_value(),
                "secret": creds.api_secret.get_secret_value(),
                "passphrase": creds.api_passphrase.get_secret_value(),
            }
        )
    key = creds.private_key.get_secret_value()
    rpc_url = None if creds.rpc_url is None else creds.rpc_url.get_secret_value()
    keep_out(key, rpc_url, *(s.get_secret_value() for s in secrets if s is not None))
    keep_out(*creds.relayer_secrets)
    from eth_account import Account

    try:  # whatever the funder: the key signs every order (a bad one, with a funder, was an
        # ExecutionError naming the SDK's UserInputError, not the variable)
        Account.from_key(key)
    except (ValueError, TypeError):
        raise ConfigError("POLY_PRIVATE_KEY is not a valid private key") from None
    wallet = requested_wallet(creds)
    limits = SignerLimits()
    try:
        client = await AsyncSecureClient.create(
            private_key=key,
            wallet=wallet,
            environment=_environment(creds.clob_url, rpc_url),
            credentials=api,
            api_key=relayer_key(creds),  # a proxy/Safe/deposit wallet's gasless redemptions
            on_rate_limit_update=limits,
        )
    except PolymarketError as exc:
        # The SDK's messages never contain the key, but stay on the safe side: type and status.
        status = getattr(exc, "status", None)
        what = type(exc).__name__ + ("" if status is None else f" http {status}")
        if status in (401, 403):
            raise CredentialsRefusedError(f"cannot authenticate with the CLOB: {what}") from None
        if exchange_unanswered(exc):
            raise ExchangeBusyError(f"the CLOB did not answer the log-in: {what}") from None
        raise ExecutionError(f"cannot authenticate with the CLOB: {what}") from None
    # The credentials the SDK logs in with (derived, when none were given): no text of the
    # exchange carries them into a log or a row.
    keep_out(client.credentials.key, client.credentials.secret, client.credentials.passphrase)
    declared = creds.signature_type
    actual = WALLET_TYPE_SIGNATURE.get(str(client.wallet_type))
    if declared is not None and actual != declared:
        await client.close()
        raise ConfigError(
            f"POLY_SIGNATURE_TYPE={declared} but the funder is a {client.wallet_type} wallet "
            f"of this key (signature type {actual})"
        )
    return LiveBroker(client, pacing=limits.pacing)


def public_books(clob_url: str | None) -> PublicBooks:
    """The CLOB's public books (``POLY_CLOB_URL``, else Polymarket's) for paper decisions: the
    SDK's public client, no credentials."""
    from polymarket import AsyncPublicClient

    return PublicBooks(AsyncPublicClient(environment=_environment(clob_url)))


def _environment(clob_url: str | None, rpc_url: str | None = None) -> Any:
    if clob_url is None and rpc_url is None:
        return PRODUCTION
    # The SDK has no public constructor for environments; its internal helper is the one place
    # that builds one (a staging or test CLOB, the operator's own Polygon node).
    from polymarket._internal.environment import get_environment_config, with_environment_config

    config = get_environment_config(PRODUCTION)
    if clob_url is not None:
        config = dataclasses.replace(config, clob_url=clob_url)
    if rpc_url is not None:
        config = dataclasses.replace(config, rpc_url=rpc_url)
    return with_environment_config(PRODUCTION, config=config)
