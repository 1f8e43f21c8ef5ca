"""Signed links into a task's preview: how a phone with no Honk session opens the new version.

A preview lives at its own origin, `<task>.<preview domain>`, so nothing it runs can read Honk's
cookies or call Honk's API as the person looking at it. A link carries a token signed with Honk's key
(itsdangerous, salted for this use only): the task, the links' generation (revoking every link so far
bumps it) and an expiry. The preview origin turns a good token into a cookie of its own and serves the
app; nothing else gets in.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode, urlsplit

from itsdangerous import BadSignature, URLSafeSerializer

ENTER_PATH = "/__honk/enter"
SALT = "honk-preview-link"


class PreviewLinks:
    def __init__(self, key: bytes, base_url: str, domain: str) -> None:
        self._signer = URLSafeSerializer(key, salt=SALT)
        parts = urlsplit(base_url)
        self.scheme, self.domain = parts.scheme or "http", domain
        default = {"http": 80, "https": 443}.get(self.scheme)
        self.port = f":{parts.port}" if parts.port and parts.port != default else ""

    def origin(self, task_id: str) -> str:
        """The task's preview origin, e.g. `http://t-abc.localhost:8787` (its address, not a way in)."""
        return f"{self.scheme}://{task_id.lower()}.{self.domain}{self.port}"

    def token(self, task_id: str, generation: int, ttl_s: float) -> str:
        return self._signer.dumps({"t": task_id, "g": generation, "e": int(time.time() + ttl_s)})

    def link(self, task_id: str, generation: int, ttl_s: float, path: str = "/") -> str:
        """A link that lets whoever holds it in, for `ttl_s` seconds or until the links are revoked."""
        query = {"t": self.token(task_id, generation, ttl_s)} | ({"next": path} if path != "/" else {})
        return f"{self.origin(task_id)}{ENTER_PATH}?{urlencode(query)}"

    def check(self, token: str, task_id: str, generation: int) -> tuple[float | None, str]:
        """(when it expires, "") for a good token of this task, else (None, why it is refused)."""
        try:
            claims = self._signer.loads(token)
        except BadSignature:
            return None, "This preview link is not valid (it was changed or cut short)."
        if not isinstance(claims, dict) or claims.get("t") != task_id:
            return None, "This preview link is for another task."
        if claims.get("g") != generation:
            return None, "This preview link was revoked."
        expires = claims.get("e")
        if not isinstance(expires, int) or expires <= time.time():
            return None, "This preview link has expired."
        return float(expires), ""
