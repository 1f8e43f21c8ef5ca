"""The Slack Web API client, built once from settings (the token is read once, at start-up)."""

from __future__ import annotations

from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from honk.settings import Settings


def slack_client(settings: Settings) -> AsyncWebClient:
    assert settings.slack_bot_token is not None
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url or "https://slack.com/api/"
    )
    # Slack answers 429 with Retry-After: wait and retry rather than lose a message.
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=3))
    return client
