"""The GitLab forge against a loopback GitLab: merge requests, merges through the API, refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from forge_helpers import BRANCH, FIXED, body, commit
from pydantic import SecretStr, ValidationError

from honk.errors import NotFound, Unauthorized
from honk.forge import ForgeConfig, make_forge, push_branch
from honk.forge.gitlab import GitLabForge
from honk.testing.fake_gitlab import FakeGitLab
from honk.testing.gitrepo import RemoteRepo, run_git

TOKEN = "glpat-test0123456789abcdef"
PROJECT = "acme/tools/widgets"


@pytest.fixture(scope="module")
def gitlab_server() -> Iterator[FakeGitLab]:
    with FakeGitLab(tokens=(TOKEN,)) as fake:
        yield fake


@pytest.fixture
def gitlab(gitlab_server: FakeGitLab, remote: RemoteRepo) -> FakeGitLab:
    gitlab_server.reset()
    gitlab_server.add_project(PROJECT, remote)
    return gitlab_server


@pytest.fixture
async def forge(gitlab: FakeGitLab) -> AsyncIterator[GitLabForge]:
    made = make_forge(ForgeConfig(kind="gitlab", api_url=gitlab.url, project=PROJECT, token=SecretStr(TOKEN)))
    assert isinstance(made, GitLabForge)
    yield made
    await made.aclose()


async def publish(forge: GitLabForge, workspace: Path) -> str:
    target = await forge.push_target()
    return await push_branch(workspace, target.url, BRANCH, target.token, username=target.username)


async def ready_merge_request(forge: GitLabForge, workspace: Path) -> tuple[int, str]:
    sha = await publish(forge, workspace)
    mr = await forge.open_or_update(BRANCH, "main", body())
    await forge.ready_for_review(mr.number)
    return mr.number, sha


async def test_opens_a_draft_merge_request_with_the_whole_description(
    gitlab: FakeGitLab, forge: GitLabForge, workspace: Path
) -> None:
    sha = await publish(forge, workspace)
    mr = await forge.open_or_update(BRANCH, "main", body())

    assert (mr.number, mr.state, mr.draft, mr.head_sha) == (1, "open", True, sha)
    assert mr.url == f"{gitlab.url}/{PROJECT}/-/merge_requests/1"
    [create] = gitlab.log.to("POST", "/merge_requests")
    assert create.path == f"/api/v4/projects/{PROJECT}/merge_requests" and create.auth == "private-token"
    assert {k: create.body[k] for k in ("source_branch", "target_branch", "title")} == {
        "source_branch": BRANCH,
        "target_branch": "main",
        "title": "Draft: Fix add() in calc",
    }
    text = gitlab.merge_request(PROJECT, 1).description
    for part in (
        "> add() is wrong, @\u200bbob saw it",
        "Fixed add(): it subtracted.",
        "| ❌ failed | `lint` |",
        "an assertion was removed",
        "The change touches no test.",
        "Agent cost: $0.42",
        "https://honk.example/tasks/t1/preview/",
        "<!-- honk-task: t1 -->",
    ):
        assert part in text
    # The branch got there over HTTP with the token as a password, never in a URL.
    pushes = [c for c in gitlab.calls if c.path.endswith("/git-receive-pack")]
    assert pushes and all(c.auth == "basic" and c.username == "oauth2" and c.credential == TOKEN for c in pushes)
    assert all(TOKEN not in c.path and TOKEN not in str(c.query) for c in gitlab.calls)


async def test_a_follow_up_updates_the_same_merge_request_and_keeps_it_a_draft(
    gitlab: FakeGitLab, forge: GitLabForge, workspace: Path
) -> None:
    await publish(forge, workspace)
    first = await forge.open_or_update(BRANCH, "main", body())
    commit(workspace, {"calc.py": "def add(a, b):\n    return b + a\n"}, "Follow-up")
    sha = await publish(forge, workspace)

    again = await forge.open_or_update(BRANCH, "main", body(summary="Also swapped the operands."))

    assert (again.number, again.head_sha, again.draft) == (first.number, sha, True)
    assert len(gitlab.projects[PROJECT].merge_requests) == 1
    mr = gitlab.merge_request(PROJECT, 1)
    assert mr.title == "Draft: Fix add() in calc" and "Also swapped the operands." in mr.description
    [update] = gitlab.log.to("PUT", "/merge_requests/1")
    assert update.body["target_branch"] == "main"


async def test_ready_for_review_drops_the_draft_prefix(gitlab: FakeGitLab, forge: GitLabForge, workspace: Path) -> None:
    await publish(forge, workspace)
    mr = await forge.open_or_update(BRANCH, "main", body())

    ready = await forge.ready_for_review(mr.number)

    assert not ready.draft and gitlab.merge_request(PROJECT, 1).title == "Fix add() in calc"
    # A follow-up after that leaves it ready.
    assert not (await forge.open_or_update(BRANCH, "main", body(summary="More."))).draft


async def test_merge_through_the_api_moves_main(
    gitlab: FakeGitLab, forge: GitLabForge, workspace: Path, remote: RemoteRepo
) -> None:
    number, sha = await ready_merge_request(forge, workspace)
    old_main = remote.head()

    outcome = await forge.merge(number, sha, "Fix add() in calc\n\nHonk-Task: t1\nApproved-by: carol")

    assert outcome.merged and outcome.sha == remote.head()
    assert run_git("--git-dir", str(remote.bare), "rev-list", "--parents", "-n1", "main").split()[1:] == [old_main, sha]
    assert remote.message() == "Fix add() in calc\n\nHonk-Task: t1\nApproved-by: carol"
    assert remote.show("calc.py") == FIXED.strip()
    [put] = gitlab.log.to("PUT", "/merge")
    assert put.query["sha"] == sha and put.status == 200
    state = await forge.state(number)
    assert (state.state, state.merge_commit) == ("merged", remote.head())
    assert (await forge.merge(number, sha, "again")).sha == remote.head()  # a retry: no second merge
    assert len(gitlab.log.to("PUT", "/merge")) == 1


async def test_squash_makes_one_commit_on_main(
    gitlab: FakeGitLab, forge: GitLabForge, workspace: Path, remote: RemoteRepo
) -> None:
    number, sha = await ready_merge_request(forge, workspace)
    old_main = remote.head()

    outcome = await forge.merge(number, sha, "Fix add()", method="squash")

    assert outcome.merged and outcome.sha == remote.head()
    assert run_git("--git-dir", str(remote.bare), "rev-list", "--parents", "-n1", "main").split()[1:] == [old_main]


async def test_merge_waits_for_the_pipeline(
    gitlab: FakeGitLab, forge: GitLabForge, workspace: Path, remote: RemoteRepo
) -> None:
    number, sha = await ready_merge_request(forge, workspace)
    gitlab.require_pipeline(PROJECT, "running")
    main = remote.head()

    running = await forge.merge(number, sha, "Fix add()")
    gitlab.set_pipeline(PROJECT, "failed")
    failed = await forge.merge(number, sha, "Fix add()")

    assert running.reason == "checks" and remote.head() == main
    assert running.refusal == (
        "GitLab refused the merge: the pipeline is still running. Merge again once it is green (ci_still_running)."
    )
    assert (
        failed.refusal == "GitLab refused the merge: the pipeline must pass first. Merge again once it is green "
        "(ci_must_pass)."
    )
    assert gitlab.log.to("PUT", "/merge")[0].status == 422
    gitlab.set_pipeline(PROJECT, "success")
    assert (await forge.merge(number, sha, "Fix add()")).merged


async def test_merge_needs_approval(gitlab: FakeGitLab, forge: GitLabForge, workspace: Path) -> None:
    number, sha = await ready_merge_request(forge, workspace)
    gitlab.require_approvals(PROJECT, 1)

    refused = await forge.merge(number, sha, "Fix add()")

    assert refused.reason == "review"
    assert refused.refusal == (
        "GitLab refused the merge: the merge request needs approval. Ask a reviewer to "
        "approve it on GitLab, then merge again (not_approved)."
    )
    gitlab.approve(PROJECT, number)
    assert (await forge.merge(number, sha, "Fix add()")).merged


async def test_merge_refuses_when_the_branch_moved(
    gitlab: FakeGitLab, forge: GitLabForge, workspace: Path, remote: RemoteRepo
) -> None:
    number, verified = await ready_merge_request(forge, workspace)
    commit(workspace, {"extra.py": "x = 1\n"}, "Another commit")
    moved = await publish(forge, workspace)

    refused = await forge.merge(number, verified, "Fix add()")

    assert refused.reason == "head_changed" and not refused.merged
    assert refused.refusal == (
        "GitLab refused the merge: the branch changed after Honk checked it (SHA does not "
        f"match HEAD of source branch: {moved}). Review the new commits, then merge again."
    )
    assert "extra.py" not in run_git("--git-dir", str(remote.bare), "ls-tree", "--name-only", "main")


async def test_merge_refuses_a_conflict(
    gitlab: FakeGitLab, forge: GitLabForge, workspace: Path, remote: RemoteRepo
) -> None:
    number, sha = await ready_merge_request(forge, workspace)
    main = remote.push_change({"calc.py": "def add(a, b):\n    return sum([a, b])\n"})

    refused = await forge.merge(number, sha, "Fix add()")

    assert refused.reason == "conflict" and remote.head() == main
    assert refused.refusal == (
        "GitLab refused the merge: the branch conflicts with main. Ask Honk to bring in the "
        "latest main, then merge again (conflict)."
    )


async def test_merge_refuses_a_draft(gitlab: FakeGitLab, forge: GitLabForge, workspace: Path) -> None:
    sha = await publish(forge, workspace)
    mr = await forge.open_or_update(BRANCH, "main", body())

    refused = await forge.merge(mr.number, sha, "Fix add()")

    assert refused.reason == "draft" and "still a draft" in (refused.refusal or "")
    assert gitlab.log.to("PUT", "/merge")[0].status == 405


async def test_a_merge_request_closed_on_gitlab_reads_closed(
    gitlab: FakeGitLab, forge: GitLabForge, workspace: Path
) -> None:
    number, sha = await ready_merge_request(forge, workspace)
    gitlab.close(PROJECT, number)

    state = await forge.state(number)
    refused = await forge.merge(number, sha, "Fix add()")

    assert state.state == "closed" and refused.reason == "closed"
    assert "was closed on GitLab" in (refused.refusal or "") and not gitlab.log.to("PUT", "/merge")


async def test_the_project_can_be_named_by_its_numeric_id(gitlab: FakeGitLab, workspace: Path) -> None:
    numeric = str(gitlab.projects[PROJECT].id)
    forge = GitLabForge(ForgeConfig(kind="gitlab", api_url=gitlab.url, project=numeric, token=SecretStr(TOKEN)))

    await publish(forge, workspace)
    mr = await forge.open_or_update(BRANCH, "main", body())

    assert (
        mr.number == 1
        and gitlab.log.to("POST", "/merge_requests")[0].path == f"/api/v4/projects/{numeric}/merge_requests"
    )


async def test_a_bad_token_and_a_missing_project_are_clear_errors(gitlab: FakeGitLab) -> None:
    wrong = GitLabForge(ForgeConfig(kind="gitlab", api_url=gitlab.url, project=PROJECT, token=SecretStr("glpat-wrong")))
    missing = GitLabForge(
        ForgeConfig(kind="gitlab", api_url=gitlab.url, project="acme/nothing", token=SecretStr(TOKEN))
    )

    with pytest.raises(Unauthorized) as raised:
        await wrong.state(1)
    with pytest.raises(NotFound, match="GitLab found nothing while reading merge request !1"):
        await missing.state(1)

    assert "glpat-wrong" not in str(raised.value) and "check the forge token" in str(raised.value)


def test_a_gitlab_config_needs_a_token() -> None:
    with pytest.raises(ValidationError, match="a GitLab forge needs a token"):
        ForgeConfig(kind="gitlab", api_url="https://gitlab.example", project="7")
