"""Accounts: sign-in links, API tokens, roles, CSRF on cookie sessions; anonymous only when configured."""

from __future__ import annotations

import httpx
import pytest

from honk.domain import TaskState
from honk.testing.processes import HonkStack
from repos import DIRECT_FIX, calc_files


@pytest.fixture
def closed_stack(tmp_path, temporal):
    stack = HonkStack(tmp_path / "honk", temporal.address, anonymous="false")
    yield stack
    stack.stop()


def test_nothing_without_an_account_then_tokens_and_roles(closed_stack, make_remote):
    stack = closed_stack
    refused = stack.http.get("/api/tasks")
    assert refused.status_code == 401 and "honk user link" in refused.json()["detail"]
    assert stack.http.post("/api/repos", json={"name": "x", "url": "/x"}).status_code == 401

    _, admin = stack.add_user("ada@example.com", "admin")
    _, asker = stack.add_user("ana@example.com", "requester")
    as_admin = {"Authorization": f"Bearer {admin}"}
    stack.http.headers.update(as_admin)  # the stack's own reads (wait_for) as the admin
    as_asker = {"Authorization": f"Bearer {asker}"}
    remote = make_remote(calc_files(DIRECT_FIX))
    assert stack.http.post("/api/repos", json={"name": "calc", "url": remote.url}, headers=as_asker).status_code == 403
    assert stack.http.post("/api/repos", json={"name": "calc", "url": remote.url}).status_code == 201

    spoof = {"repo": "calc", "text": "make add() add", "requested_by": "someone-else@example.com"}
    task = stack.http.post("/api/tasks", json=spoof, headers=as_asker).json()
    assert task["requested_by"] == "ana@example.com", "people are themselves"
    assert stack.wait_for(task["id"], TaskState.ready, TaskState.failed).state == TaskState.ready
    denied = stack.http.post(f"/api/tasks/{task['id']}/merge", json={}, headers=as_asker)
    assert denied.status_code == 403 and "needs a merger" in denied.json()["detail"]
    assert stack.http.get("/api/tasks", headers={"Authorization": "Bearer honk_nope"}).status_code == 401

    cli = stack.honk("--token", admin, "merge", task["id"])
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "Approved-by: ada@example.com" in remote.message()


def test_a_sign_in_link_works_once_and_writes_need_the_csrf_token(closed_stack, make_remote):
    stack = closed_stack
    link, _ = stack.add_user("bo@example.com", "merger")
    browser = httpx.Client(base_url=stack.url)
    first = browser.get(link.replace(stack.url, ""), follow_redirects=False)
    assert first.status_code == 303
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    again = httpx.get(link, follow_redirects=False)
    assert again.status_code == 400 and "already used" in again.text

    me = browser.get("/api/me").json()
    assert me["email"] == "bo@example.com" and me["role"] == "merger" and me["csrf"]
    no_csrf = browser.post("/api/tasks/t-aaaaaaaaaaaa/cancel", json={})
    assert no_csrf.status_code == 403 and "CSRF" in no_csrf.json()["detail"]
    with_csrf = browser.post("/api/tasks/t-aaaaaaaaaaaa/cancel", json={}, headers={"X-CSRF-Token": me["csrf"]})
    assert with_csrf.status_code == 404, "past authentication: the task simply does not exist"
