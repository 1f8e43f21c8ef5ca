"""Starts the Slack front door in the web server: HTTP events always, Socket Mode when an app token is set."""

from __future__ import annotations

from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler

from honk.service import TaskService
from honk.settings import Settings
from honk.slack.client import slack_client
from honk.slack.frontdoor import SlackFrontDoor
from honk.store.slack import SlackStore


async def start_slack(
    settings: Settings, service: TaskService, records: SlackStore
) -> tuple[AsyncSlackRequestHandler | None, AsyncSocketModeHandler | None]:
    """The HTTP handler exists only with a signing secret: without one nothing could be verified."""
    secret = settings.slack.signing_secret.get_secret_value() if settings.slack.signing_secret else None
    door = SlackFrontDoor(
        service, records, slack_client(settings), secret, settings.slack.aside_marker, settings.base_url
    )
    socket_mode = None
    if settings.slack.app_token is not None:
        socket_mode = AsyncSocketModeHandler(door.app, settings.slack.app_token.get_secret_value())
        await socket_mode.connect_async()
    return (AsyncSlackRequestHandler(door.app) if secret else None), socket_mode
