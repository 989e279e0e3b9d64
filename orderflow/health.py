"""The health endpoints every long-running service serves, and its metrics.

``/healthz``: the process and its event loop are alive; ``/readyz``: every registered readiness
check passes (database reachable, head lag under its threshold …); ``/metrics``: the
OpenTelemetry instruments (:mod:`orderflow.telemetry`) in Prometheus format. Its own module so
that a command serving none of them does not import the web server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from orderflow.errors import ConfigError
from orderflow.telemetry import redact

ReadinessCheck = Callable[[], Awaitable[tuple[bool, str]]]


class HealthServer:
    """Serves /healthz, /readyz and /metrics on one port.

    ``/healthz`` fails when the event loop has not ticked for ``stall_secs`` (a wedged process);
    ``/readyz`` runs every registered check and reports each one's detail.
    """

    def __init__(
        self,
        port: int,
        *,
        host: str = "0.0.0.0",  # noqa: S104
        stall_secs: float = 30.0,
        setting: str = "HEALTH_PORT",
    ) -> None:
        self.port = port
        self.setting = setting  # what sets the port, for the error naming it
        self.host = host
        self.stall_secs = stall_secs
        self._checks: dict[str, ReadinessCheck] = {}
        self._last_tick = time.monotonic()
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None

    def add_check(self, name: str, check: ReadinessCheck) -> None:
        self._checks[name] = check

    async def _healthz(self, _: web.Request) -> web.Response:
        stalled = time.monotonic() - self._last_tick > self.stall_secs
        return web.json_response({"ok": not stalled}, status=503 if stalled else 200)

    async def readiness(self) -> tuple[bool, dict[str, str]]:
        results: dict[str, str] = {}
        ok = True
        for name, check in self._checks.items():
            try:
                async with asyncio.timeout(5):  # not wait_for: it can lose a stop (3.11)
                    passed, detail = await check()
            except Exception as exc:
                passed, detail = False, f"{type(exc).__name__}: {exc}"
            ok &= passed
            # a driver's error may quote its DSN, an RPC client its URL: never on an open port
            results[name] = ("ok: " if passed else "failing: ") + redact(detail)
        return ok, results

    async def _readyz(self, _: web.Request) -> web.Response:
        ok, results = await self.readiness()
        return web.json_response({"ok": ok, "checks": results}, status=200 if ok else 503)

    async def _metrics(self, _: web.Request) -> web.Response:
        body = generate_latest()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _tick(self) -> None:
        while True:
            self._last_tick = time.monotonic()
            await asyncio.sleep(1)

    async def start(self) -> None:
        """Serve; a port it cannot take is a :class:`ConfigError` naming ``setting``."""
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:  # taken, or not ours: one line naming the setting, no traceback
            await self._runner.cleanup()
            self._runner = None
            raise ConfigError(
                f"cannot serve health endpoints on {self.setting}={self.port}:"
                f" {exc.strerror or exc} (pick a free port, or 0 to disable)"
            ) from None
        if self.port == 0 and site._server is not None:  # ephemeral port, for tests
            sockets = getattr(site._server, "sockets", None) or []
            if sockets:
                self.port = sockets[0].getsockname()[1]
        self._ticker = asyncio.create_task(self._tick())

    async def stop(self) -> None:
        if self._ticker:
            self._ticker.cancel()
        if self._runner:
            await self._runner.cleanup()
