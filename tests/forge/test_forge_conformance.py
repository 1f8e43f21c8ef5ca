"""One suite for every `Forge` (the seam in honk.protocols): a plain git remote (`LocalGitForge`), and
GitHub and GitLab (`HostedForge` over their API clients, against the loopback fakes serving real git).

The same stories run against each; where forges really differ — a plain remote has no pull request
and no rules of its own; each hosted forge words its refusals its own way — the `World` says so.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from forge_helpers import BRANCH, FIXED, body, commit
from pydantic import SecretStr

from honk.domain import Change, RepoRef, Workspace
from honk.errors import Unauthorized, UserFacingError
from honk.forge import ForgeConfig, HostedForge, LocalGitForge, make_client
from honk.protocols import Forge
from honk.testing.fake_github import FakeGitHub
from honk.testing.fake_gitlab import FakeGitLab
from honk.testing.gitrepo import RemoteRepo, run_git
from honk.workspace.git import git_identity

GH_TOKEN, GL_TOKEN = "ghp_conformance0123456789", "glpat-conformance0123456789"
GH_REPO, GL_PROJECT = "acme/widgets", "acme/tools/widgets"
MESSAGE = "Merge honk/t1: Fix add() in calc\n\nFixed add().\n\nHonk-Task: t1\nApproved-by: carol\n"


@pytest.fixture(scope="module")
def github_server() -> Iterator[FakeGitHub]:
    with FakeGitHub(tokens=(GH_TOKEN,)) as fake:
        yield fake


@pytest.fixture(scope="module")
def gitlab_server() -> Iterator[FakeGitLab]:
    with FakeGitLab(tokens=(GL_TOKEN,)) as fake:
        yield fake


@dataclass
class World:
    """One forge, the team's remote behind it, and a task's branch ready to go there."""

    kind: str
    forge: Forge
    remote: RemoteRepo
    change: Change
    github: FakeGitHub | None = None
    gitlab: FakeGitLab | None = None
    closers: list[HostedForge] = field(default_factory=list)

    @property
    def hosted(self) -> bool:
        return self.kind != "git"

    def review(self) -> tuple[str, bool, str] | None:
        """(state, draft, description) of the one review the forge holds, or None."""
        if self.github is not None:
            pulls = self.github.repos[GH_REPO].pulls
            assert len(pulls) <= 1, "one pull request per task"
            return next(((p.state, p.draft, p.body) for p in pulls.values()), None)
        if self.gitlab is not None:
            mrs = self.gitlab.projects[GL_PROJECT].merge_requests
            assert len(mrs) <= 1, "one merge request per task"
            return next(((m.state, m.draft, m.description) for m in mrs.values()), None)
        return None

    def require_checks(self) -> None:
        if self.github is not None:
            self.github.require_checks(GH_REPO, "ci")
        elif self.gitlab is not None:
            self.gitlab.require_pipeline(GL_PROJECT, "running")

    def pass_checks(self) -> None:
        if self.github is not None:
            self.github.set_check(GH_REPO, "ci", "success")
        elif self.gitlab is not None:
            self.gitlab.set_pipeline(GL_PROJECT, "success")

    def require_approval(self) -> None:
        if self.github is not None:
            self.github.require_approvals(GH_REPO, 1)
        elif self.gitlab is not None:
            self.gitlab.require_approvals(GL_PROJECT, 1)

    def approve(self, number: int) -> None:
        if self.github is not None:
            self.github.approve(GH_REPO, number)
        elif self.gitlab is not None:
            self.gitlab.approve(GL_PROJECT, number)

    def close(self, number: int) -> None:
        if self.github is not None:
            self.github.close(GH_REPO, number)
        elif self.gitlab is not None:
            self.gitlab.close(GL_PROJECT, number)

    def comments(self, number: int) -> list[str]:
        if self.github is not None:
            return self.github.comments(GH_REPO, number)
        if self.gitlab is not None:
            return self.gitlab.comments(GL_PROJECT, number)
        return []

    def archive(self) -> None:
        if self.github is not None:
            self.github.archive(GH_REPO)
        elif self.gitlab is not None:
            self.gitlab.archive(GL_PROJECT)


REFUSALS = {
    "github": {
        "checks": 'GitHub refused the merge: required checks have not passed yet (Required status check "ci" is '
        "expected.). Merge again once they are green on the pull request.",
        "review": "GitHub refused the merge: the pull request needs an approving review (At least 1 approving review",
        "conflict": "GitHub refused the merge: the branch conflicts with main (Pull Request is not mergeable). Ask "
        "Honk to bring in the latest main, then merge again.",
    },
    "gitlab": {
        "checks": "GitLab refused the merge: the pipeline is still running. Merge again once it is green "
        "(ci_still_running).",
        "review": "GitLab refused the merge: the merge request needs approval. Ask a reviewer to approve it on "
        "GitLab, then merge again (not_approved).",
        "conflict": "GitLab refused the merge: the branch conflicts with main. Ask Honk to bring in the latest "
        "main, then merge again (conflict).",
    },
}


@pytest.fixture(params=["git", "github", "gitlab"])
async def world(
    request: pytest.FixtureRequest,
    remote: RemoteRepo,
    workspace: Path,
    github_server: FakeGitHub,
    gitlab_server: FakeGitLab,
) -> AsyncIterator[World]:
    kind = request.param
    repo = RepoRef(name="widgets", url=remote.url)
    change = Change(
        task_id="t1",
        repo=repo,
        workspace=Workspace(path=workspace, branch=BRANCH, mirror=workspace / ".git"),
        target="main",
    )
    if kind == "git":
        yield World(kind, LocalGitForge(git_identity("Honk", "honk@localhost")), remote, change)
        return
    if kind == "github":
        github_server.reset()
        github_server.add_repo(GH_REPO, remote)
        config = ForgeConfig(kind="github", api_url=github_server.url, project=GH_REPO, token=SecretStr(GH_TOKEN))
        w = World(kind, HostedForge(make_client(config)), remote, change, github=github_server)
    else:
        gitlab_server.reset()
        gitlab_server.add_project(GL_PROJECT, remote)
        config = ForgeConfig(kind="gitlab", api_url=gitlab_server.url, project=GL_PROJECT, token=SecretStr(GL_TOKEN))
        w = World(kind, HostedForge(make_client(config)), remote, change, gitlab=gitlab_server)
    yield w
    assert isinstance(w.forge, HostedForge)
    await w.forge.aclose()


def head(workspace: Path) -> str:
    return run_git("rev-parse", "HEAD", cwd=workspace)


async def test_publishing_opens_one_review_and_keeps_it_up_to_date(world: World, workspace: Path) -> None:
    first = await world.forge.publish(world.change, body())
    commit(workspace, {"calc.py": "def add(a, b):\n    return b + a\n"}, "Follow-up: swap operands")
    second = await world.forge.publish(world.change, body(summary="Also swapped the operands."))

    if not world.hosted:
        assert first is None and second is None and world.review() is None  # reviewed in Honk itself
        return
    assert first is not None and second is not None
    assert first.opened and first.draft and first.number == 1
    assert not second.opened and second.number == first.number
    assert world.remote.head(BRANCH) == head(workspace), "Honk pushed the branch (never the agent)"
    state, draft, text = world.review() or ("", False, "")
    assert state in ("open", "opened") and draft
    for part in (
        "> add() is wrong, @\u200bbob saw it",
        "Also swapped the operands.",
        "| ❌ failed | `lint` |",
        "an assertion was removed",
        "The change touches no test.",
        "Agent cost: $0.42",
        "https://honk.example/tasks/t1/preview/",
        "<!-- honk-task: t1 -->",
    ):
        assert part in text, part


async def test_landing_moves_the_target_to_a_merge_of_the_verified_branch(world: World, workspace: Path) -> None:
    pr = await world.forge.publish(world.change, body())
    old_main, branch = world.remote.head(), head(workspace)

    landed = await world.forge.land(world.change, old_main, MESSAGE, pr)

    assert landed.status == "merged" and landed.commit == world.remote.head() != old_main
    parents = run_git("--git-dir", str(world.remote.bare), "rev-list", "--parents", "-n1", "main").split()[1:]
    assert parents == [old_main, branch]
    assert "Honk-Task: t1\nApproved-by: carol" in world.remote.message()
    assert world.remote.show("calc.py") == FIXED.strip()
    state = await world.forge.state(pr)
    assert (state.state, state.merge_commit) == (("merged", world.remote.head()) if world.hosted else ("none", None))


async def test_a_fast_forward_lands_the_branch_itself_with_its_approval_noted(world: World, workspace: Path) -> None:
    if world.hosted:
        pytest.skip("a hosted forge merges with its own method (the merge commit above)")
    ff = world.change.model_copy(update={"mode": "fast-forward"})
    landed = await world.forge.land(ff, world.remote.head(), MESSAGE, None)
    assert landed.status == "merged" and world.remote.head() == head(workspace) == landed.commit
    note = run_git("--git-dir", str(world.remote.bare), "notes", "--ref=honk", "show", landed.commit)
    assert "Approved-by: carol" in note


async def test_a_target_that_moved_or_conflicts_is_not_landed_over(world: World, workspace: Path) -> None:
    pr = await world.forge.publish(world.change, body())
    verified = world.remote.head()
    moved = world.remote.push_change({"calc.py": "def add(a, b):\n    return sum([a, b])\n"})

    landed = await world.forge.land(world.change, verified, MESSAGE, pr)

    assert world.remote.head() == moved, "main kept what someone else landed"
    if world.hosted:  # the forge decides: here, the branch conflicts with the new main
        assert landed.status == "refused" and landed.feedback == REFUSALS[world.kind]["conflict"]
    else:  # lands only on the target it verified against: the merge goes round again
        assert landed.status == "kept_moving"


async def test_the_forges_own_rules_refuse_as_data_until_they_are_met(world: World, workspace: Path) -> None:
    if not world.hosted:
        pytest.skip("a plain remote has no rules of its own: Honk's checks are its checks")
    pr = await world.forge.publish(world.change, body())
    assert pr is not None
    main = world.remote.head()
    world.require_checks()
    pending = await world.forge.land(world.change, main, MESSAGE, pr)
    assert pending.status == "refused" and pending.feedback == REFUSALS[world.kind]["checks"]
    world.pass_checks()
    world.require_approval()
    unapproved = await world.forge.land(world.change, main, MESSAGE, pr)
    assert unapproved.status == "refused" and unapproved.feedback.startswith(REFUSALS[world.kind]["review"])
    assert world.remote.head() == main
    world.approve(pr.number)
    assert (await world.forge.land(world.change, main, MESSAGE, pr)).status == "merged"


async def test_a_review_closed_on_the_forge_reads_closed_and_lands_nothing(world: World, workspace: Path) -> None:
    pr = await world.forge.publish(world.change, body())
    if not world.hosted:
        assert (await world.forge.state(pr)).state == "none"
        return
    assert pr is not None and (await world.forge.state(pr)).state == "open"
    world.close(pr.number)
    main = world.remote.head()
    assert (await world.forge.state(pr)).state == "closed"
    refused = await world.forge.land(world.change, main, MESSAGE, pr)
    assert refused.status == "refused" and "was closed on" in refused.feedback and world.remote.head() == main


async def test_closing_a_review_says_why_closes_it_once_and_keeps_its_branch(world: World, workspace: Path) -> None:
    why = "Closed by Honk: campaign c1 was cancelled by ana@example.com."
    pr = await world.forge.publish(world.change, body())
    closed = await world.forge.close(pr, why)
    if not world.hosted:
        assert pr is None and closed.state == "none"  # reviewed in Honk: nothing on the remote to close
        return
    assert pr is not None
    assert (closed.state, closed.number, closed.url) == ("closed", pr.number, pr.url)
    assert (await world.forge.state(pr)).state == "closed"
    state, _, _ = world.review() or ("", False, "")
    assert state == "closed"
    assert world.comments(pr.number)[-1:] == [why]
    assert world.remote.head(BRANCH) == head(workspace), "closing is not deleting: the branch stays"
    again = await world.forge.close(pr, why)
    assert again.state == "closed" and world.comments(pr.number).count(why) == 1, "a retried close says it once"
    assert (await world.forge.close(None, why)).state == "none", "no pull request yet: nothing to close"


async def test_a_merged_review_is_not_closed(world: World, workspace: Path) -> None:
    if not world.hosted:
        pytest.skip("a plain remote has no review to close")
    pr = await world.forge.publish(world.change, body())
    assert pr is not None
    assert (await world.forge.land(world.change, world.remote.head(), MESSAGE, pr)).status == "merged"
    left = await world.forge.close(pr, "Closed by Honk.")
    assert left.state == "merged" and left.merge_commit == world.remote.head()
    assert "Closed by Honk." not in world.comments(pr.number)


async def test_the_forge_says_whether_the_repo_is_archived_and_an_archived_one_takes_nothing(
    world: World, workspace: Path
) -> None:
    repo = world.change.repo
    if not world.hosted:  # nothing to ask: a read-only remote refuses the push, in its own words
        assert await world.forge.archived(repo) is None
        return
    assert await world.forge.archived(repo) is False
    world.archive()
    assert await world.forge.archived(repo) is True
    with pytest.raises(UserFacingError) as refused:
        await world.forge.publish(world.change, body())
    assert "archived" in str(refused.value)
    assert world.review() is None and world.remote.branches() == ["main"], "nothing pushed, nothing opened"


async def test_landing_before_there_is_a_review_is_refused(world: World, workspace: Path) -> None:
    if not world.hosted:
        pytest.skip("a plain remote needs no review to land")
    main = world.remote.head()
    refused = await world.forge.land(world.change, main, MESSAGE, None)
    assert refused.status == "refused" and "no pull request" in refused.feedback and world.remote.head() == main


async def test_wrong_credentials_are_a_clear_error_that_does_not_show_them(world: World, workspace: Path) -> None:
    if not world.hosted:
        pytest.skip("a plain remote is reached with the worker's own git credentials")
    wrong = "ghp_wrong0123456789" if world.kind == "github" else "glpat-wrong0123456789"
    api = world.github.url if world.github else world.gitlab.url  # type: ignore[union-attr]
    project = GH_REPO if world.kind == "github" else GL_PROJECT
    forge = HostedForge(
        make_client(
            ForgeConfig(
                kind=world.kind,
                api_url=api,
                project=project,  # type: ignore[arg-type]
                token=SecretStr(wrong),
            )
        )
    )
    try:
        with pytest.raises(Unauthorized) as raised:
            await forge.publish(world.change, body())
    finally:
        await forge.aclose()
    assert wrong not in str(raised.value)
