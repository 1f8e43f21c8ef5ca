"""What the server and the workers share about previews and installs: how links are signed, and where they point."""

from __future__ import annotations

from honk.accounts import preview_link_key
from honk.deliver.links import ArtifactLinks
from honk.preview_links import ENTER_PATH, PreviewLinks, preview_origin
from honk.settings import Settings
from honk.store import PreviewRegistry


def preview_links(settings: Settings) -> PreviewLinks:
    configured = settings.previews.link_key
    return PreviewLinks(
        preview_link_key(configured.get_secret_value() if configured else None, settings.secret_key_file)
    )


def artifact_links(settings: Settings) -> ArtifactLinks:
    """Install links to a task's app: signed with the preview links' key (salted apart), so workers that
    share no data dir with the server sign links it accepts; they point at Honk's public URL."""
    configured = settings.previews.link_key
    key = preview_link_key(configured.get_secret_value() if configured else None, settings.secret_key_file)
    return ArtifactLinks(key, settings.base_url)


def link_maker(settings: Settings, registry: PreviewRegistry):  # noqa: ANN201 - an async callable
    """Signed links to a task's preview for messages a worker posts (Slack's ready message): valid for
    HONK_PREVIEW_LINK_DAYS, until the task's links are revoked."""
    links, ttl = preview_links(settings), settings.previews.link_days * 86_400

    async def link(task_id: str) -> str:
        info = await registry.get(task_id)
        token = links.token(task_id, info.link_generation if info else 0, ttl)
        return f"{preview_origin(settings, task_id)}{ENTER_PATH}?t={token}"

    return link
