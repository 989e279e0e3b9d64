"""The CRD's CEL validation rules evaluated for real (``cel-python``), not read as text.

The API server runs every ``x-kubernetes-validations`` rule of the chart's CRD on a resource
before storing it. Here each rule of the shipped file (charts/orderflow/crds) is compiled and
evaluated against sample resources; the name rule must say what the executor, the operator and
the database say of a name (:func:`orderflow.strategy.names.name_problem`), for every name.

The rules use standard CEL only (``size()``, ``matches()`` with RE2 syntax, ``&&``): none of
Kubernetes' extension libraries (``isSorted``, ``url()``, ``quantity()``, ``format.*`` …), which
cel-python does not have. A rule that uses one fails to compile here: then test what it can.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import celpy
import pytest
import yaml
from celpy.adapter import json_to_cel
from hypothesis import given, settings
from hypothesis import strategies as st

from orderflow.strategy.names import MAX_STRATEGY_NAME, name_problem

CRD = Path(__file__).resolve().parents[2] / "charts/orderflow/crds/tradingstrategies.yaml"


def _rules(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, str]]]:
    """Every CEL rule of ``schema`` and below, with the path of the object it checks."""
    for rule in schema.get("x-kubernetes-validations", []):
        yield path or ".", rule
    for name, sub in schema.get("properties", {}).items():
        yield from _rules(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        yield from _rules(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _rules(schema["additionalProperties"], f"{path}{{}}")


def _shipped_rules() -> list[tuple[str, dict[str, str]]]:
    (crd,) = [d for d in yaml.safe_load_all(CRD.read_text()) if d]
    (version,) = crd["spec"]["versions"]
    return list(_rules(version["schema"]["openAPIV3Schema"]))


def _program(rule: str) -> celpy.Runner:
    env = celpy.Environment()
    return env.program(env.compile(rule))


NAME_RULE = next(r["rule"] for path, r in _shipped_rules() if path == "." and "name" in r["rule"])


def _allows(program: celpy.Runner, name: str) -> bool:
    resource = {
        "apiVersion": "orderflow.io/v1alpha1",
        "kind": "TradingStrategy",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"mode": "paper"},
    }
    verdict = program.evaluate({"self": json_to_cel(resource)})
    assert isinstance(verdict, celpy.celtypes.BoolType), verdict  # not a CEL error value
    return bool(verdict)


def test_every_rule_of_the_crd_compiles() -> None:
    """Each rule is CEL this evaluator parses and type-checks as far as it can; the name rule is
    the one at the root (a new rule elsewhere fails `test_the_rules_are_the_known_ones`)."""
    for _, rule in _shipped_rules():
        _program(rule["rule"])
        assert rule.get("message"), rule


def test_the_rules_are_the_known_ones() -> None:
    """A new rule needs samples of its own here: this lists what is tested."""
    assert [path for path, _ in _shipped_rules()] == ["."]


@pytest.mark.parametrize(
    ("name", "allowed"),
    [
        ("whales", True),
        ("whale-follower-2", True),
        ("0", True),
        ("a" * MAX_STRATEGY_NAME, True),
        ("a" * (MAX_STRATEGY_NAME + 1), False),
        ("Whales", False),
        ("-whales", False),
        ("whales-", False),
        ("whale.follower", False),
        ("whale_follower", False),
        ("whales\n", False),  # Python's `$` matches before a final newline; RE2's does not
        ("baleine-é", False),
        ("", False),
    ],
)
def test_the_name_rule_on_samples(name: str, allowed: bool) -> None:
    assert _allows(_program(NAME_RULE), name) is allowed


_NAME_PARTS = st.text(alphabet="abz09-A._\né ", max_size=MAX_STRATEGY_NAME + 3)


@settings(max_examples=300, deadline=None)
@given(
    name=st.one_of(
        _NAME_PARTS,
        st.builds(lambda n, s: "a" * n + s, st.integers(55, 70), st.sampled_from(["", "b", "-"])),
    )
)
def test_the_name_rule_says_what_the_executor_says(name: str) -> None:
    """For every name the API server's verdict is the executor's (name_problem), both ways."""
    assert _allows(_program(NAME_RULE), name) is (name_problem(name) is None), name


def test_a_rule_off_by_one_would_be_caught() -> None:
    """The comparison can fail: the rule with 64 for 63 lets a name through that the executor
    refuses (what `test_the_name_rule_says_what_the_executor_says` would report)."""
    loose = _program(NAME_RULE.replace(f"<= {MAX_STRATEGY_NAME}", f"<= {MAX_STRATEGY_NAME + 1}"))
    name = "a" * (MAX_STRATEGY_NAME + 1)
    assert _allows(loose, name) and name_problem(name) is not None
