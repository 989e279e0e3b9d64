"""The ``kubernetes`` client logged in like kubectl, for what runs outside kopf: the uninstall
hook (``retire``), the operator's check, before kopf starts, that there is a cluster, and its
orphan sweep's reads (``cluster``).

Without that check kopf ran on without one: with no credentials its login handler failed and was
retried every 60 s with a traceback, forever; with an API server that does not answer it retried
its discovery for about a minute and stopped with three tracebacks, again at every restart of
the pod. Now the operator stops at once with one readable error and exit code 1 (the pod's
restarts then back off as usual): ``tests/operator/test_no_cluster.py``.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import HTTPError

from orderflow import __version__
from orderflow.errors import OrderflowError

# The User-Agent of the operator's own requests (kopf's carry kopf's).
OPERATOR_AGENT = "orderflow-operator"
# How long the start-up check waits for the API server's answer.
CHECK_TIMEOUT_SECS = 10.0


class KubernetesUnavailable(OrderflowError):
    """No credentials for a cluster, or its API server does not answer."""


def api_client(agent: str) -> client.ApiClient:
    """A client logged in like kubectl (and kopf's ``login_via_client``): the pod's service
    account, else the kubeconfig. Its requests carry ``agent/<version>`` as User-Agent."""
    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    except ConfigException:
        try:
            config.load_kube_config()  # type: ignore[no-untyped-call]
        except (ConfigException, OSError) as exc:
            raise KubernetesUnavailable(
                "no Kubernetes API credentials: not in a pod with a service account, and no "
                f"usable kubeconfig (KUBECONFIG or ~/.kube/config): {exc}"
            ) from None
    api = client.ApiClient()
    api.user_agent = f"{agent}/{__version__}"
    return api


def check_reachable(agent: str) -> None:
    """Raise :class:`KubernetesUnavailable` unless the API server answers its discovery
    (``GET /apis``: kopf's own first request, readable by every account)."""
    api = api_client(agent)
    host = api.configuration.host
    request = api.param_serialize(  # the generated ApisApi asks for "/apis/", as kopf does not
        method="GET",
        resource_path="/apis",
        header_params={"Accept": "application/json"},
        auth_settings=["BearerToken"],
    )
    try:
        response = api.call_api(*request, _request_timeout=CHECK_TIMEOUT_SECS)
        response.read()  # type: ignore[no-untyped-call]
    except (HTTPError, OSError) as exc:
        message = f"the Kubernetes API at {host} does not answer: {exc}"
        raise KubernetesUnavailable(message) from None
    finally:
        api.close()  # type: ignore[no-untyped-call]
    if not 200 <= response.status < 300:
        raise KubernetesUnavailable(
            f"the Kubernetes API at {host} refused its discovery: {response.status} "
            f"{response.reason}"
        )


def list_items(
    objects: client.CustomObjectsApi, group: str, version: str, plural: str, namespace: str | None
) -> list[dict[str, Any]]:
    """The custom objects of ``plural`` in ``namespace``, or in the whole cluster (None): one
    list request, no ``limit`` (the API server then answers every item, no continue token). A
    reply without ``items`` raises (KeyError): it is no list, and an empty one would tell the
    orphan sweep that every resource is gone."""
    found: Any  # the client types its replies as object: they are the JSON lists
    if namespace is None:
        found = objects.list_cluster_custom_object(group, version, plural)
    else:
        found = objects.list_namespaced_custom_object(group, version, namespace, plural)
    return list(found["items"] or ())
