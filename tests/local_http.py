"""A test's stand-in HTTP service (the CLOB, the relayer, Gamma, an OTLP receiver) served on a
free port of this machine: the one place the aiohttp runner, its site and the port it was given
are set up."""

from __future__ import annotations

from typing import Any

from aiohttp import web


async def serve(app: web.Application, **runner_options: Any) -> tuple[web.AppRunner, int]:
    """``app`` served on 127.0.0.1 at a port the system picks; its runner (``cleanup()`` stops
    it) and that port."""
    runner = web.AppRunner(app, access_log=None, **runner_options)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None
    return runner, int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
