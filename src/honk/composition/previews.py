"""What the server and the workers share about previews: how links are signed, and where they point."""

from __future__ import annotations

import hashlib
import hmac

from honk.accounts import secret_key
from honk.preview.links import PreviewLinks
from honk.settings import Settings


def preview_links(settings: Settings) -> PreviewLinks:
    """Signed with HONK_PREVIEW_LINK_KEY, else a key derived from the data dir's secret.key (its own use:
    a preview link never verifies as a session, nor the reverse)."""
    if settings.previews.link_key is not None:
        key = settings.previews.link_key.get_secret_value().encode()
    else:
        key = hmac.new(secret_key(settings.secret_key_file), b"honk preview links", hashlib.sha256).digest()
    return PreviewLinks(key, settings.base_url, settings.preview_domain)
