"""Signed, expiring links to one delivered file of a task: its install page, the file, and (for an
`.ipa`) the `manifest.plist` iOS fetches.

iOS sends no cookies while it installs and a phone opening a link from Slack has no Honk session, so
the URL carries its own authorisation: a token signed with the server's key, salted so that no other
signed token of Honk's (a preview link, a session) is good here nor this one there. It names the task,
the file, the file's digest (a rebuild under the same name is another file: older links stop opening
it) and when it stops working. Nothing is stored per link. The same token opens the page, the file and
the manifest; the file's name in a download URL must be the token's."""

from __future__ import annotations

import time
from urllib.parse import quote

from itsdangerous import BadData, URLSafeSerializer

from honk.domain import ArtifactGrant, ArtifactLinkRefused

SALT = "honk-artifact"
MAX_TOKEN_CHARS = 1000  # ours are ~150 plus the file's name; longer is not worth a signature check
MANIFEST = "manifest.plist"
DIGEST_CHARS = 16  # of the file's SHA-256, hex: enough to tell builds apart, short in a URL


class ArtifactLinks:
    def __init__(self, key: bytes, public_url: str) -> None:
        self._signer = URLSafeSerializer(key, salt=SALT)
        self.public_url = public_url.rstrip("/")

    def token(self, task_id: str, name: str, sha256: str, ttl_s: float) -> str:
        """A token for `task_id`'s file `name` (whose SHA-256 is `sha256`) that works for `ttl_s`."""
        expires = int(time.time() + ttl_s)
        return str(self._signer.dumps({"t": task_id, "f": name, "d": sha256[:DIGEST_CHARS], "e": expires}))

    def check(
        self, token: str, name: str | None = None, sha256: str | None = None
    ) -> ArtifactGrant | ArtifactLinkRefused:
        """Whether `token` opens a file now; with `name`, that file; with `sha256`, that build of it."""
        grant = self._verify(token)
        if grant is None:
            return ArtifactLinkRefused(why="This link is not valid: it was changed or cut short.")
        if grant.expires < time.time():
            when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(grant.expires))
            return ArtifactLinkRefused(why=f"This link expired on {when}.")
        if name is not None and name != grant.name and not (name == MANIFEST and grant.name.endswith(".ipa")):
            return ArtifactLinkRefused(why="This link is for another file.")
        if sha256 is not None and (refused := self.other_build(grant, sha256)) is not None:
            return refused
        return grant

    def other_build(self, grant: ArtifactGrant, sha256: str) -> ArtifactLinkRefused | None:
        """Why `grant` does not open the file whose SHA-256 is now `sha256` (rebuilt since), or None."""
        if sha256[:DIGEST_CHARS] == grant.digest:
            return None
        return ArtifactLinkRefused(why="This link is for an earlier build of the app; a newer one replaced it.")

    def _verify(self, token: str) -> ArtifactGrant | None:
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        try:
            data = self._signer.loads(token)
            if not isinstance(data, dict):
                return None
            return ArtifactGrant(task_id=data["t"], name=data["f"], digest=data["d"], expires=data["e"])
        except (BadData, KeyError, TypeError, ValueError):
            return None

    def install_url(self, token: str) -> str:
        return f"{self.public_url}/install/{token}"

    def file_url(self, token: str, name: str) -> str:
        return f"{self.public_url}/dl/{token}/{quote(name, safe='')}"

    def manifest_url(self, token: str) -> str:
        return f"{self.public_url}/dl/{token}/{MANIFEST}"
