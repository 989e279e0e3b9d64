"""``orderflow operator`` as its ``--help`` shows it: ``[ACTION ...]`` is optional (without it the
operator runs), and the options before ``retire`` are the retire's own.

Before 5 Dec 2026 ``orderflow operator -n NS retire`` retired every TradingStrategy in every
namespace: the retire's own ``--namespace`` default (none: every namespace) replaced the one
given before it, so another release's strategies were killed.
"""

from __future__ import annotations

import kmock
import pytest

from orderflow import cli, db
from tests.operator.conftest import NAMESPACE, ApiServer, operator_running
from tests.operator.test_retire import (
    beside_another_release,
    left_alone,
    logged_in,
    orderflow,
    present,
)

pytestmark = pytest.mark.kmock(cls=ApiServer)
__all__ = ["logged_in"]  # the fixture, for this module's tests


def test_help_shows_the_action_as_optional(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["operator", "--help"])
    usage = " ".join(capsys.readouterr().out.split("\n\n")[0].split())
    assert usage.endswith("[ACTION ...]"), usage
    assert usage.startswith("usage: orderflow operator [-h]"), usage


@pytest.mark.usefixtures("logged_in")
@pytest.mark.parametrize("before", [["--namespace", NAMESPACE], ["-n", NAMESPACE]])
async def test_a_namespace_given_before_retire_is_the_retires_scope(
    api: kmock.KubernetesEmulator, dsn: str, before: list[str]
) -> None:
    conn = await db.connect(dsn)
    try:
        await beside_another_release(api, conn, dsn)
        async with operator_running(api, dsn, namespaces=[NAMESPACE]):
            code, err = await orderflow("operator", *before, "retire", "--timeout", "60")
        assert code == 0, err
        assert not present(api, "whale-follow")
        assert left_alone(api), "another namespace's strategy was deleted"
    finally:
        await conn.close()


@pytest.mark.parametrize(
    "words",
    [
        ["operator", "-n", NAMESPACE, "retire", "-A"],
        ["operator", "-A", "retire", "-n", NAMESPACE],
        ["operator", "-n", NAMESPACE, "retire", "-n", "research"],
    ],
)
def test_scopes_before_and_after_retire_that_disagree_are_refused(
    words: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(words) == 2
    assert "before and after retire" in capsys.readouterr().err
