"""A list reply without ``items`` is no list: the orphan sweep must not read it as "every
resource is gone" (it would retire live strategies), nor the uninstall hook as "nothing left"."""

from __future__ import annotations

from typing import Any

import pytest

from orderflow_operator.kube import list_items


class _Objects:
    """The two list calls of ``kubernetes.client.CustomObjectsApi``, answering ``reply``."""

    def __init__(self, reply: dict[str, Any]) -> None:
        self.reply = reply

    def list_cluster_custom_object(self, *_: str) -> dict[str, Any]:
        return self.reply

    def list_namespaced_custom_object(self, *_: str) -> dict[str, Any]:
        return self.reply


@pytest.mark.parametrize("namespace", [None, "trading"])
def test_a_reply_without_items_is_refused(namespace: str | None) -> None:
    with pytest.raises(KeyError):
        list_items(_Objects({"kind": "Status"}), "g", "v1", "things", namespace)  # type: ignore[arg-type]


@pytest.mark.parametrize("namespace", [None, "trading"])
def test_an_empty_list_is_empty(namespace: str | None) -> None:
    assert list_items(_Objects({"items": None}), "g", "v1", "things", namespace) == []  # type: ignore[arg-type]
    one = {"metadata": {"name": "whale"}}
    assert list_items(_Objects({"items": [one]}), "g", "v1", "things", namespace) == [one]  # type: ignore[arg-type]
