"""The CRD is generated from the model, valid for Kubernetes, and enforces what it can.

Regenerate after changing the settings model:
``python -m orderflow_operator.crd > charts/orderflow/crds/tradingstrategies.yaml``
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from orderflow_operator import crd
from orderflow_operator.spec import ParsedSpec, parse_spec

ROOT = Path(__file__).resolve().parents[2]
CRD_FILE = ROOT / "charts" / "orderflow" / "crds" / "tradingstrategies.yaml"
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def schema() -> dict[str, Any]:
    version = crd.crd()["spec"]["versions"][0]
    return dict(version["schema"]["openAPIV3Schema"])


def validator() -> jsonschema.Draft4Validator:
    # Kubernetes' openAPIV3Schema is OpenAPI 3.0, i.e. draft 4 semantics (boolean
    # exclusiveMinimum); `nullable` is ignored here, which only makes this check stricter.
    return jsonschema.Draft4Validator(schema())


def test_the_committed_crd_is_what_the_model_generates() -> None:
    assert CRD_FILE.read_text() == crd.render(), (
        "charts/orderflow/crds/tradingstrategies.yaml is stale: run "
        "python -m orderflow_operator.crd > charts/orderflow/crds/tradingstrategies.yaml"
    )


def test_crd_is_a_valid_kubernetes_object() -> None:
    body = next(yaml.safe_load_all(CRD_FILE.read_text()))
    kubernetes_validate.validate(body, "1.31", strict=True)


def test_crd_shape() -> None:
    spec = crd.crd()["spec"]
    assert spec["group"] == "orderflow.io" and spec["scope"] == "Namespaced"
    assert spec["names"]["shortNames"] == ["ts"]
    version = spec["versions"][0]
    assert version["name"] == "v1alpha1" and version["subresources"] == {"status": {}}
    columns = [c["name"].upper() for c in version["additionalPrinterColumns"]]
    assert columns == ["MODE", "STATE", "OPEN", "ORDERS", "EXCHANGE", "PNL", "AGE"]


def test_every_settings_field_is_in_the_schema_with_its_bounds() -> None:
    props = schema()["properties"]["spec"]["properties"]
    assert props["kellyFraction"] == {
        "type": "number",
        "description": "Fraction of the full Kelly stake to bet.",
        "default": 0.25,
        "exclusiveMinimum": True,
        "maximum": 1.0,
        "minimum": 0.0,
    }
    assert props["mode"]["enum"] == ["paper", "live"]
    assert props["maxOpenPositions"]["type"] == "integer"
    assert props["paused"]["type"] == "boolean" and props["killed"]["type"] == "boolean"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_pass_the_schema_and_the_model(path: Path) -> None:
    body = yaml.safe_load(path.read_text())
    validator().validate(body)
    assert isinstance(parse_spec(body["metadata"]["name"], body["spec"]), ParsedSpec)


def test_there_are_examples() -> None:
    names = {p.name for p in EXAMPLES}
    assert {"whale-follow.yaml", "fade-degen.yaml"} <= names


@pytest.mark.parametrize(
    "bad",
    [
        {"kellyFraction": 1.5},
        {"kellyFraction": 0},
        {"mode": "yolo"},
        {"maxOpenPositions": "five"},
        {"maxOpenPositions": 2.5},
        {"minWhaleScore": 11},
        {"bankrollUsd": -1},
        {"paused": "yes"},
        {"credentialsSecret": "Not_A_Name"},
        # a private key pasted as the Secret's name: the API server keeps it out of the resource
        {"credentialsSecret": "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"},
        {"credentialsSecret": "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"},
    ],
)
def test_schema_rejects_bad_values(bad: dict[str, Any]) -> None:
    body = {"apiVersion": "orderflow.io/v1alpha1", "kind": "TradingStrategy", "spec": bad}
    with pytest.raises(jsonschema.ValidationError):
        validator().validate(body)


def test_schema_requires_a_spec() -> None:
    with pytest.raises(jsonschema.ValidationError):
        validator().validate({"apiVersion": "orderflow.io/v1alpha1", "kind": "TradingStrategy"})


def test_cross_field_rules_pass_the_schema_but_not_the_model() -> None:
    """What the schema cannot see is caught by the handler (see test_runtime for the status)."""
    spec = {"minWhaleScore": 5, "maxFadeScore": 6}
    validator().validate({"spec": spec})
    assert not isinstance(parse_spec("crossed", spec), ParsedSpec)


def test_unsupported_model_constructs_fail_loudly() -> None:
    with pytest.raises(crd.UnsupportedSchemaError):
        crd.openapi({"anyOf": [{"type": "string"}, {"type": "integer"}]})
    with pytest.raises(crd.UnsupportedSchemaError):
        crd.openapi({"type": "object", "patternProperties": {"x": {"type": "string"}}})
    with pytest.raises(crd.UnsupportedSchemaError):  # `not` in a structural schema: no type
        crd.openapi({"type": "string", "not": {"type": "string"}})
