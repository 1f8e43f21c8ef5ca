"""Is a delivery from the forge? Pure: the raw body, the header, the configured secret in; yes or no out.

GitHub signs the raw body: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 with the webhook's secret>`.
GitLab sends the webhook's secret token itself in `X-Gitlab-Token`. Both are compared in constant time
(`hmac.compare_digest`), so how long a refusal takes says nothing about how close a guess was. The older
`X-Hub-Signature` (SHA-1) is never accepted.
"""

from __future__ import annotations

import hashlib
import hmac

GITHUB_PREFIX = "sha256="
MAX_HEADER = 200  # "sha256=" and 64 hex digits; a GitLab token is whatever its admin typed, within reason


def github_signature(secret: str, body: bytes) -> str:
    """The header value GitHub sends for `body` (what the fakes sign with, and what is checked)."""
    return GITHUB_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_valid(secret: str, body: bytes, header: str | None) -> bool:
    if not secret or not header or len(header) > MAX_HEADER or not header.startswith(GITHUB_PREFIX):
        return False
    given = header[len(GITHUB_PREFIX) :].lower()
    return hmac.compare_digest(
        given.encode("ascii", "replace"), github_signature(secret, body)[len(GITHUB_PREFIX) :].encode()
    )


def gitlab_valid(token: str, header: str | None) -> bool:
    if not token or not header or len(header) > MAX_HEADER:
        return False
    return hmac.compare_digest(header.encode("utf-8", "replace"), token.encode())
