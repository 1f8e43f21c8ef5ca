"""Signed links to a task's preview: what a token carries and what it is refused for; the origin a link
names; a signed-in person's way in (Open preview on Honk's origin); `honk preview link` and `honk preview
revoke` through the API, the revocation gated and audited."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import httpx
import pytest
from itsdangerous import URLSafeSerializer

from conftest import serving, settings_for
from honk.accounts import Accounts, Role, User
from honk.preview_links import STAY, LinkGrant, LinkRefused, PreviewLinks, preview_origin
from honk.settings import Settings
from honk.store import AuditQuery

pytestmark = pytest.mark.timeout(120)
KEY = b"k" * 32
POLICY = '[users."ana@example.com"]\n[users."bo@example.com"]\n[repos."*"]\nrequesters = ["*"]\nmergers = []\n'


def test_a_token_lets_in_only_its_task_at_its_generation_until_it_expires():
    links = PreviewLinks(KEY)
    token = links.token("t-aaaaaaaaaaaa", 3, 600, stay_s=7200)
    grant = links.check(token, "t-aaaaaaaaaaaa", 3)
    assert isinstance(grant, LinkGrant) and grant.stay_s == 7200
    cookie, max_age = links.stay(grant)
    assert max_age == 7200 and isinstance(links.check(cookie, "t-aaaaaaaaaaaa", 3, kind=STAY), LinkGrant)

    refusals = {
        (token, "t-bbbbbbbbbbbb", 3, "link"): "another task",
        (token, "t-aaaaaaaaaaaa", 4, "link"): "revoked",
        (token, "t-aaaaaaaaaaaa", 2, "link"): "revoked",
        (links.token("t-aaaaaaaaaaaa", 3, -1), "t-aaaaaaaaaaaa", 3, "link"): "expired",
        (token, "t-aaaaaaaaaaaa", 3, STAY): "not valid",  # a link is not a cookie
        (cookie, "t-aaaaaaaaaaaa", 3, "link"): "not valid",  # nor a cookie a link
        (PreviewLinks(b"x" * 32).token("t-aaaaaaaaaaaa", 3, 600), "t-aaaaaaaaaaaa", 3, "link"): "not valid",
        (token[:-2], "t-aaaaaaaaaaaa", 3, "link"): "not valid",
        (token + "A" * 2000, "t-aaaaaaaaaaaa", 3, "link"): "not valid",
        ("", "t-aaaaaaaaaaaa", 3, "link"): "not opened",
    }
    # Signed with the server's key for something else (another salt), or the right salt but not our shape.
    elsewhere = URLSafeSerializer(KEY, salt="honk-session").dumps(
        {"k": "link", "t": "t-aaaaaaaaaaaa", "g": 3, "e": 2**40, "s": 1}
    )
    refusals[(str(elsewhere), "t-aaaaaaaaaaaa", 3, "link")] = "not valid"
    for shape in ([1, 2], {"k": "link", "t": "t-aaaaaaaaaaaa"}, {"k": "link", "t": ["x"], "g": 3, "e": 2**40, "s": 1}):
        refusals[(str(URLSafeSerializer(KEY, salt="honk-preview").dumps(shape)), "t-aaaaaaaaaaaa", 3, "link")] = (
            "not valid"
        )
    for (tok, task, generation, kind), why in refusals.items():
        verdict = links.check(tok, task, generation, kind=kind)
        assert isinstance(verdict, LinkRefused) and why.split()[-1] in verdict.why, (why, verdict)


def test_a_sessions_signature_is_not_a_preview_token():
    accounts = Accounts.__new__(Accounts)
    accounts._key = KEY  # the same server key signs sessions (HMAC) and preview links (salted)
    session = accounts.session_cookie(User(email="ana@example.com", name="Ana", role=Role.admin))
    assert isinstance(PreviewLinks(KEY).check(session, "t-aaaaaaaaaaaa", 0), LinkRefused)


@pytest.mark.parametrize(
    ("public_url", "origin"),
    [
        (None, "http://t-aaaaaaaaaaaa.localhost:8000"),
        ("https://honk.example.com", "https://t-aaaaaaaaaaaa.preview.honk.example.com"),
        ("https://honk.example.com:8443/", "https://t-aaaaaaaaaaaa.preview.honk.example.com:8443"),
        ("http://192.168.1.20:8000", "http://t-aaaaaaaaaaaa.192.168.1.20.sslip.io:8000"),
        ("http://honk.example.com:80", "http://t-aaaaaaaaaaaa.preview.honk.example.com"),
    ],
)
def test_a_link_names_the_tasks_own_origin_on_the_public_urls_scheme_and_port(public_url, origin):
    settings = Settings().changed(port=8000, host="127.0.0.1", public_url=public_url)
    assert preview_origin(settings, "t-aaaaaaaaaaaa") == origin


async def test_a_signed_in_person_opens_the_preview_from_the_task_page(tmp_path: Path, temporal, upstream):
    async with serving(settings_for(tmp_path, temporal.address, anonymous=False)) as honk:
        task = await honk.task("open")
        await honk.run_preview(task, upstream.socket_path)
        await honk.accounts.add_user("ana@example.com", "Ana", Role.requester)
        session = await _session(honk, "ana@example.com")
        async with httpx.AsyncClient(base_url=honk.url, timeout=30) as c:
            anonymous = await c.get(f"/tasks/{task}/preview")
            assert anonymous.status_code == 401 and "location" not in anonymous.headers
            r = await c.get(f"/tasks/{task}/preview", headers={"cookie": session})
            assert r.status_code == 303 and r.headers["cache-control"] == "no-store"
            link = r.headers["location"]
            assert link.startswith(f"http://{honk.host(task)}/__honk/enter?t=")
            token = link.split("t=", 1)[1]
            grant = honk.service.links.check(token, task, 0)
            assert isinstance(grant, LinkGrant) and grant.stay_s == 12 * 3600
            assert grant.expires - time.time() <= 600
            entered = await c.get(f"/__honk/enter?t={token}", headers={"host": honk.host(task)})
            assert "Max-Age=43200" in entered.headers["set-cookie"]
            page = await c.get(
                "/", headers={"host": honk.host(task), "cookie": entered.headers["set-cookie"].split(";")[0]}
            )
            assert page.json()["app"] is True
            missing = await c.get("/tasks/t-zzzzzzzzzzzz/preview", headers={"cookie": session})
            assert missing.status_code == 404
            shown = await c.get(f"/tasks/{task}", headers={"cookie": session})
            assert 'id="open-preview"' in shown.text and f'href="/tasks/{task}/preview"' in shown.text
            assert 'id="revoke-preview"' in shown.text


async def test_links_from_the_cli_work_until_revoked_and_revoking_is_gated_and_audited(
    tmp_path: Path, temporal, upstream
):
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    settings = settings_for(tmp_path, temporal.address, anonymous=False, policy_file=policy)
    async with serving(settings) as honk:
        task = await honk.task("cli", requested_by="ana@example.com")
        await honk.run_preview(task, upstream.socket_path)
        await honk.accounts.add_user("ana@example.com", "Ana", Role.requester)
        await honk.accounts.add_user("bo@example.com", "Bo", Role.requester)
        ana, bo = await honk.accounts.api_token("ana@example.com"), await honk.accounts.api_token("bo@example.com")

        out, err, code = await _cli(honk, ana, "preview", "link", task, "--days", "2")
        assert code == 0, err
        link = out.strip()
        assert link.startswith(f"http://{honk.host(task)}/__honk/enter?t=") and "honk preview revoke" in err
        grant = honk.service.links.check(link.split("t=", 1)[1], task, 0)
        assert isinstance(grant, LinkGrant) and 2 * 86_400 - 60 < grant.stay_s <= 2 * 86_400

        _, err, code = await _cli(honk, bo, "preview", "revoke", task)
        assert code != 0 and "bo@example.com may not" in err  # Bo neither asked for it nor may merge there
        out, err, code = await _cli(honk, ana, "preview", "revoke", task)
        assert code == 0 and "stopped working" in out, err
        async with httpx.AsyncClient(base_url=honk.url, timeout=30) as c:
            r = await c.get(link.removeprefix(f"http://{honk.host(task)}"), headers={"host": honk.host(task)})
        assert r.status_code == 403 and "revoked" in r.text
        audited = await honk.service.audit(AuditQuery(task_id=task))
        assert [(a.actor, a.action, a.outcome, a.front_door) for a in audited] == [
            ("ana@example.com", "preview_revoke", "ok", "cli"),
            ("bo@example.com", "preview_revoke", "refused", "cli"),
        ]

        _, err, code = await _cli(honk, ana, "preview", "link", "t-zzzzzzzzzzzz")
        assert code != 0 and "No task" in err


async def _session(honk, email: str) -> str:
    link = await honk.accounts.login_link(email, honk.url)
    async with httpx.AsyncClient(base_url=honk.url, timeout=30) as c:
        r = await c.get(link.removeprefix(honk.url))
    return r.headers["set-cookie"].split(";")[0]


async def _cli(honk, token: str, *args: str) -> tuple[str, str, int]:
    """The real `honk` CLI, run beside the server (which answers in this event loop)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "honk",
        *args,
        env={**os.environ, "HONK_URL": honk.url, "HONK_TOKEN": token},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await proc.communicate()
    return out.decode(), err.decode(), proc.returncode or 0
