"""Connecting to Temporal: every client and worker uses the pydantic converter (typed records, not dicts)."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from honk.errors import Unavailable
from honk.settings import Settings


async def connect(settings: Settings) -> Client:
    try:
        return await Client.connect(
            settings.temporal_address, namespace=settings.temporal_namespace,
            data_converter=pydantic_data_converter,
        )
    except RuntimeError as e:
        raise Unavailable(
            f"Cannot reach Temporal at {settings.temporal_address} ({e}). Start it (`honk up` does) "
            "or set HONK_TEMPORAL_ADDRESS."
        ) from e
