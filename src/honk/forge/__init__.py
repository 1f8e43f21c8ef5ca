"""Forges (GitHub, GitLab): pushing task branches, pull requests, and merges through their APIs."""

from __future__ import annotations

from honk.forge.base import (
    CheckLine,
    Forge,
    ForgeConfig,
    MergeOutcome,
    PullRequest,
    PullRequestBody,
    PushTarget,
)
from honk.forge.body import render_body
from honk.forge.push import push_branch

__all__ = [
    "CheckLine",
    "Forge",
    "ForgeConfig",
    "MergeOutcome",
    "PullRequest",
    "PullRequestBody",
    "PushTarget",
    "make_forge",
    "push_branch",
    "render_body",
]


def make_forge(config: ForgeConfig) -> Forge:
    """The forge a repo's config names. Imported here, not above: each client library is only loaded
    by the processes that talk to that forge."""
    if config.kind == "github":
        from honk.forge.github import GitHubForge

        return GitHubForge(config)
    from honk.forge.gitlab import GitLabForge

    return GitLabForge(config)
