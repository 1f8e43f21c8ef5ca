"""The readers of a forge's answers about a deploy, on hostile input: whatever GitHub or GitLab (or a proxy
in front of them) answers, Honk gets a bounded ForgeDeployState or a ValueError the client makes a
problem of — never another exception, never a link that is not http(s)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from honk.domain import ForgeDeployState
from honk.forge import github_deploys, gitlab_deploys
from honk.forge.deploys import MAX_DETAIL_CHARS, link, one_line

SHA = "a" * 40
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
WORDS = st.sampled_from(["success", "failure", "error", "pending", "failed", "inactive", "skipped", "completed", "x"])
STATUS = st.fixed_dictionaries(
    {"id": st.integers(1, 9), "context": st.just("deploy"), "name": st.just("deploy"), "state": WORDS, "status": WORDS},
    optional={"description": st.none() | st.text(max_size=2000), "target_url": st.none() | st.text(max_size=80)},
)


def bounded(said: ForgeDeployState) -> None:
    assert len(said.detail) <= MAX_DETAIL_CHARS and said.detail.isprintable()
    assert said.url is None or said.url.startswith(("http://", "https://"))


@settings(max_examples=150, deadline=None)
@given(JSON)
def test_any_answer_reads_or_is_a_value_error(value: Any) -> None:
    for reader in (
        lambda: github_deploys.status_state(SHA, "deploy", value, value),
        lambda: github_deploys.deployment_state(SHA, value),
        lambda: github_deploys.newest_deployment(SHA, "production", value),
        lambda: gitlab_deploys.status_state(SHA, "deploy", value if isinstance(value, list) else [value]),
        lambda: gitlab_deploys.deployment_state(SHA, "production", value if isinstance(value, list) else [value]),
    ):
        try:
            said = reader()
        except ValueError:
            continue
        if isinstance(said, ForgeDeployState):
            bounded(said)


@settings(max_examples=150, deadline=None)
@given(st.lists(STATUS, max_size=5))
def test_well_formed_reports_are_bounded_and_decide_by_the_newest(statuses: list[dict[str, Any]]) -> None:
    gh = github_deploys.status_state(SHA, "deploy", {"statuses": statuses}, {"check_runs": []})
    gl = gitlab_deploys.status_state(SHA, "deploy", statuses)
    for said in (gh, gl):
        bounded(said)
        assert said.commit == SHA
    if statuses:
        newest = max(statuses, key=lambda s: s["id"])["status"]
        assert gl.status == gitlab_deploys.STATUS.get(newest, "pending")


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("https://shop.example/x", True),
        ("http://10.0.0.1:8080/", True),
        ("javascript:alert(1)", False),
        ("file:///etc/passwd", False),
        ("https://", False),
        ("https://a.example/\nSet-Cookie: x", False),
        ("https://a.example/" + "x" * 3000, False),
        ("data:text/html,<b>", False),
    ],
)
def test_only_web_links_are_kept(value: str, kept: bool) -> None:
    assert (link(value) == value) is kept


def test_one_line_redacts_and_bounds() -> None:
    text = one_line("token ghp_" + "A" * 36 + "\n" + "y" * 1000)
    assert "ghp_" + "A" * 36 not in text and len(text) <= MAX_DETAIL_CHARS and "\n" not in text
