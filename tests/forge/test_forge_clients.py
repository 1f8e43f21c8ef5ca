"""What is particular to each forge's API client, beside the stories every forge passes alike
(test_forge_conformance.py): how it signs in (a GitHub App's JWT, tokens, configs refused early), how
it names a project, and the refusals only a client sees (a draft, a branch that moved after Honk
checked it)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from forge_helpers import BRANCH, body, commit
from pydantic import SecretStr, ValidationError

from honk.errors import NotFound, Unauthorized, UserFacingError
from honk.forge import ForgeConfig, make_client, push_branch
from honk.forge.github import GitHubClient
from honk.forge.gitlab import GitLabClient
from honk.testing.fake_github import FakeGitHub
from honk.testing.fake_gitlab import FakeGitLab
from honk.testing.forge_http import ForgeCall
from honk.testing.gitrepo import RemoteRepo, run_git

TOKEN = "ghp_test0123456789abcdef"
REPO = "acme/widgets"
GL_TOKEN = "glpat-test0123456789abcdef"
PROJECT = "acme/tools/widgets"


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
async def forge(github: FakeGitHub) -> AsyncIterator[GitHubClient]:
    made = make_client(ForgeConfig(kind="github", api_url=github.url, project=REPO, token=SecretStr(TOKEN)))
    assert isinstance(made, GitHubClient)
    yield made
    await made.aclose()


@pytest.fixture(scope="module")
def gitlab_server() -> Iterator[FakeGitLab]:
    with FakeGitLab(tokens=(GL_TOKEN,)) as fake:
        yield fake


@pytest.fixture
def gitlab(gitlab_server: FakeGitLab, remote: RemoteRepo) -> FakeGitLab:
    gitlab_server.reset()
    gitlab_server.add_project(PROJECT, remote)
    return gitlab_server


@pytest.fixture
async def gl_forge(gitlab: FakeGitLab) -> AsyncIterator[GitLabClient]:
    made = make_client(ForgeConfig(kind="gitlab", api_url=gitlab.url, project=PROJECT, token=SecretStr(GL_TOKEN)))
    assert isinstance(made, GitLabClient)
    yield made
    await made.aclose()


async def publish(forge: GitHubClient | GitLabClient, workspace: Path) -> str:
    target = await forge.push_target()
    return await push_branch(workspace, target.url, BRANCH, target.token, username=target.username)


def assert_no_secret_in_urls(calls: list[ForgeCall], *secrets: str) -> None:
    for call in calls:
        for secret in secrets:
            assert secret not in call.path and all(secret not in v for v in call.query.values()), call


# -- GitHub ----------------------------------------------------------------------------------------
async def test_ready_for_review_takes_it_out_of_draft_through_graphql(
    github: FakeGitHub, forge: GitHubClient, workspace: Path
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


async def ready_pull(forge: GitHubClient, workspace: Path) -> tuple[int, str]:
    sha = await publish(forge, workspace)
    pr = await forge.open_or_update(BRANCH, "main", body())
    await forge.ready_for_review(pr.number)
    return pr.number, sha


async def test_merge_refuses_when_the_branch_moved_after_verification(
    github: FakeGitHub, forge: GitHubClient, workspace: Path, remote: RemoteRepo
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


async def test_merge_refuses_a_draft(github: FakeGitHub, forge: GitHubClient, workspace: Path) -> None:
    sha = await publish(forge, workspace)
    pr = await forge.open_or_update(BRANCH, "main", body())

    refused = await forge.merge(pr.number, sha, "Fix add()")

    assert refused.reason == "draft" and "Mark it ready for review" in (refused.refusal or "")


def app_key() -> tuple[str, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    return private, key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


async def test_a_github_app_signs_in_with_an_rs256_jwt_and_works_with_installation_tokens(
    github: FakeGitHub, workspace: Path, remote: RemoteRepo
) -> None:
    private, public = app_key()
    github.add_app(4242, public, installation_id=77)
    forge = GitHubClient(
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
    forge = GitHubClient(
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
    forge = GitHubClient(ForgeConfig(kind="github", api_url=github.url, project=REPO, token=SecretStr("ghp_wrong")))

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
    forge = GitHubClient(
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


# -- GitLab ----------------------------------------------------------------------------------------
async def ready_merge_request(forge: GitLabClient, workspace: Path) -> tuple[int, str]:
    sha = await publish(forge, workspace)
    mr = await forge.open_or_update(BRANCH, "main", body())
    await forge.ready_for_review(mr.number)
    return mr.number, sha


async def test_squash_makes_one_commit_on_main(
    gitlab: FakeGitLab, gl_forge: GitLabClient, workspace: Path, remote: RemoteRepo
) -> None:
    number, sha = await ready_merge_request(gl_forge, workspace)
    old_main = remote.head()

    outcome = await gl_forge.merge(number, sha, "Fix add()", method="squash")

    assert outcome.merged and outcome.sha == remote.head()
    assert run_git("--git-dir", str(remote.bare), "rev-list", "--parents", "-n1", "main").split()[1:] == [old_main]


async def test_merge_refuses_when_the_branch_moved(
    gitlab: FakeGitLab, gl_forge: GitLabClient, workspace: Path, remote: RemoteRepo
) -> None:
    number, verified = await ready_merge_request(gl_forge, workspace)
    commit(workspace, {"extra.py": "x = 1\n"}, "Another commit")
    moved = await publish(gl_forge, workspace)

    refused = await gl_forge.merge(number, verified, "Fix add()")

    assert refused.reason == "head_changed" and not refused.merged
    assert refused.refusal == (
        "GitLab refused the merge: the branch changed after Honk checked it (SHA does not "
        f"match HEAD of source branch: {moved}). Review the new commits, then merge again."
    )
    assert "extra.py" not in run_git("--git-dir", str(remote.bare), "ls-tree", "--name-only", "main")


async def test_a_merge_request_draft_is_refused(gitlab: FakeGitLab, gl_forge: GitLabClient, workspace: Path) -> None:
    sha = await publish(gl_forge, workspace)
    mr = await gl_forge.open_or_update(BRANCH, "main", body())

    refused = await gl_forge.merge(mr.number, sha, "Fix add()")

    assert refused.reason == "draft" and "still a draft" in (refused.refusal or "")
    assert gitlab.log.to("PUT", "/merge")[0].status == 405


async def test_the_project_can_be_named_by_its_numeric_id(gitlab: FakeGitLab, workspace: Path) -> None:
    numeric = str(gitlab.projects[PROJECT].id)
    forge = GitLabClient(ForgeConfig(kind="gitlab", api_url=gitlab.url, project=numeric, token=SecretStr(GL_TOKEN)))

    await publish(forge, workspace)
    mr = await forge.open_or_update(BRANCH, "main", body())

    assert (
        mr.number == 1
        and gitlab.log.to("POST", "/merge_requests")[0].path == f"/api/v4/projects/{numeric}/merge_requests"
    )


async def test_a_bad_token_and_a_missing_project_are_clear_errors(gitlab: FakeGitLab) -> None:
    wrong = GitLabClient(
        ForgeConfig(kind="gitlab", api_url=gitlab.url, project=PROJECT, token=SecretStr("glpat-wrong"))
    )
    missing = GitLabClient(
        ForgeConfig(kind="gitlab", api_url=gitlab.url, project="acme/nothing", token=SecretStr(GL_TOKEN))
    )

    with pytest.raises(Unauthorized) as raised:
        await wrong.state(1)
    with pytest.raises(NotFound, match="GitLab found nothing while reading merge request !1"):
        await missing.state(1)

    assert "glpat-wrong" not in str(raised.value) and "check the forge token" in str(raised.value)


def test_a_gitlab_config_needs_a_token() -> None:
    with pytest.raises(ValidationError, match="a GitLab forge needs a token"):
        ForgeConfig(kind="gitlab", api_url="https://gitlab.example", project="7")
