"""One change across several repos (issue 20): a person asks for one change in api and web; the scripted agent
edits both in one run (and tries to write where it may not); each repo's own checks run; each repo gets its
pull request on GitHub, the two linked, web's saying it waits on api's merge; merging the task merges api
first, then web. When api's merge is refused, web is not merged and the task says which stopped it and why.
Real `honk server`/`honk worker` processes, Temporal, bubblewrap and git (over smart HTTP against the
loopback fake GitHub), the real `honk` CLI as the front door."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from honk.domain import TaskState
from honk.events import (
    AgentStarted,
    CheckFinished,
    ForgeChecksFailed,
    MergeHeld,
    RepoMerged,
    RepoPublished,
    SandboxRefused,
)
from honk.testing.fake_github import FakeGitHub
from honk.testing.gitrepo import RemoteRepo
from honk.testing.processes import HonkStack, TemporalDevServer, wait_until

TOKEN = "ghp_multi_repo_0123456789"
SECRET = "whsec-multi-repo-0123456789abcdef"  # the forge's webhooks (one story sends them)


def scenario(web: str, elsewhere: list[str]) -> str:
    """The agent's one run: the rename in both repos, then writes where the task's confinement says no."""
    return f"""[[step]]
message = "Renamed user_id to account_id in the api and in the web client."
commands = {json.dumps(elsewhere)}
[[step.edit]]
path = "api.py"
replace = "user_id"
with = "account_id"
[[step.edit]]
repo = "{web}"
path = "web.js"
replace = "user_id"
with = "account_id"
"""


def api_files(web: str, elsewhere: list[str] = ()) -> dict[str, str]:  # type: ignore[assignment]
    return {
        ".honk.toml": '[[verify]]\nname = "test"\nrun = "! grep -q user_id api.py"\n[agent]\nname = "scripted"\n',
        "api.py": "FIELD = 'user_id'\n",
        ".honk/scenario.toml": scenario(web, list(elsewhere)),
    }


WEB_FILES = {
    ".honk.toml": '[[verify]]\nname = "lint"\nrun = "! grep -q user_id web.js"\n',
    "web.js": "export const show = (user) => user.user_id;\n",
}


@pytest.fixture(scope="module")
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(tokens=(TOKEN,)) as fake:
        yield fake


@pytest.fixture(scope="module")
def honk(tmp_path_factory: pytest.TempPathFactory, temporal: TemporalDevServer) -> Iterator[HonkStack]:
    stack = HonkStack(
        tmp_path_factory.mktemp("honk"), temporal.address, github_token=TOKEN, github_webhook_secret=SECRET
    )
    yield stack
    stack.stop()


def on_github(honk: HonkStack, github: FakeGitHub, tmp: Path, name: str, files: dict[str, str]) -> RemoteRepo:
    remote = RemoteRepo(tmp / name, files)
    github.add_repo(f"acme/{name}", remote)
    honk.honk("repo", "add", name, remote.url, "--forge", f"github:acme/{name}", "--forge-api", github.url, check=True)
    return remote


def ask_across(honk: HonkStack, repo: str, *also: str) -> str:
    """`honk ask api "…" --also web`, the CLI a person uses."""
    out = honk.honk("ask", repo, "rename user_id to account_id", *(a for o in also for a in ("--also", o)), check=True)
    return out.stdout.strip().splitlines()[-1]


def events_of(honk: HonkStack, task_id: str, kind: type) -> list:  # noqa: ANN401 - the events of that kind
    return [e.event for e in honk.events(task_id) if isinstance(e.event, kind)]


def test_one_change_in_two_repos_two_linked_pull_requests_merged_in_order(honk, github, tmp_path):
    # Another task's workspace, on this worker at the same time: the agent must not reach it.
    on_github(honk, github, tmp_path, "vault", {**WEB_FILES, ".honk.toml": '[agent]\nname = "scripted"\n'})
    other = honk.ask("vault", "nothing to do here")
    honk.wait_for(other.id, TaskState.failed, TaskState.ready)  # its scenario is missing: it fails, harmlessly
    data = honk.root / "data"
    planted = data / "workspaces" / "planted-by-agent"
    elsewhere = [
        f"echo pwned > {data}/workspaces/{other.id}/escaped.txt",  # another task's workspace
        f"echo pwned > {data}/mirrors/api.git/escaped.txt",  # a repo's mirror
        'mkdir -p "$PWD+vault" && echo pwned > "$PWD+vault/escaped.txt"',  # where a repo not in the task would be
        f"mkdir -p {planted}",
    ]
    api = on_github(honk, github, tmp_path, "api", api_files("web", elsewhere))
    web = on_github(honk, github, tmp_path, "web", WEB_FILES)

    task_id = ask_across(honk, "api", "web")
    done = honk.wait_for(task_id, TaskState.ready, TaskState.failed, timeout_s=120)
    assert done.state == TaskState.ready, done.reason

    # Each repo's own checks ran, named by repo.
    checks = {(e.name, e.passed) for e in events_of(honk, task_id, CheckFinished)}
    assert {("api: test", True), ("web: lint", True)} <= checks, checks
    # One pull request per repo, each linking the other; web's waits on api's merge.
    api_pr, web_pr = github.pull("acme/api", 1), github.pull("acme/web", 1)
    assert api_pr.head == web_pr.head == f"honk/{task_id}"
    (published,) = events_of(honk, task_id, RepoPublished)
    assert published.repo == "web" and published.changed and published.number == 1
    assert "Part of one change across api → web; merge order: api, then web." in api_pr.body
    assert published.url in api_pr.body and f"- web: {published.url}" in api_pr.body
    assert "(this pull request)" in web_pr.body and "waits on api's merge" in web_pr.body
    assert "waits on" not in api_pr.body
    assert "account_id" in api.show("api.py", f"honk/{task_id}") and "account_id" in web.show(
        "web.js", f"honk/{task_id}"
    )
    # The escape attempts: refused by the sandbox, written down for the task (and the audit log).
    refused = [e for e in events_of(honk, task_id, SandboxRefused) if e.source == "agent"]
    assert len(refused) >= 3, [e.line() for e in refused]
    workspaces = data / "workspaces"
    assert not (workspaces / other.id / "escaped.txt").exists()
    assert not (data / "mirrors" / "api.git" / "escaped.txt").exists()
    assert not (workspaces / f"{task_id}+vault").exists() and not planted.exists()

    assert (workspaces / task_id).is_dir() and (workspaces / f"{task_id}+web").is_dir()

    r = honk.http.post(f"/api/tasks/{task_id}/merge", json={})
    assert r.status_code == 202, r.text
    merged = honk.wait_for(task_id, TaskState.merged, TaskState.failed, timeout_s=120)
    assert merged.state == TaskState.merged, merged.reason
    assert [e.repo for e in events_of(honk, task_id, RepoMerged)] == ["api", "web"], "api first, then web"
    assert github.pull("acme/api", 1).merged and github.pull("acme/web", 1).merged
    card = honk.http.get(f"/tasks/{task_id}").text.split('id="pull-requests"', 1)[1].split("</section>", 1)[0]
    merges = [e.commit[:10] for e in events_of(honk, task_id, RepoMerged)]
    assert (
        card.index("<strong>api</strong>") < card.index(f"merged as {merges[0]}") < card.index("<strong>web</strong>")
    )
    assert card.index("<strong>web</strong>") < card.index(f"merged as {merges[1]}"), card
    assert "account_id" in api.show("api.py") and "account_id" in web.show("web.js")
    # Removed by the cleanup step after the merge is recorded: every workspace of the task, the other repo's too.
    wait_until(
        lambda: not any(p.name.startswith(task_id) for p in workspaces.iterdir()),
        30,
        "every workspace of the task gone",
    )


def test_when_the_first_repos_merge_is_refused_the_next_waits_and_the_task_says_why(honk, github, tmp_path):
    api = on_github(honk, github, tmp_path, "api2", api_files("web2"))
    web = on_github(honk, github, tmp_path, "web2", WEB_FILES)
    github.require_approvals("acme/api2", 1)

    task_id = ask_across(honk, "api2", "web2")
    done = honk.wait_for(task_id, TaskState.ready, TaskState.failed, timeout_s=120)
    assert done.state == TaskState.ready, done.reason
    web_before = web.head()

    r = honk.http.post(f"/api/tasks/{task_id}/merge", json={})
    assert r.status_code == 202, r.text
    wait_until(lambda: bool(events_of(honk, task_id, MergeHeld)), 120, "the merge held")
    assert honk.wait_for(task_id, TaskState.ready, TaskState.merged, TaskState.failed).state == TaskState.ready
    (said,) = events_of(honk, task_id, MergeHeld)
    assert said.reason.startswith("api2's merge stopped (web2 not merged: it waits): "), said.reason
    assert "approving review is required" in said.reason
    assert events_of(honk, task_id, RepoMerged) == []
    assert not github.pull("acme/api2", 1).merged and not github.pull("acme/web2", 1).merged
    assert "merged as" not in honk.http.get(f"/tasks/{task_id}").text, "nothing merged is shown merged"
    assert web.head() == web_before and "user_id" in api.show("api.py"), "neither main moved"

    # Approved on GitHub, merged again: now both land, in order.
    github.approve("acme/api2", 1)
    r = honk.http.post(f"/api/tasks/{task_id}/merge", json={})
    assert r.status_code == 202, r.text
    merged = honk.wait_for(task_id, TaskState.merged, TaskState.failed, timeout_s=120)
    assert merged.state == TaskState.merged
    assert [e.repo for e in events_of(honk, task_id, RepoMerged)] == ["api2", "web2"]
    assert "account_id" in web.show("web.js")


def test_ci_failing_on_the_other_repos_pull_request_reaches_the_task_which_says_it_does_not_autofix_there(
    honk, github, tmp_path
):
    """GitHub's CI fails on web's pull request (a signed webhook to the server): the forge door finds the task
    by web's pull request, the task's workflow is told with web named and, its autofix working on api's pull
    request only, says so (a skipped ForgeChecksFailed naming web, on api's pull request) without running the
    agent; the door says it on web's pull request."""
    on_github(honk, github, tmp_path, "api3", api_files("web3"))
    web = on_github(honk, github, tmp_path, "web3", WEB_FILES)
    for name in ("api3", "web3"):
        github.add_hook(f"acme/{name}", f"{honk.url}/hooks/github", SECRET)
    task_id = ask_across(honk, "api3", "web3")
    done = honk.wait_for(task_id, TaskState.ready, TaskState.failed, timeout_s=120)
    assert done.state == TaskState.ready, done.reason
    runs = len(events_of(honk, task_id, AgentStarted))

    head = web.head(f"honk/{task_id}")
    github.fail_job("acme/web3", head, "lint", "web.js: FAILED")
    github.webhooks.drain(60)
    # Every check delivery for web3 was taken by Honk's server (a lost one would fail below for another reason).
    answered = [
        (a.delivery.event, a.status or a.error)
        for a in github.webhooks.attempts
        if a.delivery.event.startswith("check_") and a.delivery.payload["repository"]["full_name"] == "acme/web3"
    ]
    assert answered and all(s in (200, 202) for _, s in answered), answered
    wait_until(lambda: bool(events_of(honk, task_id, ForgeChecksFailed)), 60, "the task told of web3's CI")
    (said,) = events_of(honk, task_id, ForgeChecksFailed)
    assert (said.repo, said.commit, said.attempt) == ("web3", head, 0)
    assert "autofix works on api3's pull request only" in said.skipped
    assert said.line().startswith(f"web3: CI failed on {head[:10]}")
    wait_until(
        lambda: any("Honk's autofix works on api3's pull request" in c for c in github.comments("acme/web3", 1)),
        60,
        "the door to say it on web3's pull request",
    )
    wait_until(lambda: any("web3: CI failed" in c for c in github.comments("acme/api3", 1)), 60, "said on api3's")
    assert len(events_of(honk, task_id, AgentStarted)) == runs, "no fix was tried"
    assert honk.task(task_id).state == TaskState.ready
