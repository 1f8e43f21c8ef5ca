"""Signed links to a task's preview, and the cookie such a link leaves on the preview's origin.

A link is `<preview origin>/__honk/enter?t=<token>`. The token, signed with the server's key and salted so
it is good for nothing else, names the task, the generation of its links (revoking bumps it, so every
older link stops working), when the link stops working, and how long the cookie it sets lasts. The
cookie holds a token of the same kind: each request to the preview is checked against the task it asks
for and the links' current generation. Nothing is stored per link: a link is revoked only with all the
others of its task.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from itsdangerous import BadData, URLSafeSerializer

from honk.domain import Record
from honk.settings import Settings

SALT = "honk-preview"
COOKIE = "honk_preview"
ENTER_PATH = "/__honk/enter"
MAX_TOKEN_CHARS = 1000  # ours are ~150; anything longer is not worth a signature check
MAX_VERIFIED = 4096
LINK, STAY = "link", "stay"  # what a token is for: entering (in a URL), or staying in (the cookie)


class LinkGrant(Record):
    """A valid token: who it lets in, and until when."""

    task_id: str
    generation: int
    expires: float  # seconds since the epoch
    stay_s: float  # how long the cookie set by a link lasts


class LinkRefused(Record):
    """Why a token does not let its holder in, said to the holder."""

    why: str


class PreviewLinks:
    def __init__(self, key: bytes) -> None:
        self._signer = URLSafeSerializer(key, salt=SALT)
        # What a token says, once its signature was checked: a cookie comes with every request to a preview.
        # Expiry, task and generation are still checked each time.
        self._verified: dict[tuple[str, str], LinkGrant] = {}

    def token(self, task_id: str, generation: int, ttl_s: float, stay_s: float | None = None, kind: str = LINK) -> str:
        """A token for `task_id`'s preview that works for `ttl_s`; the cookie it sets lasts `stay_s` (default:
        as long as the link)."""
        expires = int(time.time() + ttl_s)
        stay = int(stay_s if stay_s is not None else ttl_s)
        return str(self._signer.dumps({"k": kind, "t": task_id, "g": generation, "e": expires, "s": stay}))

    def stay(self, grant: LinkGrant) -> tuple[str, int]:
        """The cookie's value and max-age for someone a link let in."""
        stay_s = max(1, int(grant.stay_s))
        return self.token(grant.task_id, grant.generation, stay_s, kind=STAY), stay_s

    def check(self, token: str | None, task_id: str, generation: int, kind: str = LINK) -> LinkGrant | LinkRefused:
        """Whether `token` lets its holder into `task_id`'s preview now, its links being at `generation`."""
        if not token:
            return LinkRefused(why="You have not opened this preview yet.")
        grant = self._verified.get((token, kind)) or self._verify(token, kind)
        if grant is None:
            return LinkRefused(why="This preview link is not valid (it was changed or cut short).")
        if grant.task_id != task_id:
            return LinkRefused(why="This link is for another task's preview.")
        if grant.expires < time.time():
            return LinkRefused(why="This preview link has expired.")
        if grant.generation != generation:
            return LinkRefused(why="This preview link was revoked.")
        return grant

    def _verify(self, token: str, kind: str) -> LinkGrant | None:
        try:
            if len(token) > MAX_TOKEN_CHARS:
                raise BadData("too long")
            data = self._signer.loads(token)
            if not isinstance(data, dict) or data.get("k") != kind:
                raise BadData("not a preview token")
            grant = LinkGrant(task_id=data["t"], generation=data["g"], expires=data["e"], stay_s=data["s"])
        except (BadData, KeyError, TypeError, ValueError):
            return None
        if len(self._verified) >= MAX_VERIFIED:
            self._verified.clear()
        self._verified[(token, kind)] = grant
        return grant


def preview_origin(settings: Settings, task_id: str) -> str:
    """`scheme://<task>.<preview domain>[:port]`: the task's own origin, on the public URL's scheme and port."""
    public = urlsplit(settings.base_url)
    scheme = public.scheme or "http"
    port = public.port
    shown = f":{port}" if port and port != {"http": 80, "https": 443}.get(scheme) else ""
    return f"{scheme}://{task_id}.{settings.preview_domain}{shown}"
