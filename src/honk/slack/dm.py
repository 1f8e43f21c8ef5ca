"""Direct messages to a person found by email (sign-in links)."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

from honk.errors import UserFacingError
from honk.settings import Settings
from honk.slack.client import slack_client


async def send_dm(settings: Settings, email: str, text: str) -> None:
    if not settings.slack_enabled:
        raise UserFacingError("Slack is not connected (set SLACK_BOT_TOKEN); print the link instead.")
    client = slack_client(settings)
    try:
        found = await client.users_lookupByEmail(email=email)
        await client.chat_postMessage(channel=str((found.get("user") or {}).get("id")), text=text)
    except SlackApiError as e:
        raise UserFacingError(f"Slack could not deliver the message to {email}: {e.response.get('error')}.") from e
