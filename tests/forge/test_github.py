"""The GitHub forge against a loopback GitHub: pull requests, merges through the API, App auth."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from forge_helpers import BRANCH, FIXED, body, commit
from pydantic import SecretStr, ValidationError

from honk.errors import Unauthorized, UserFacingError
from honk.forge import ForgeConfig, make_forge, push_branch
from honk.forge.github import GitHubForge
from honk.testing.fake_github import FakeGitHub
from honk.testing.forge_http import ForgeCall
from honk.testing.gitrepo import RemoteRepo, run_git

TOKEN = "ghp_test0123456789abcdef"
REPO = "acme/widgets"


@pytest.fixture(scope="module")
def github_server() -> Iterator[FakeGitHub]:
    with FakeGitHub(tokens=(TOKEN,)) as fake:
        yield fake


@pytest.fixture
def github(github_server: FakeGitHub, remote: RemoteRepo) -> FakeGitHub:
    github_server.reset()
    github_server.add_repo(REPO, remote)
    return github_server


@pytest.fixture
async def forge(github: FakeGitHub) -> AsyncIterator[GitHubForge]:
    config = ForgeConfig(kind="github", api_url=github.url, project=REPO, token=SecretStr(TOKEN))
    made = make_forge(config)
    assert isinstance(made, GitHubForge)
    yield made
    await made.aclose()


async def publish(forge: GitHubForge, workspace: Path) -> str:
    """What the infrastructure does after each round: push the branch."""
    target = await forge.push_target()
    return await push_branch(workspace, target.url, BRANCH, target.token, username=target.username)


def assert_no_secret_in_urls(calls: list[ForgeCall], *secrets: str) -> None:
    for call in calls:
        for secret in secrets:
            assert secret not in call.path and all(secret not in v for v in call.query.values()), call


async def test_opens_a_draft_pull_request_whose_description_tells_the_whole_story(
    github: FakeGitHub, forge: GitHubForge, workspace: Path
) -> None:
    sha = await publish(forge, workspace)
    pr = await forge.open_or_update(BRANCH, "main", body())

    assert (pr.number, pr.state, pr.draft, pr.head_sha) == (1, "open", True, sha)
    assert pr.url == f"{github.url}/{REPO}/pull/1"
    [create] = github.log.to("POST", "/pulls")
    assert create.auth == "token" and create.status == 201
    assert {k: create.body[k] for k in ("title", "head", "base", "draft")} == {
        "title": "Fix add() in calc",
        "head": BRANCH,
        "base": "main",
        "draft": True,
    }
    text = github.pull(REPO, 1).body
    for part in (
        "**Requested by** alice@\u200bexample.com",
        "> add() is wrong, @\u200bbob saw it\n> please fix",
        "## Summary\n\nFixed add(): it subtracted.",
        "| ✅ passed | `unit tests` | 12 passed |",
        "| ❌ failed | `lint` | calc.py:2 E501 \\| line too long |",
        "## Test guard\n\n- tests/test_calc.py: an assertion was removed",
        "## Warnings\n\n- The change touches no test.",
        "Agent cost: $0.42",
        "- Task: https://honk.example/tasks/t1",
        "- Preview: https://honk.example/tasks/t1/preview/",
        "<!-- honk-task: t1 -->",
    ):
        assert part in text


async def test_a_follow_up_updates_the_same_pull_request(
    github: FakeGitHub, forge: GitHubForge, workspace: Path
) -> None:
    await publish(forge, workspace)
    first = await forge.open_or_update(BRANCH, "main", body())
    commit(workspace, {"calc.py": "def add(a, b):\n    return b + a\n"}, "Follow-up: swap operands")
    second_sha = await publish(forge, workspace)

    again = await forge.open_or_update(BRANCH, "main", body(summary="Also swapped the operands."))

    assert again.number == first.number and again.head_sha == second_sha and again.draft
    assert len(github.repos[REPO].pulls) == 1
    assert "Also swapped the operands." in github.pull(REPO, 1).body
    [update] = github.log.to("PATCH", "/pulls/1")
    assert update.body["title"] == "Fix add() in calc" and "Also swapped" in update.body["body"]


async def test_ready_for_review_takes_it_out_of_draft_through_graphql(
    github: FakeGitHub, forge: GitHubForge, workspace: Path
) -> None:
    await publish(forge, workspace)
    pr = await forge.open_or_update(BRANCH, "main", body())

    ready = await forge.ready_for_review(pr.number)

    assert not ready.draft and not github.pull(REPO, 1).draft
    [mutation] = github.log.to("POST", "/graphql")
    assert "markPullRequestReadyForReview" in mutation.body["query"]
    assert mutation.body["variables"] == {"id": github.pull(REPO, 1).node_id}
    await forge.ready_for_review(pr.number)  # already ready: nothing more to do
    assert len(github.log.to("POST", "/graphql")) == 1


async def ready_pull(forge: GitHubForge, workspace: Path) -> tuple[int, str]:
    sha = await publish(forge, workspace)
    pr = await forge.open_or_update(BRANCH, "main", body())
    await forge.ready_for_review(pr.number)
    return pr.number, sha


async def test_merge_through_the_api_moves_main_to_a_merge_of_the_verified_commit(
    github: FakeGitHub, forge: GitHubForge, workspace: Path, remote: RemoteRepo
) -> None:
    number, sha = await ready_pull(forge, workspace)
    old_main = remote.head()

    outcome = await forge.merge(number, sha, "Fix add() in calc\n\nHonk-Task: t1\nApproved-by: carol")

    assert outcome.merged and outcome.refusal is None and outcome.sha == remote.head()
    assert run_git("--git-dir", str(remote.bare), "rev-list", "--parents", "-n1", "main").split()[1:] == [old_main, sha]
    assert remote.message() == "Fix add() in calc\n\nHonk-Task: t1\nApproved-by: carol"
    assert remote.show("calc.py") == FIXED.strip()  # run_git strips the newline
    [put] = github.log.to("PUT", "/merge")
    assert put.body == {
        "sha": sha,
        "commit_title": "Fix add() in calc",
        "commit_message": "Honk-Task: t1\nApproved-by: carol",
        "merge_method": "merge",
    }
    state = await forge.state(number)
    assert (state.state, state.merge_commit) == ("merged", remote.head())
    # A retried merge (its answer lost) finds the work done and does not merge again.
    assert (await forge.merge(number, sha, "Fix add() in calc")).sha == remote.head()
    assert len(github.log.to("PUT", "/merge")) == 1
    assert_no_secret_in_urls(github.calls, TOKEN)


async def test_merge_waits_for_required_checks(
    github: FakeGitHub, forge: GitHubForge, workspace: Path, remote: RemoteRepo
) -> None:
    number, sha = await ready_pull(forge, workspace)
    github.require_checks(REPO, "ci/build")
    main = remote.head()

    pending = await forge.merge(number, sha, "Fix add()")
    github.set_check(REPO, "ci/build", "failure")
    failing = await forge.merge(number, sha, "Fix add()")

    assert not pending.merged and pending.reason == "checks" and remote.head() == main
    assert pending.refusal == (
        "GitHub refused the merge: required checks have not passed yet (Required status "
        'check "ci/build" is expected.). Merge again once they are green on the pull request.'
    )
    assert failing.reason == "checks" and "is failing" in (failing.refusal or "")
    github.set_check(REPO, "ci/build", "success")
    assert (await forge.merge(number, sha, "Fix add()")).merged


async def test_merge_needs_an_approving_review_when_the_branch_requires_one(
    github: FakeGitHub, forge: GitHubForge, workspace: Path, remote: RemoteRepo
) -> None:
    number, sha = await ready_pull(forge, workspace)
    github.require_approvals(REPO, 1)

    refused = await forge.merge(number, sha, "Fix add()")

    assert refused.reason == "review" and not refused.merged
    assert refused.refusal is not None and refused.refusal.startswith(
        "GitHub refused the merge: the pull request needs an approving review (At least 1 approving review"
    )
    assert "Ask a reviewer to approve it on GitHub" in refused.refusal
    github.approve(REPO, number)
    assert (await forge.merge(number, sha, "Fix add()")).sha == remote.head()


async def test_merge_refuses_when_the_branch_moved_after_verification(
    github: FakeGitHub, forge: GitHubForge, workspace: Path, remote: RemoteRepo
) -> None:
    number, verified = await ready_pull(forge, workspace)
    commit(workspace, {"extra.py": "x = 1\n"}, "Someone else's commit")
    await publish(forge, workspace)
    main = remote.head()

    refused = await forge.merge(number, verified, "Fix add()")

    assert refused.reason == "head_changed" and remote.head() == main
    assert refused.refusal == (
        "GitHub refused the merge: the branch changed after Honk checked it (Head branch was "
        "modified. Review and try the merge again.). Review the new commits, then merge again."
    )
    assert github.log.to("PUT", "/merge")[0].status == 409


async def test_merge_refuses_a_branch_that_conflicts_with_main(
    github: FakeGitHub, forge: GitHubForge, workspace: Path, remote: RemoteRepo
) -> None:
    number, sha = await ready_pull(forge, workspace)
    main = remote.push_change({"calc.py": "def add(a, b):\n    return sum([a, b])\n"})

    refused = await forge.merge(number, sha, "Fix add()")

    assert refused.reason == "conflict" and remote.head() == main
    assert refused.refusal == (
        "GitHub refused the merge: the branch conflicts with main (Pull Request is not "
        "mergeable). Ask Honk to bring in the latest main, then merge again."
    )


async def test_merge_refuses_a_draft(github: FakeGitHub, forge: GitHubForge, workspace: Path) -> None:
    sha = await publish(forge, workspace)
    pr = await forge.open_or_update(BRANCH, "main", body())

    refused = await forge.merge(pr.number, sha, "Fix add()")

    assert refused.reason == "draft" and "Mark it ready for review" in (refused.refusal or "")


async def test_a_pull_request_closed_on_github_reads_closed_and_is_not_merged(
    github: FakeGitHub, forge: GitHubForge, workspace: Path, remote: RemoteRepo
) -> None:
    number, sha = await ready_pull(forge, workspace)
    github.close(REPO, number)

    state = await forge.state(number)
    refused = await forge.merge(number, sha, "Fix add()")

    assert state.state == "closed" and state.merge_commit is None
    assert refused.reason == "closed" and "was closed on GitHub" in (refused.refusal or "")
    assert not github.log.to("PUT", "/merge")
    # The task branch is no longer "open": a new open_or_update would open a fresh pull request.
    assert (await forge.open_or_update(BRANCH, "main", body())).number != number


def app_key() -> tuple[str, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    return private, key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


async def test_a_github_app_signs_in_with_an_rs256_jwt_and_works_with_installation_tokens(
    github: FakeGitHub, workspace: Path, remote: RemoteRepo
) -> None:
    private, public = app_key()
    github.add_app(4242, public, installation_id=77)
    forge = GitHubForge(
        ForgeConfig(
            kind="github",
            api_url=github.url,
            project=REPO,
            app_id=4242,
            private_key=SecretStr(private),
            installation_id=77,
        )
    )

    target = await forge.push_target()
    sha = await push_branch(workspace, target.url, BRANCH, target.token, username=target.username)
    pr = await forge.open_or_update(BRANCH, "main", body())
    await forge.ready_for_review(pr.number)
    outcome = await forge.merge(pr.number, sha, "Fix add()")

    assert outcome.merged and remote.head() == outcome.sha
    assert target.username == "x-access-token" and target.token is not None
    assert target.token.get_secret_value() in github.minted
    minting = github.log.to("POST", "/app/installations/77/access_tokens")
    assert minting and all(c.auth == "jwt" and c.status == 201 for c in minting)
    api = [c for c in github.calls if c.path.startswith(("/repos/", "/graphql"))]
    assert api and all(c.auth == "token" and c.credential in github.minted for c in api)
    git = [c for c in github.calls if ".git/" in c.path and c.auth == "basic"]
    assert git and all(c.credential == target.token.get_secret_value() for c in git)
    assert_no_secret_in_urls(github.calls, target.token.get_secret_value(), *github.minted)


async def test_a_jwt_signed_with_another_key_is_refused_clearly(github: FakeGitHub) -> None:
    _, public = app_key()
    wrong, _ = app_key()
    github.add_app(4242, public, installation_id=77)
    forge = GitHubForge(
        ForgeConfig(
            kind="github",
            api_url=github.url,
            project=REPO,
            app_id=4242,
            private_key=SecretStr(wrong),
            installation_id=77,
        )
    )

    with pytest.raises(Unauthorized, match="GitHub rejected Honk's credentials while reading pull request #1"):
        await forge.state(1)


async def test_a_bad_token_is_a_clear_error_that_does_not_show_the_token(github: FakeGitHub) -> None:
    forge = GitHubForge(ForgeConfig(kind="github", api_url=github.url, project=REPO, token=SecretStr("ghp_wrong")))

    with pytest.raises(Unauthorized) as raised:
        await forge.open_or_update(BRANCH, "main", body())

    assert "Bad credentials" in str(raised.value) and "ghp_wrong" not in str(raised.value)


def test_a_config_without_credentials_or_with_a_bad_project_is_refused() -> None:
    with pytest.raises(ValidationError, match="needs a token, or app_id"):
        ForgeConfig(kind="github", api_url="https://api.github.com", project="acme/widgets")
    with pytest.raises(ValidationError, match="'owner/name'"):
        ForgeConfig(kind="github", api_url="https://api.github.com", project="widgets", token=SecretStr("t"))
    assert "ghp_secret" not in repr(
        ForgeConfig(kind="github", api_url="u", project="a/b", token=SecretStr("ghp_secret"))
    )


async def test_an_unusable_app_key_is_a_clear_error(github: FakeGitHub) -> None:
    forge = GitHubForge(
        ForgeConfig(
            kind="github",
            api_url=github.url,
            project=REPO,
            app_id=4242,
            private_key=SecretStr("not a key"),
            installation_id=77,
        )
    )

    with pytest.raises(UserFacingError, match="check the GitHub App's id and private key"):
        await forge.state(1)
