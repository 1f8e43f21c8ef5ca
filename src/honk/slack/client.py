"""The Slack Web API client, built once from settings (the token is read once, at start-up)."""

from __future__ import annotations

from typing import Any

from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from honk.redaction import redactor
from honk.settings import Settings


class RedactingWebClient(AsyncWebClient):
    """Every Web API call Honk makes passes its text through the one redaction path first."""

    async def api_call(
        self,
        api_method: str,
        *,
        json: dict | None = None,
        data: Any = None,  # type: ignore[override]
        params: dict | None = None,
        **kwargs: Any,
    ) -> Any:
        clean = redactor()
        return await super().api_call(
            api_method,
            json=clean.json(json),
            data=clean.json(data) if isinstance(data, dict) else data,
            params=clean.json(params),
            **kwargs,
        )


def slack_client(settings: Settings) -> AsyncWebClient:
    assert settings.slack.bot_token is not None
    client = RedactingWebClient(
        token=settings.slack.bot_token.get_secret_value(), base_url=settings.slack.api_url or "https://slack.com/api/"
    )
    # Slack answers 429 with Retry-After: wait and retry rather than lose a message.
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=3))
    return client
