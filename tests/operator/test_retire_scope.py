"""``orderflow operator`` as its ``--help`` shows it: ``[ACTION ...]`` is optional (without it the
operator runs), and the options before ``retire`` are the retire's own.

Before 5 Dec 2026 ``orderflow operator -n NS retire`` retired every TradingStrategy in every
namespace: the retire's own ``--namespace`` default (none: every namespace) replaced the one
given before it, so another release's strategies were killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import io

import kmock
import pytest

from orderflow import cli, db
from tests.operator.conftest import NAMESPACE, TS, ApiServer, operator_running
from tests.operator.test_retire import OTHER_URL, logged_in, present
from tests.operator.test_runtime import apply, manifest, wait_row

pytestmark = pytest.mark.kmock(cls=ApiServer)
__all__ = ["logged_in"]  # the fixture, for this module's tests


def test_help_shows_the_action_as_optional(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["operator", "--help"])
    usage = " ".join(capsys.readouterr().out.split("\n\n")[0].split())
    assert usage.endswith("[ACTION ...]"), usage
    assert usage.startswith("usage: orderflow operator [-h]"), usage


async def _main(*args: str) -> tuple[int, str]:
    """`orderflow ARGS` in a thread (kmock serves on this loop): exit code and stderr."""

    def run() -> int:
        with contextlib.redirect_stderr(err):
            return cli.main(list(args))

    err = io.StringIO()
    return await asyncio.to_thread(run), err.getvalue()


@pytest.mark.usefixtures("logged_in")
@pytest.mark.parametrize("before", [["--namespace", NAMESPACE], ["-n", NAMESPACE]])
async def test_a_namespace_given_before_retire_is_the_retires_scope(
    api: kmock.KubernetesEmulator, dsn: str, before: list[str]
) -> None:
    conn = await db.connect(dsn)
    try:
        async with operator_running(api, dsn, namespaces=[NAMESPACE]):
            await apply(api, manifest("whale-follow"))
            await wait_row(conn, "whale-follow", killed=False)
        other = manifest("fader") | {"metadata": {"name": "fader", "namespace": "research"}}
        async with api.post(OTHER_URL, json=other) as resp:
            assert resp.status == 200, await resp.text()
        async with operator_running(api, dsn, namespaces=[NAMESPACE]):
            code, err = await _main("operator", *before, "retire", "--timeout", "60")
        assert code == 0, err
        assert not present(api, "whale-follow")
        assert present(api, "fader", "research"), "another namespace's strategy was deleted"
        assert not api.objects[TS, "research", "fader"].get("metadata", {}).get("deletionTimestamp")
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
