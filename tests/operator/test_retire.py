"""``orderflow operator retire``, the chart's pre-delete hook (tests/chart/test_uninstall.py), as
the image runs it: the real CLI logged in through a kubeconfig to kmock, kopf's real runtime
holding the finalizer, a real PostgreSQL, and for live orders the executor against the CLOB
stand-in.

It returns only once every TradingStrategy in scope went through the operator's finalizer (row
killed and marked deleted) and the executor cancelled their live orders; otherwise it fails,
naming what is left, so `helm uninstall` stops before it deletes the operator or the executor.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from pathlib import Path

import asyncpg
import kmock
import pytest

from orderflow import cli, db
from orderflow.execution.strategy_queries import insert_strategy_if_absent
from orderflow.strategy import StrategySettings
from orderflow_operator.retire import RETIRE_AGENT
from tests.execution.conftest import running
from tests.execution.livekit import live_executor
from tests.operator.conftest import NAMESPACE, TS, ApiServer, operator_running
from tests.operator.live_whale import clob_and_whale, rest_a_live_order
from tests.operator.permissions import requested, retire_needed
from tests.operator.test_runner import kubeconfig
from tests.operator.test_runtime import apply, manifest, row, wait_row

pytestmark = pytest.mark.kmock(cls=ApiServer)
OTHER_URL = "/apis/orderflow.io/v1alpha1/namespaces/research/tradingstrategies"


@pytest.fixture
def logged_in(
    api: kmock.KubernetesEmulator, dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The environment of the hook's pod: a kubeconfig (here: to kmock) and DATABASE_URL."""
    config_file = str(kubeconfig(tmp_path / "config", str(api.url)))
    monkeypatch.setenv("KUBECONFIG", config_file)
    monkeypatch.setattr("kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION", config_file)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("DATABASE_URL", dsn)


async def orderflow(*args: str) -> tuple[int, str]:
    """`orderflow ARGS`: its exit code and what it wrote to stderr. In a thread (kmock serves
    on this loop), with stderr its own: the command sets up logging to the stderr of the
    moment, which pytest's capture does not always hold."""

    def run() -> int:
        with contextlib.redirect_stderr(err):
            return cli.main(list(args))

    err = io.StringIO()
    code = await asyncio.to_thread(run)
    return code, err.getvalue()


async def retire(*args: str) -> tuple[int, str]:
    """`orderflow operator retire ARGS`."""
    return await orderflow("operator", "retire", *args)


async def beside_another_release(
    api: kmock.KubernetesEmulator, conn: asyncpg.Connection, dsn: str
) -> None:
    """`whale-follow` in NAMESPACE, its row written by this release's operator, and `fader` in
    `research`, another release's (its own operator, which would finalize it, is not running
    here)."""
    # kopf's patterns need namespace scanning, which kmock cannot serve: the operator here
    # watches the one namespace a pattern would leave it.
    async with operator_running(api, dsn, namespaces=[NAMESPACE]):
        await apply(api, manifest("whale-follow"))
        await wait_row(conn, "whale-follow", killed=False)
    other = manifest("fader") | {"metadata": {"name": "fader", "namespace": "research"}}
    async with api.post(OTHER_URL, json=other) as resp:
        assert resp.status == 200, await resp.text()


def left_alone(api: kmock.KubernetesEmulator) -> bool:
    """Whether the other release's `fader` is there, not even marked for deletion."""
    return present(api, "fader", "research") and not api.objects[TS, "research", "fader"].get(
        "metadata", {}
    ).get("deletionTimestamp")


def present(api: kmock.KubernetesEmulator, name: str, namespace: str = NAMESPACE) -> bool:
    try:
        return not api.objects[TS, namespace, name].deleted
    except KeyError:
        return False


@pytest.mark.usefixtures("logged_in")
@pytest.mark.parametrize("scope", [["--namespace", NAMESPACE], ["-A"]], ids=["namespace", "all"])
async def test_retire_returns_once_the_operator_retired_every_strategy(
    api: kmock.KubernetesEmulator, dsn: str, scope: list[str]
) -> None:
    conn = await db.connect(dsn)
    try:
        async with operator_running(api, dsn):
            for name in ("whale-follow", "fader"):  # the chart's example and one of a user's
                await apply(api, manifest(name))
                await wait_row(conn, name, killed=False)
            code, err = await retire(*scope, "--timeout", "60")
            assert code == 0, err
            # Done when it returns, not eventually: Helm deletes the operator right after.
            for name in ("whale-follow", "fader"):
                assert not present(api, name), f"{name} is still there"
                found = await row(conn, name)
                assert found is not None
                assert found["killed"] and found["deleted_at"] is not None, dict(found)
            # Nothing left: running it again (a retried uninstall) just succeeds.
            assert (await retire(*scope, "--timeout", "10"))[0] == 0
    finally:
        await conn.close()
    # Exactly the calls the chart's hook Role grants (tests/chart/test_uninstall.py).
    assert requested(api, agent=RETIRE_AGENT) == retire_needed()


@pytest.mark.usefixtures("logged_in")
async def test_retire_fails_naming_the_strategies_no_operator_finalizes(
    api: kmock.KubernetesEmulator, dsn: str
) -> None:
    conn = await db.connect(dsn)
    try:
        async with operator_running(api, dsn):
            await apply(api, manifest("whale"))
            await wait_row(conn, "whale", killed=False)
        # The operator is gone and the finalizer with it: the hook must fail the uninstall,
        # not report success while the strategy still trades.
        code, err = await retire("--namespace", NAMESPACE, "--timeout", "2")
        assert code == 1
        assert f"TradingStrategies still there: {NAMESPACE}/whale" in err, err
        assert present(api, "whale")
        assert api.objects[TS, NAMESPACE, "whale"].get("metadata", {}).get("deletionTimestamp")
        # Once the operator is back its finalizer runs; the retried hook then succeeds.
        async with operator_running(api, dsn):
            code, err = await retire("--namespace", NAMESPACE, "--timeout", "60")
            assert code == 0, err
        assert not present(api, "whale")
        await wait_row(conn, "whale", killed=True)
    finally:
        await conn.close()


@pytest.mark.usefixtures("logged_in")
async def test_retire_waits_until_the_executor_cancelled_the_live_orders(
    api: kmock.KubernetesEmulator, dsn: str, pool: asyncpg.Pool
) -> None:
    """A retired live strategy's resting order is cancelled at the exchange before the hook
    returns; while no executor cancels it, the hook fails naming it."""
    async with clob_and_whale(dsn) as (clob, broker, conn), operator_running(api, dsn):
        await apply(api, manifest("whale", mode="live", credentialsSecret="poly-creds"))
        await wait_row(conn, "whale", killed=False)
        ex = live_executor(pool, dsn, broker)
        async with running(ex):
            order_id = await rest_a_live_order(ex, conn, clob)
        # The executor stopped with the order resting: nobody cancels it.
        code, err = await retire("--namespace", NAMESPACE, "--timeout", "3")
        assert code == 1
        assert "live orders not cancelled yet (whale: 1)" in err, err
        assert not present(api, "whale"), "the finalizer ran: the strategy is killed"
        assert clob.orders[order_id]["status"] != "CANCELED"
        # An executor again: its kill switch cancels; the retried hook returns after that.
        async with running(live_executor(pool, dsn, broker)):
            code, err = await retire("--namespace", NAMESPACE, "--timeout", "60")
            assert code == 0, err
            status = await conn.fetchval("SELECT status FROM orderflow_orders")
            assert status == "CANCELED"
            assert clob.orders[order_id]["status"] == "CANCELED"


@pytest.mark.usefixtures("logged_in")
async def test_retire_kills_the_executors_own_strategy_and_waits_for_its_cancels(
    api: kmock.KubernetesEmulator, dsn: str, pool: asyncpg.Pool
) -> None:
    """The executor's seeded strategy (``default``, source ``env``: no TradingStrategy) trades
    live too; the hook kills it when told its name and returns only once the executor cancelled
    its resting order. Before, the hook left it alone and `helm uninstall` deleted the executor
    with the order resting at the exchange."""
    async with clob_and_whale(dsn) as (clob, broker, conn):
        live = StrategySettings(mode="live").model_dump(mode="json")
        await insert_strategy_if_absent(conn, "default", live, source="env")
        ex = live_executor(pool, dsn, broker)
        async with operator_running(api, dsn), running(ex):
            order_id = await rest_a_live_order(ex, conn, clob, strategy="default")
            code, err = await retire(
                "--namespace", NAMESPACE, "--kill-strategy", "default", "--timeout", "60"
            )
            assert code == 0, err
            found = await row(conn, "default")
            assert found is not None and found["killed"], dict(found or {})
            # Done when it returns: the executor goes right after.
            assert clob.orders[order_id]["status"] == "CANCELED"


@pytest.mark.usefixtures("logged_in")
async def test_retire_leaves_the_namespaces_its_operator_excludes_alone(
    api: kmock.KubernetesEmulator, dsn: str
) -> None:
    """A cluster-wide release next to a namespace-scoped one excludes that namespace (the
    chart's operator.excludeNamespaces: operator and hook take the same kopf pattern). Before,
    `retire -A` deleted every TradingStrategy in the cluster, the other release's too."""
    conn = await db.connect(dsn)
    try:
        await beside_another_release(api, conn, dsn)
        async with operator_running(api, dsn, namespaces=[NAMESPACE]):
            code, err = await retire("--namespace", "!research", "--timeout", "60")
        assert code == 0, err
        assert not present(api, "whale-follow")
        assert left_alone(api), "another release's strategy was deleted"
    finally:
        await conn.close()
