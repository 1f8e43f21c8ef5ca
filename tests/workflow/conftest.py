"""The in-process workflow tests share the session's Temporal dev server; each gets a fresh store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from harness import Bench, connect, open_store

from honk.testing.processes import TemporalDevServer


@pytest.fixture
async def bench(tmp_path: Path, temporal: TemporalDevServer) -> AsyncIterator[Bench]:
    client = await connect(temporal.address)
    store = await open_store(tmp_path)
    yield Bench(client, store)
    await store.close()
