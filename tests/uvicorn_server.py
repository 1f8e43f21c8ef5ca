"""The server `honk server` builds (honk.composition.server), run by a real uvicorn in the test's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from honk.composition.server import build_app
from honk.settings import Settings


@asynccontextmanager
async def running_server(settings: Settings) -> AsyncIterator[Any]:
    """Serves on settings' host and port until the block ends; yields the app (its `honk.state` is the server's)."""
    app = build_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=settings.server.port, log_level="warning", log_config=None)
    )
    running = asyncio.ensure_future(server.serve())
    async with asyncio.timeout(60):
        while not server.started:
            if running.done():  # uvicorn exits on a failed start-up, having logged why
                raise AssertionError(f"the server did not start ({running.exception()!r}); its log says why")
            await asyncio.sleep(0.02)
    try:
        yield app
    finally:
        server.should_exit = True
        await running
