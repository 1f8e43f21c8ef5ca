"""Tokens the egress proxy mints from a repo secret, for tools that sign their own credentials.

A phase that runs code the agent may have changed (deliver) never holds a secret: the proxy adds it, as
a header, on the way out. Some tools do not send a secret but a token they *sign* with one. fastlane,
for example, makes an App Store Connect JWT from the team's `.p8` key. Those tools are given a placeholder
key, and the proxy puts a token it minted from the real one in place of their `Authorization` header.
The token is minted when the sandbox starts and lasts as long as Apple allows (20 minutes), which covers
one run of `[deliver] run` or `wait`. Each run starts a sandbox of its own, so each gets a fresh token.
"""

from __future__ import annotations

import base64
import json
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import load_pem_private_key

APP_STORE_CONNECT_TTL_S = 1200  # Apple refuses tokens that live longer than 20 minutes
APP_STORE_CONNECT_AUDIENCE = "appstoreconnect-v1"
ASC_FORMAT = (
    'a JSON object {"key_id": "…", "issuer_id": "…", "private_key": "-----BEGIN PRIVATE KEY-----…"} '
    "(the .p8 file's text, and the ids App Store Connect shows beside the key)"
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def app_store_connect_jwt(secret: str, now: float | None = None) -> str:
    """An App Store Connect API token (ES256 JWT) signed with the team's key. `secret` is ASC_FORMAT.
    Raises ValueError, saying what is wrong, for anything else."""
    try:
        data = json.loads(secret)
        key_id, issuer_id, pem = str(data["key_id"]), str(data["issuer_id"]), str(data["private_key"])
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"it is not {ASC_FORMAT}") from None
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ValueError("its private_key is not an unencrypted PEM private key (the .p8 file's text)") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("its private_key is not an App Store Connect key (an EC P-256 key)")
    issued = int(time.time() if now is None else now)
    header = {"alg": "ES256", "kid": key_id, "typ": "JWT"}
    claims = {
        "iss": issuer_id,
        "iat": issued,
        "exp": issued + APP_STORE_CONNECT_TTL_S,
        "aud": APP_STORE_CONNECT_AUDIENCE,
    }
    signing_input = f"{_b64(json.dumps(header, separators=(',', ':')).encode())}.{_b64(json.dumps(claims, separators=(',', ':')).encode())}"
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"
