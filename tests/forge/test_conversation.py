"""One suite for `HostedConversation` (the `ForgeConversation` seam in honk.protocols): GitHub and GitLab
through their API clients against the loopback fakes, and a plain git remote, which has nobody to talk
to (reads answer empty, posts None).

The same stories run against each; where the forges really differ (GitHub folds every line comment of
a refused review into its body, GitLab only the one it could not place) the `World` says so.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from forge_helpers import BRANCH, body
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from honk.demo.loopback import LoopbackServer
from honk.domain import (
    MAX_FORGE_TEXT,
    MAX_JOB_LOG,
    MAX_THREAD_COMMENTS,
    Change,
    ForgeRef,
    LineComment,
    RepoRef,
    Workspace,
)
from honk.errors import NotFound, Unauthorized, UserFacingError
from honk.forge.conversation import HostedConversation
from honk.forge.registry import Forges
from honk.settings import ForgeSettings, WorkspaceSettings
from honk.testing.fake_github import FakeGitHub
from honk.testing.fake_gitlab import FakeGitLab
from honk.testing.gitrepo import RemoteRepo, run_git

GH_TOKEN, GL_TOKEN = "ghp_conversation0123456789", "glpat-conversation0123456789"
GH_REPO, GL_PROJECT = "acme/widgets", "acme/tools/widgets"
SECRET = "ghp_" + "x" * 36  # a token shape the one redaction path masks


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
    """One forge, the conversation over it, and knobs that set the forge's state as people and CI would."""

    kind: str
    conversation: HostedConversation
    forges: Forges
    repo: RepoRef
    remote: RemoteRepo
    change: Change
    github: FakeGitHub | None = None
    gitlab: FakeGitLab | None = None

    @property
    def hosted(self) -> bool:
        return self.kind != "git"

    async def open_pull(self) -> int:
        forge = self.forges.of(self.repo)
        published = await forge.publish(self.change, body())
        assert published is not None or not self.hosted, "a hosted forge publishes a pull request"
        return published.number if published is not None else 1  # a plain remote has none to number

    def open_issue(self, title: str, text: str = "", by: str = "ada") -> int:
        if self.github is not None:
            return self.github.open_issue(GH_REPO, title, text, by=by)
        if self.gitlab is not None:
            return self.gitlab.open_issue(GL_PROJECT, title, text, by=by)
        return 1

    def say(self, number: int, text: str, by: str = "ada", pull: bool = False) -> None:
        if self.github is not None:
            self.github.comment(GH_REPO, number, text, by=by)
        elif self.gitlab is not None:
            self.gitlab.note(GL_PROJECT, "merge_request" if pull else "issue", number, text, by=by)

    def review_lines(self, number: int, lines: tuple[tuple[str, int, str], ...], by: str = "ada") -> list[int]:
        """A reviewer's line comments; their ids."""
        if self.github is not None:
            review = self.github.review(GH_REPO, number, "see inline", "changes_requested", lines, by=by)
            return [c["id"] for c in review["comments"]]
        if self.gitlab is not None:
            return [n["id"] for n in self.gitlab.review(GL_PROJECT, number, lines, by=by)]
        return []

    def posted(self, number: int, pull: bool = False) -> list[str]:
        if self.github is not None:
            return self.github.comments(GH_REPO, number)
        if self.gitlab is not None:
            return self.gitlab.comments(GL_PROJECT, number, "merge_request" if pull else "issue")
        return []

    def replies(self, number: int, comment_id: int) -> list[str]:
        if self.github is not None:
            return self.github.replies(GH_REPO, number, comment_id)
        if self.gitlab is not None:
            return self.gitlab.replies(GL_PROJECT, number, comment_id)
        return []

    def resolved(self, number: int) -> set[int]:
        if self.github is not None:
            return self.github.resolved(GH_REPO)
        if self.gitlab is not None:
            return self.gitlab.resolved(GL_PROJECT, number)
        return set()

    def grant(self, login: str, write: bool) -> None:
        if self.github is not None:
            self.github.set_permission(GH_REPO, login, "write" if write else "read")
        elif self.gitlab is not None:
            self.gitlab.set_permission(GL_PROJECT, login, 30 if write else 20)

    def job(self, sha: str, name: str, passed: bool, log: str = "", run_id: int | None = None) -> int | None:
        """A CI job ended on `sha` (in run `run_id`, else a new one); the id of its run (workflow run, pipeline)."""
        if self.github is not None:
            run = self.github.set_job(GH_REPO, sha, name, "success" if passed else "failure", log, run_id)
            return int(run["details_url"].split("/runs/")[1].split("/")[0])
        if self.gitlab is not None:
            job = self.gitlab.set_job(GL_PROJECT, sha, name, "success" if passed else "failed", log, run_id)
            return job["pipeline"]["id"]
        return None


@pytest.fixture(params=["git", "github", "gitlab"])
async def world(
    request: pytest.FixtureRequest,
    remote: RemoteRepo,
    workspace: Path,
    github_server: FakeGitHub,
    gitlab_server: FakeGitLab,
) -> AsyncIterator[World]:
    kind = request.param
    forge: ForgeRef | None = None
    if kind == "github":
        github_server.reset()
        github_server.add_repo(GH_REPO, remote)
        forge = ForgeRef(kind="github", project=GH_REPO, api_url=github_server.url)
    elif kind == "gitlab":
        gitlab_server.reset()
        gitlab_server.add_project(GL_PROJECT, remote)
        forge = ForgeRef(kind="gitlab", project=GL_PROJECT, api_url=gitlab_server.url)
    repo = RepoRef(name="widgets", url=remote.url, forge=forge)
    forges = Forges(ForgeSettings(github_token=GH_TOKEN, gitlab_token=GL_TOKEN), WorkspaceSettings())
    change = Change(
        task_id="t1",
        repo=repo,
        workspace=Workspace(path=workspace, branch=BRANCH, mirror=workspace / ".git"),
        target="main",
    )
    yield World(
        kind,
        HostedConversation(forges),
        forges,
        repo,
        remote,
        change,
        github=github_server if kind == "github" else None,
        gitlab=gitlab_server if kind == "gitlab" else None,
    )
    await forges.close()


async def test_an_issue_reads_as_its_newest_comments_bounded_with_bots_marked(world: World) -> None:
    number = world.open_issue("add() subtracts", "calc.add(2, 2) == 0", by="ada")
    for i in range(MAX_THREAD_COMMENTS + 4):
        world.say(number, f"comment {i}", by="bob")
    world.say(number, "x" * 100_000, by="bob")  # 100 kB: arrives cut, never an error
    world.say(number, "On it.", by="honk[bot]" if world.kind == "github" else "honk-bot")

    seen = await world.conversation.discussion(world.repo, number)

    if not world.hosted:
        assert seen.comments == [] and seen.title == ""
        return
    assert (seen.number, seen.pull_request, seen.title, seen.body, seen.author) == (
        number,
        False,
        "add() subtracts",
        "calc.add(2, 2) == 0",
        "ada",
    )
    assert seen.state == "open" and seen.url.startswith("http")
    texts = [c.text for c in seen.comments]
    assert len(texts) == MAX_THREAD_COMMENTS, "the newest kept"
    assert texts[0] == "comment 6" and texts[-1] == "On it.", "oldest first"
    assert len(texts[-2]) == MAX_FORGE_TEXT and texts[-2].endswith("…")
    assert seen.comments[-1].by_bot and not seen.comments[-2].by_bot
    assert seen.head_sha == seen.head_branch == ""


async def test_a_pull_request_reads_with_its_branches_and_head(world: World, workspace: Path) -> None:
    number = await world.open_pull()
    world.say(number, "@honk please also handle floats", by="ada", pull=True)
    if world.gitlab is not None:  # GitLab's own notes are not the conversation
        world.gitlab.system_note(GL_PROJECT, "merge_request", number, "added 1 commit")

    seen = await world.conversation.discussion(world.repo, number, pull_request=True)

    if not world.hosted:
        assert seen.comments == []
        return
    assert seen.pull_request and seen.state == "open"
    assert (seen.head_branch, seen.base_branch) == (BRANCH, "main")
    assert seen.head_sha == run_git("rev-parse", "HEAD", cwd=workspace)
    assert [c.text for c in seen.comments] == ["@honk please also handle floats"]


async def test_a_comment_is_posted_bounded_and_redacted(world: World) -> None:
    number = world.open_issue("add() subtracts")

    url = await world.conversation.comment(world.repo, number, f"Working on it: token {SECRET}\n" + "y" * 100_000)

    if not world.hosted:
        assert url is None
        return
    assert url is not None and url.startswith("http")
    (posted,) = world.posted(number)
    assert SECRET not in posted and "[redacted]" in posted
    assert len(posted) <= 60_000


async def test_review_comments_are_answered_and_their_threads_resolved(world: World) -> None:
    number = await world.open_pull()
    if not world.hosted:
        assert await world.conversation.review_comments(world.repo, number) == []
        await world.conversation.reply(world.repo, number, 1, "done")  # nothing to answer, no error
        return
    first, second = world.review_lines(number, (("calc.py", 2, "use a + b"), ("calc.py", 1, "name it plus")))

    before = await world.conversation.review_comments(world.repo, number)
    assert [(c.id, c.path, c.line, c.text, c.author) for c in before] == [
        (first, "calc.py", 2, "use a + b", "ada"),
        (second, "calc.py", 1, "name it plus", "ada"),
    ]

    await world.conversation.reply(world.repo, number, first, "done in abc1234", resolve=True)
    await world.conversation.reply(world.repo, number, second, "kept the name: it is public API")

    assert world.replies(number, first) == ["done in abc1234"]
    assert world.replies(number, second) == ["kept the name: it is public API"]
    assert world.resolved(number) == {first}
    after = await world.conversation.review_comments(world.repo, number)
    assert first not in {c.id for c in after} and second in {c.id for c in after}, "resolved threads are done"


async def test_a_review_only_comments_and_folds_what_the_diff_does_not_show(world: World, workspace: Path) -> None:
    number = await world.open_pull()
    head = run_git("rev-parse", "HEAD", cwd=workspace)
    inside = LineComment(path="calc.py", line=2, text="a + b: good")
    outside = LineComment(path="README.md", line=1, text="the README says nothing of add()")

    url = await world.conversation.review(world.repo, number, head, "Two findings.", [inside, outside])

    if not world.hosted:
        assert url is None
        return
    assert url is not None
    if world.github is not None:
        (review,) = world.github.reviews(GH_REPO, number)
        assert review["state"] == "COMMENTED", "never approves nor requests changes"
        # GitHub refuses the whole review for one line outside the diff, without saying which.
        assert review["comments"] == [] and "a + b: good" in review["body"]
        assert "`README.md` line 1: the README says nothing of add()" in review["body"]
    else:
        assert world.gitlab is not None
        (placed,) = world.gitlab.discussions_of(GL_PROJECT, number)
        assert placed["notes"][0]["body"] == "a + b: good" and placed["notes"][0]["position"]["new_line"] == 2
        (note,) = world.gitlab.comments(GL_PROJECT, number)[1:]
        assert note.startswith("Two findings.") and "`README.md` line 1" in note


async def test_who_may_edit_is_the_forge_s_word(world: World) -> None:
    world.grant("writer", write=True)
    world.grant("reader", write=False)

    says = [
        await world.conversation.may_edit(world.repo, login)
        for login in ("writer", "reader", "stranger", "../../admin", "writer?x=1", "")
    ]

    assert says == ([True, False, False, False, False, False] if world.hosted else [False] * 6)


async def test_a_failing_job_s_log_keeps_its_end(world: World, workspace: Path) -> None:
    await world.open_pull()
    head = run_git("rev-parse", "HEAD", cwd=workspace)
    log = "collecting...\n" + "noise line\n" * 30_000 + "FAILED tests/test_calc.py::test_add - assert 0 == 4\n"
    run_id = world.job(head, "test (3.11)", passed=False, log=log)
    world.job(head, "lint", passed=True, log="all good", run_id=run_id)

    by_run = await world.conversation.failing_logs(world.repo, head, run_id)
    by_commit = await world.conversation.failing_logs(world.repo, head)

    if not world.hosted:
        assert by_run == by_commit == []
        return
    for logs in (by_run, by_commit):
        (job,) = logs
        assert job.name == "test (3.11)" and job.url.startswith("http")
        assert len(job.log) <= MAX_JOB_LOG and job.log.endswith("assert 0 == 4\n")
        assert not job.log.startswith("collecting"), "the beginning goes first"


async def test_a_check_s_verdict_on_a_ref(world: World) -> None:
    main = world.remote.head()
    before = await world.conversation.check(world.repo, "main", "test")
    world.job(main, "test", passed=False, log="boom")
    world.job(main, "lint", passed=True)

    failing = await world.conversation.check(world.repo, main, "test")
    on_branch = await world.conversation.check(world.repo, "main", "test")
    passing = await world.conversation.check(world.repo, main, "lint")

    if not world.hosted:
        assert before == failing == passing == "none"
        return
    assert (before, failing, on_branch, passing) == ("none", "failure", "failure", "success")


async def test_a_number_the_forge_does_not_have_is_not_found(world: World) -> None:
    if not world.hosted:
        pytest.skip("a plain remote has no issues")
    with pytest.raises(NotFound):
        await world.conversation.discussion(world.repo, 404)


async def test_refused_credentials_are_said_for_a_person(world: World, github_server: FakeGitHub) -> None:
    if not world.hosted:
        pytest.skip("a plain remote asks for no credentials here")
    forges = Forges(
        ForgeSettings(github_token="ghp_wrong0123456789", gitlab_token="glpat-wrong0123456789"), WorkspaceSettings()
    )
    try:
        with pytest.raises(Unauthorized, match="check the forge token"):
            await HostedConversation(forges).comment(world.repo, 1, "hello")
    finally:
        await forges.close()


async def test_a_review_s_own_comments_are_read_by_its_id(world: World) -> None:
    if world.github is None:
        pytest.skip("GitHub's reviews have ids; GitLab's review is its unresolved diff discussions")
    number = await world.open_pull()
    world.review_lines(number, (("calc.py", 1, "earlier remark"),))
    review = world.github.review(GH_REPO, number, "", "commented", (("calc.py", 2, "use a + b"),), by="ada")

    seen = await world.conversation.review_comments(world.repo, number, review["id"])

    assert [(c.id, c.text) for c in seen] == [(review["comments"][0]["id"], "use a + b")]


@pytest.fixture(scope="module")
def proxy_page() -> Iterator[LoopbackServer]:
    """A forge URL that answers every request with a proxy's HTML page (a captive portal, a wrong URL)."""

    async def page(request: Request) -> Response:
        return HTMLResponse("<html><body>Please sign in to the proxy</body></html>")

    with LoopbackServer(Starlette(routes=[Route("/{rest:path}", page, methods=["GET", "POST"])])) as server:
        yield server


@pytest.mark.parametrize("kind", ["github", "gitlab"])
async def test_an_answer_of_another_shape_is_said_not_crashed_on(kind: str, proxy_page: LoopbackServer) -> None:
    project = GH_REPO if kind == "github" else GL_PROJECT
    repo = RepoRef(name="w", url="unused", forge=ForgeRef(kind=kind, project=project, api_url=proxy_page.url))  # type: ignore[arg-type]
    forges = Forges(ForgeSettings(github_token=GH_TOKEN, gitlab_token=GL_TOKEN), WorkspaceSettings())
    try:
        with pytest.raises(UserFacingError):
            await HostedConversation(forges).discussion(repo, 1)
    finally:
        await forges.close()
