"""The reputation tests prove the incremental path equal to a full recompute on small worlds,
where one change often touches most of the wallets: with the run's switch to a full recompute
(``ReputationSettings.incremental_max_share``) those runs would be full ones, and the equality
full against full. So every test here runs with the switch off; ``test_full_switch.py`` turns it
on."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _never_switch_to_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPUTATION_INCREMENTAL_MAX_SHARE", "1")
