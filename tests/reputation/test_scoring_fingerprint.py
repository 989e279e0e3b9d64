"""The stored inputs' fingerprint covers all the scoring code: an incremental run trusts every
row it leaves alone to hold what this code makes of its unchanged inputs, so a change to any
module the population step's figures come from must make the next run a full one. The skill
tail's fit moved into a module of its own (mixture.py) and was outside the fingerprint until
this test."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from types import ModuleType

from orderflow.reputation import stored_inputs
from orderflow.reputation.settings import ReputationSettings

PACKAGE = "orderflow.reputation"
# their values are in the fingerprint (the settings' JSON), not their code (flag_settings: the
# behaviour flags' part of ReputationSettings)
VALUES_ONLY = {"settings", "flag_settings"}


def _imports(module: str) -> set[str]:
    """The modules of the package that ``module`` imports."""
    path = Path(inspect.getfile(stored_inputs)).with_name(f"{module}.py")
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == PACKAGE:
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGE + "."):
            found.add((node.module or "").rsplit(".", 1)[1])
    return found


def _name(module: ModuleType) -> str:
    return module.__name__.rsplit(".", 1)[1]


def test_every_module_of_the_scoring_code_is_in_the_fingerprint() -> None:
    listed = {_name(m) for m in stored_inputs._SCORING_CODE}
    seen: set[str] = set()
    todo = sorted(listed)
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo += sorted(_imports(module))
    assert "mixture" in seen
    assert seen - VALUES_ONLY <= listed, sorted(seen - VALUES_ONLY - listed)


# How a run is carried out, not what it computes: the same rows either way (the split and the
# serial run row for row: test_wallet_split.py; the schedule is not read by a run).
RUN_ONLY = {
    "calculation_interval_secs": 60.0,
    "second_connection": False,
    "incremental_max_share": 0.5,
}


def test_settings_of_how_a_run_runs_keep_the_stored_inputs() -> None:
    """Turning the second connection off, or scheduling runs at another interval, leaves the
    stored inputs valid: the next run is still an incremental one (it was a full one: 100 s at
    1 M wallets for no change of any row)."""
    base = ReputationSettings()
    moved = {
        k
        for k, v in RUN_ONLY.items()
        if stored_inputs.fingerprint(base.model_copy(update={k: v}))
        != stored_inputs.fingerprint(base)
    }
    assert moved == set()


def test_a_scoring_setting_moves_the_fingerprint() -> None:
    """A control: a setting the scores read does change it."""
    base = ReputationSettings()
    changed = base.model_copy(update={"follower_cost": base.follower_cost + 0.01})
    assert stored_inputs.fingerprint(changed) != stored_inputs.fingerprint(base)
