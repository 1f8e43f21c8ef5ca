"""Forges: where a task's branch is reviewed and how it lands — Honk's own push to a plain git remote
(`LocalGitForge`), or a pull request on GitHub / GitLab through their APIs (`HostedForge`)."""

from __future__ import annotations

from honk.forge.base import ForgeClient, ForgeConfig, MergeOutcome, PullRequest, PushTarget
from honk.forge.body import render_body
from honk.forge.hosted import HostedForge
from honk.forge.local import LocalGitForge
from honk.forge.push import push_branch

__all__ = [
    "ForgeClient",
    "ForgeConfig",
    "HostedForge",
    "LocalGitForge",
    "MergeOutcome",
    "PullRequest",
    "PushTarget",
    "make_client",
    "push_branch",
    "render_body",
]


def make_client(config: ForgeConfig) -> ForgeClient:
    """The API client of the forge a repo's config names. Imported here, not above: each client library
    is only loaded by the processes that talk to that forge."""
    if config.kind == "github":
        from honk.forge.github import GitHubClient

        return GitHubClient(config)
    from honk.forge.gitlab import GitLabClient

    return GitLabClient(config)
