"""Every exception orderflow raises on purpose.

    OrderflowError
    ├── ConfigError          bad settings, bad CLI arguments: the message says what to change
    │   └── InvalidSettings  bad environment variables (``variables`` names them)
    ├── DatabaseError
    │   └── MigrationError   a migration failed or an applied one was edited
    ├── DecodeError          a log that matches a subscription but cannot be decoded
    ├── RpcError             JSON-RPC failures, classified for the caller
    │   ├── RetryableRpcError     timeouts, dropped connections, 5xx, rate limits
    │   ├── RangeTooLargeError    "too many results" / response size: shrink the block range
    │   └── FatalRpcError         wrong chain, bad credentials, unsupported method
    ├── ReorgError           the canonical chain diverged deeper than we can repair
    └── ExecutionError       an order could not be placed or reconciled

Messages are meant for the operator of the system: they name the setting or the input at fault
and never carry a secret.
"""

from __future__ import annotations


class OrderflowError(Exception):
    """Base class for orderflow's own errors."""


class ConfigError(OrderflowError):
    """Invalid configuration or arguments."""


class InvalidSettings(ConfigError):
    """Environment variables refused at start-up: the message says why, one line each;
    ``variables`` names them (a log record's field, for a collector)."""

    def __init__(self, message: str, variables: tuple[str, ...]) -> None:
        super().__init__(message)
        self.variables = variables


class DatabaseError(OrderflowError):
    """The database is unreachable or in an unexpected state."""


class MigrationError(DatabaseError):
    """A schema migration could not be applied."""


class DecodeError(OrderflowError):
    """A log could not be decoded into a known event."""


class RpcError(OrderflowError):
    """A JSON-RPC call failed."""


class RetryableRpcError(RpcError):
    """Transient: retry the same request after a backoff."""


class RangeTooLargeError(RpcError):
    """The node refused the block range: retry with a smaller one."""


class FatalRpcError(RpcError):
    """Retrying will not help: the configuration or the node is wrong."""


class ReorgError(OrderflowError):
    """A reorganisation deeper than the tracked block window."""


class ExecutionError(OrderflowError):
    """An order could not be placed, cancelled or reconciled."""
