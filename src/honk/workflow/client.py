"""Connecting to Temporal: every client and worker uses the pydantic converter (typed records, not dicts)."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import TLSConfig

from honk.errors import Unavailable
from honk.settings import Settings


async def connect(settings: Settings) -> Client:
    try:
        return await Client.connect(
            settings.temporal.address,
            namespace=settings.temporal.namespace,
            data_converter=pydantic_data_converter,
            tls=_tls(settings),
            api_key=settings.temporal.api_key.get_secret_value() if settings.temporal.api_key else None,
        )
    except RuntimeError as e:
        raise Unavailable(
            f"Cannot reach Temporal at {settings.temporal.address} ({e}). Start it (`honk up` does) "
            "or set HONK_TEMPORAL_ADDRESS."
        ) from e


def _tls(settings: Settings) -> TLSConfig | bool:
    files = (settings.temporal.tls_cert, settings.temporal.tls_key, settings.temporal.tls_ca)
    if not any(files):
        return settings.temporal.api_key is not None  # Temporal Cloud's API keys go over TLS
    cert, key, ca = (f.read_bytes() if f else None for f in files)
    return TLSConfig(client_cert=cert, client_private_key=key, server_root_ca_cert=ca)
