"""orderflow: Polymarket order-flow trading.

Stages, one subpackage each, in the direction data flows:

* ``orderflow.chain`` — decode exchange and ConditionalTokens logs, store trades exactly once.
* ``orderflow.reputation`` — score wallets 0-10 from their settled record.
* ``orderflow.signals`` / ``orderflow.execution`` — follow skilled wallets, size, limit, fill.

Shared plumbing lives in small modules: ``config``, ``db``, ``telemetry``, ``tracing``,
``errors``.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
