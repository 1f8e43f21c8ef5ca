"""Bad input gets a clear error a person can act on, and leaves nothing half-made behind."""

from __future__ import annotations

import shutil

from honk.domain import TaskState
from repos import DIRECT_FIX, calc_files, slow_fix


def test_requests_that_cannot_start_are_refused_and_leave_no_task(stack, make_remote):
    remote = make_remote(calc_files(DIRECT_FIX))
    stack.add_repo("calc", remote.url)
    post = stack.http.post

    unknown = post("/api/tasks", json={"repo": "nope", "text": "x"})
    assert unknown.status_code == 404 and "Known repos: calc" in unknown.json()["detail"]
    empty = post("/api/tasks", json={"repo": "calc", "text": "   "})
    assert empty.status_code == 400 and "empty" in empty.json()["detail"]
    huge = post("/api/tasks", json={"repo": "calc", "text": "x" * 25_000})
    assert huge.status_code == 400 and "limit is 20,000" in huge.json()["detail"]
    missing = post("/api/tasks", json={"repo": "calc"})
    assert missing.status_code == 422 and "text" in missing.json()["detail"]
    agent = post("/api/tasks", json={"repo": "calc", "text": "x", "agent": "skynet"})
    assert agent.status_code == 400 and "available: claude, command, scripted" in agent.json()["detail"]
    assert stack.http.get("/api/tasks").json() == []
    assert stack.http.get("/api/tasks/t-doesnotexist").status_code == 404


def test_repos_that_cannot_be_used_are_refused(stack, make_remote, tmp_path):
    remote = make_remote(calc_files(DIRECT_FIX))
    post = stack.http.post
    escape = post("/api/repos", json={"name": "../etc", "url": remote.url})
    assert escape.status_code == 400 and "not allowed" in escape.json()["detail"]
    branch = post("/api/repos", json={"name": "calc", "url": remote.url, "branch": "../main"})
    assert branch.status_code == 400 and "not a valid branch" in branch.json()["detail"]
    missing = post("/api/repos", json={"name": "calc", "url": str(tmp_path / "no-such-repo")})
    assert missing.status_code == 400 and "Cannot reach" in missing.json()["detail"]
    option = post("/api/repos", json={"name": "calc", "url": "--upload-pack=touch /tmp/pwned"})
    assert option.status_code == 400
    no_branch = post("/api/repos", json={"name": "calc", "url": remote.url, "branch": "develop"})
    assert no_branch.status_code == 400 and "no branch 'develop'" in no_branch.json()["detail"]
    assert stack.http.get("/api/repos").json() == []
    assert post("/api/repos", json={"name": "calc", "url": remote.url}).status_code == 201
    dup = post("/api/repos", json={"name": "calc", "url": remote.url})
    assert dup.status_code == 409


def test_invalid_repo_config_fails_the_task_at_once_with_file_and_line(stack, make_remote):
    files = calc_files(DIRECT_FIX)
    files[".honk.toml"] = '[[verify]]\nname = "test"\nrun = "python3 -m unittest"\ntimeout = -3\n'
    remote = make_remote(files)
    stack.add_repo("calc", remote.url)
    task = stack.ask("calc", "make add() add")
    done = stack.wait_for(task.id, TaskState.failed, TaskState.ready)
    assert done.state == TaskState.failed
    assert ".honk.toml line 4" in done.reason and "timeout" in done.reason
    assert "agent_started" not in stack.kinds(task.id)
    assert ".honk.toml line 4" in stack.http.get("/repos").text, "the repos page shows the problem"


def test_unreachable_remote_fails_the_task_with_what_to_check(stack, make_remote):
    remote = make_remote(calc_files(DIRECT_FIX))
    stack.add_repo("calc", remote.url)
    shutil.rmtree(remote.bare)
    task = stack.ask("calc", "make add() add")
    done = stack.wait_for(task.id, TaskState.failed, TaskState.ready)
    assert "Could not fetch repo 'calc'" in done.reason and "check the URL" in done.reason


def test_merge_and_follow_up_in_the_wrong_state_are_refused(stack, make_remote):
    remote = make_remote(calc_files(slow_fix(3)))
    stack.add_repo("calc", remote.url)
    task = stack.ask("calc", "make add() add")
    early = stack.http.post(f"/api/tasks/{task.id}/merge", json={})
    assert early.status_code == 409 and "only when ready" in early.json()["detail"]
    assert stack.wait_for(task.id, TaskState.ready, TaskState.failed).state == TaskState.ready
    assert stack.http.post(f"/api/tasks/{task.id}/merge", json={}).status_code == 202
    stack.wait_for(task.id, TaskState.merged, TaskState.failed)
    twice = stack.http.post(f"/api/tasks/{task.id}/merge", json={})
    assert twice.status_code == 409 and "already merged" in twice.json()["detail"]
    late = stack.http.post(f"/api/tasks/{task.id}/followup", json={"text": "one more thing"})
    assert late.status_code == 409 and "Start a new request" in late.json()["detail"]
    assert len([line for line in stack.honk("list").stdout.splitlines() if line.strip()]) == 1


def test_preview_and_artifact_paths_cannot_escape(stack):
    for path in (
        "/previews/t-x/../../honk.db",
        "/previews/t-x/%2e%2e/%2e%2e/honk.db",
        "/artifacts/t-x/..%2f..%2fhonk.db",
        "/previews/%2e%2e/honk.db",
        "/artifacts/%2e%2e/honk.db",
        "/previews/%2e%2e/logs/server.log",
    ):
        r = stack.http.get(path)
        assert r.status_code == 404, path


def test_state_changes_need_a_json_body_so_pages_cannot_forge_them(stack):
    forged = stack.http.post(
        "/api/tasks/t-aaaaaaaaaaaa/merge",
        content=b"by=mallory",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert forged.status_code == 415 and "JSON" in forged.json()["detail"]
    bare = stack.http.post("/api/tasks/t-aaaaaaaaaaaa/cancel")
    assert bare.status_code == 415


def test_an_agent_that_changes_nothing_fails_the_task_with_its_words(stack, make_remote):
    files = calc_files('[[step]]\nmessage = "I could not find add()."\n')
    remote = make_remote(files | {"calc.py": "def add(a, b):\n    return a + b\n"})  # checks pass
    stack.add_repo("calc", remote.url)
    task = stack.ask("calc", "make add() add")
    done = stack.wait_for(task.id, TaskState.failed, TaskState.ready)
    assert done.state == TaskState.failed
    assert "without changing any file" in done.reason and "I could not find add()." in done.reason
