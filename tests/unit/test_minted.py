"""The egress proxy mints an App Store Connect token from the team's key (a repo secret) for the deliver
phase, which never holds the key: a real ES256 JWT that verifies with the key's public half and says what
Apple asks (issuer, key id, audience, at most 20 minutes); a secret that is not such a key is refused
with what to set, and the config that asks for it is checked."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from honk.errors import InvalidRepoConfig, UserFacingError
from honk.minted import APP_STORE_CONNECT_TTL_S, app_store_connect_jwt
from honk.network import Ceiling, phase_policy
from honk.verify.config import parse_repo_config


def _pem(key) -> str:  # noqa: ANN001
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


KEY = ec.generate_private_key(ec.SECP256R1())
SECRET = json.dumps(
    {"key_id": "ABC123DEFG", "issuer_id": "69a6de7e-0000-47e3-e053-5b8c7c11a4d1", "private_key": _pem(KEY)}
)


def test_the_token_is_an_es256_jwt_that_verifies_with_the_keys_public_half():
    token = app_store_connect_jwt(SECRET, now=1_700_000_000)
    head, body, sig = token.split(".")
    assert json.loads(_unb64(head)) == {"alg": "ES256", "kid": "ABC123DEFG", "typ": "JWT"}
    claims = json.loads(_unb64(body))
    assert claims == {
        "iss": "69a6de7e-0000-47e3-e053-5b8c7c11a4d1",
        "iat": 1_700_000_000,
        "exp": 1_700_000_000 + APP_STORE_CONNECT_TTL_S,
        "aud": "appstoreconnect-v1",
    }
    assert APP_STORE_CONNECT_TTL_S <= 20 * 60  # Apple's limit
    raw = _unb64(sig)
    assert len(raw) == 64
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    KEY.public_key().verify(der, f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(InvalidSignature):
        other.verify(der, f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize(
    ("secret", "said"),
    [
        ("-----BEGIN PRIVATE KEY-----", "is not a JSON object"),
        (json.dumps({"key_id": "A"}), "is not a JSON object"),
        (json.dumps({"key_id": "A", "issuer_id": "B", "private_key": "not a key"}), "not an unencrypted PEM"),
        (
            json.dumps({"key_id": "A", "issuer_id": "B", "private_key": _pem(rsa.generate_private_key(65537, 2048))}),
            "not an App Store Connect key",
        ),
        (
            json.dumps({"key_id": "A", "issuer_id": "B", "private_key": _pem(ec.generate_private_key(ec.SECP384R1()))}),
            "not an App Store Connect key",
        ),
    ],
)
def test_a_secret_that_is_not_an_app_store_connect_key_is_refused_saying_what_it_should_be(secret, said):
    with pytest.raises(ValueError, match=said):
        app_store_connect_jwt(secret)


TOML = """
[network]
deliver = ["api.appstoreconnect.apple.com"]
[[secrets]]
name = "ASC_KEY"
phases = ["deliver"]
hosts = ["api.appstoreconnect.apple.com", "contentdelivery.itunes.apple.com"]
header = "Authorization"
template = "Bearer {secret}"
mint = "app-store-connect"
"""


def test_the_deliver_phase_gets_a_freshly_minted_token_as_a_header_never_the_key():
    policy = phase_policy(parse_repo_config(TOML), "deliver", Ceiling(["*.apple.com"]), secrets={"ASC_KEY": SECRET})
    values = {(i.pattern, i.value) for i in policy.inject}
    assert {p for p, _ in values} == {"api.appstoreconnect.apple.com", "contentdelivery.itunes.apple.com"}
    for _, value in values:
        assert value.startswith("Bearer ey") and "PRIVATE KEY" not in value and value.count(".") == 2


def test_a_bad_key_fails_the_sandbox_that_needs_it_naming_the_secret():
    with pytest.raises(UserFacingError, match="ASC_KEY cannot mint an App Store Connect token"):
        phase_policy(parse_repo_config(TOML), "deliver", Ceiling(["*.apple.com"]), secrets={"ASC_KEY": "{}"})


def test_minting_needs_a_header():
    with pytest.raises(InvalidRepoConfig, match="mints a token for a header"):
        parse_repo_config(
            '[[secrets]]\nname = "ASC_KEY"\nphases = ["deliver"]\nenv = "X"\nmint = "app-store-connect"\n'
        )
    with pytest.raises(InvalidRepoConfig, match="app-store-connect"):
        parse_repo_config(TOML.replace('mint = "app-store-connect"', 'mint = "google"'))
