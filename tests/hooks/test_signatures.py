"""Signatures: GitHub's HMAC-SHA256 over the raw body, GitLab's token; anything else is refused."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given, settings
from hypothesis import strategies as st

from honk.hooks.signatures import github_signature, github_valid, gitlab_valid

SECRET = "It's a Secret to Everybody"
BODY = b"Hello, World!"
# GitHub's documented example: this secret and payload give exactly this signature.
DOCUMENTED = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_github_signature_matches_githubs_documented_example():
    assert github_signature(SECRET, BODY) == DOCUMENTED
    assert github_valid(SECRET, BODY, DOCUMENTED)
    assert github_valid(SECRET, BODY, DOCUMENTED.upper().replace("SHA256=", "sha256="))  # hex case is not meaning


def test_github_refuses_missing_wrong_and_other_schemes():
    independent = "sha256=" + hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert github_valid(SECRET, BODY, independent)
    assert not github_valid(SECRET, BODY, None)
    assert not github_valid(SECRET, BODY, "")
    assert not github_valid(SECRET, BODY + b" ", independent), "a changed body"
    assert not github_valid("another secret", BODY, independent)
    assert not github_valid("", BODY, github_signature("", BODY)), "no secret configured: nothing is valid"
    sha1 = "sha1=" + hmac.new(SECRET.encode(), BODY, hashlib.sha1).hexdigest()
    assert not github_valid(SECRET, BODY, sha1), "the old SHA-1 header is never enough"
    assert not github_valid(SECRET, BODY, independent[:-1])
    assert not github_valid(SECRET, BODY, independent + "0" * 500)
    assert not github_valid(SECRET, BODY, "sha256=é" + independent[8:])


def test_gitlab_token_must_match_exactly():
    assert gitlab_valid("tok-123", "tok-123")
    for wrong in (None, "", "tok-12", "tok-1234", "TOK-123", " tok-123", "tok-123é"):
        assert not gitlab_valid("tok-123", wrong)
    assert not gitlab_valid("", ""), "no token configured: nothing is valid"


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.binary(max_size=200), st.text(max_size=300))
def test_no_header_is_valid_by_accident(body: bytes, header: str):
    assert github_valid(SECRET, body, header) == (header.lower() == github_signature(SECRET, body))
    assert not gitlab_valid(SECRET, header) or header == SECRET
