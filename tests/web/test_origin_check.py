"""Honk's API refuses state changes a page of another origin asks for — a task's preview (an app the agent
wrote), a static preview's sandbox (`Origin: null`), any other site — in the anonymous embedded mode too,
where no session or CSRF token would stop it; its CLI, Slack and forges send no browser Origin and go on
working. Honk's session cookie is host-only (and `__Host-` over https), so it never reaches a preview."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from conftest import serving, settings_for
from honk.accounts import Role
from honk.store import AuditQuery

pytestmark = pytest.mark.timeout(120)


async def test_writes_from_other_origins_are_refused_in_the_anonymous_mode(honk):
    task = await honk.task("origin")
    revoke = f"/api/tasks/{task}/preview/revoke"
    foreign = [
        {"origin": f"http://{honk.host(task)}"},  # the task's own preview
        {"origin": f"http://{task}.localhost"},
        {"origin": "null"},  # a sandboxed frame: Honk's static previews
        {"origin": "https://evil.example"},
        {"origin": f"http://127.0.0.1:{honk.port}.evil.example"},
        {"origin": f"https://127.0.0.1:{honk.port}"},  # another scheme is another origin
        {"sec-fetch-site": "same-site"},  # `<task>.localhost` beside Honk at `localhost`
        {"sec-fetch-site": "cross-site"},
        {"origin": honk.url, "sec-fetch-site": "cross-site"},
    ]
    async with httpx.AsyncClient(base_url=honk.url, timeout=30) as c:
        for headers in foreign:
            for method in ("POST", "PUT", "PATCH", "DELETE"):
                r = await c.request(method, revoke, json={}, headers=headers)
                assert r.status_code == 403 and "another origin" in r.json()["detail"], (method, headers, r.text)
        assert await honk.generation(task) == 0
        assert await honk.service.audit(AuditQuery(task_id=task)) == []  # refused before Honk's service

        # Honk's own pages (same origin, either spelling of its address), its CLI (no Origin): done.
        for headers in ({"origin": honk.url, "sec-fetch-site": "same-origin"}, {}, {"sec-fetch-site": "none"}):
            r = await c.post(revoke, json={}, headers=headers)
            assert r.status_code == 200, (headers, r.text)
        r = await c.post(
            revoke, json={}, headers={"host": f"localhost:{honk.port}", "origin": f"http://localhost:{honk.port}"}
        )
        assert r.status_code == 200, r.text
        assert await honk.generation(task) == 4

        # Reads are not state changes (a page cannot read them across origins anyway).
        listed = await c.get("/api/tasks", headers={"origin": "https://evil.example", "sec-fetch-site": "cross-site"})
        assert listed.status_code == 200


async def test_slack_events_carry_no_origin_and_pass_the_check(honk):
    async with httpx.AsyncClient(base_url=honk.url, timeout=30) as c:
        r = await c.post("/slack/events", content=b"{}", headers={"content-type": "application/json"})
    assert r.status_code == 404 and "Slack HTTP events are not enabled" in r.json()["detail"]


@pytest.mark.parametrize(
    ("public_url", "name", "secure"),
    [(None, "honk_session", False), ("https://honk.example.com", "__Host-honk_session", True)],
)
async def test_the_session_cookie_is_host_only_and_prefixed_over_https(
    tmp_path: Path, temporal, public_url, name, secure
):
    changes = {"anonymous": False} | ({"public_url": public_url} if public_url else {})
    async with serving(settings_for(tmp_path, temporal.address, **changes)) as honk:
        await honk.accounts.add_user("ana@example.com", "Ana", Role.merger)
        link = await honk.accounts.login_link("ana@example.com", honk.url)
        async with httpx.AsyncClient(base_url=honk.url, timeout=30) as c:
            r = await c.get(link.removeprefix(honk.url))
            cookie = r.headers["set-cookie"]
            assert r.status_code == 303 and cookie.startswith(f"{name}=")
            attributes = [a.strip().lower() for a in cookie.split(";")[1:]]
            assert not any(a.startswith("domain") for a in attributes), cookie
            assert "httponly" in attributes and "samesite=lax" in attributes and "path=/" in attributes
            assert ("secure" in attributes) is secure
            me = await c.get("/api/me", headers={"cookie": cookie.split(";")[0]})
            assert me.status_code == 200 and me.json()["email"] == "ana@example.com"
            # The other name is not Honk's session on this server: nobody plants one over https.
            other = "honk_session" if secure else "__Host-honk_session"
            planted = await c.get("/api/me", headers={"cookie": f"{other}={cookie.split(';')[0].split('=', 1)[1]}"})
            assert planted.status_code == 401
