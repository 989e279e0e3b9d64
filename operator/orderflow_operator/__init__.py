"""The orderflow operator: reconciles ``TradingStrategy`` custom resources into the database.

Modules, lowest first (only this package imports kopf/kubernetes):

* ``spec``       the resource's spec model (StrategySettings + paused/killed/credentialsSecret);
* ``crd``        generates the CRD from that model (``python -m orderflow_operator.crd``);
* ``store``      the SQL that writes: the strategy row the operator owns;
* ``figures``    the SQL that reads what the status reports (one round trip);
* ``status``     pure functions building conditions and the status;
* ``reconcile``  the handlers' logic as plain async functions over a pool;
* ``config``     the operator's settings;
* ``handlers``   the kopf wiring: registry, retries, events, the status timer;
* ``runner``     starts kopf (namespaces, peering, liveness endpoint);
* ``retire``     ``orderflow operator retire``: delete every resource, wait for the finalizer and
                 the executor's cancels (the chart's pre-delete hook; no kopf, the kubernetes
                 client).
"""

from __future__ import annotations

# Nothing is imported here on purpose: `python -m orderflow_operator.crd` must not find its module
# already imported, and `orderflow operator --help` must not pay for kopf.
__all__: list[str] = []
