"""A task's live preview in a real browser (Debian's Chromium driven by Playwright) at a phone's viewport,
against the real server with accounts and a small app on a unix socket as the preview's server.

Honk is opened at `localhost:<port>`, so the preview (`<task>.localhost:<port>`) is *same-site* with it:
the hardest case for cookies. The signed-in person opens the preview from Honk; the app's script tries
Honk's merge on its own origin and on Honk's, and nothing is merged; Honk's session cookie never reaches
the preview. A phone without a Honk session opens the Slack link; a tampered or expired link is refused.
Screenshots go to test-artifacts/web-preview/."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from preview_upstream import Upstream

from conftest import serving, settings_for
from honk.accounts import Role
from honk.domain import TaskState
from honk.store import AuditQuery

async_api = pytest.importorskip("playwright.async_api")
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web-preview"
pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}"),
    pytest.mark.timeout(180),
]


async def test_a_previewed_page_cannot_drive_honk_nor_see_its_session(tmp_path, temporal):
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    async with serving(settings_for(tmp_path, temporal.address, anonymous=False)) as honk:
        honk_origin = f"http://localhost:{honk.port}"
        task = await honk.task("browser", requested_by="ana@example.com")
        app = await Upstream(tmp_path / "app.sock", honk_url=honk_origin, task_id=task).start()
        try:
            await honk.run_preview(task, app.socket_path)
            await honk.accounts.add_user("ana@example.com", "Ana", Role.admin)
            sign_in = await honk.accounts.login_link("ana@example.com", honk_origin)

            async with async_api.async_playwright() as p:
                browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                try:
                    context = await browser.new_context(viewport=PHONE)
                    from_honk: list[tuple[str, str, int]] = []  # what Honk's origin answered, seen by the browser
                    context.on("response", lambda r: from_honk.append((r.request.method, r.url, r.status)))
                    page = await context.new_page()
                    await page.goto(sign_in)
                    await page.goto(f"{honk_origin}/tasks/{task}")
                    await page.screenshot(path=str(SHOTS / "01-task-page.png"), full_page=True)
                    async with context.expect_page() as opened:
                        await page.click("#open-preview")
                    preview = await opened.value
                    await preview.wait_for_load_state()
                    assert preview.url == f"http://{task}.localhost:{honk.port}/"
                    await preview.goto(f"http://{task}.localhost:{honk.port}/page")
                    await preview.wait_for_function("document.getElementById('out').textContent.startsWith('{')")
                    attempts = json.loads(await preview.inner_text("#out"))
                    await preview.screenshot(path=str(SHOTS / "02-preview-after-attempts.png"), full_page=True)

                    # Its own origin: the app's own route answered, not Honk's.
                    assert json.loads(attempts["own"]) == {
                        "app": True,
                        "method": "POST",
                        "path": f"/api/tasks/{task}/merge",
                        "body": 2,
                    }
                    # Honk's origin: no answer a script may read, and Honk refused what was sent.
                    assert attempts["honk_json"].startswith("error:"), attempts
                    assert attempts["honk_simple"] == "opaque", attempts
                    merges = [(m, s) for m, u, s in from_honk if u == f"{honk_origin}/api/tasks/{task}/merge"]
                    assert merges and all(s >= 400 for _, s in merges), merges
                    assert ("POST", 403) in merges  # the Origin check (the session cookie was sent: same site)

                    cookies = {c["name"]: c for c in await context.cookies()}
                    assert cookies["honk_session"]["domain"] == "localhost"  # host-only: no leading dot
                    assert cookies["honk_preview"]["domain"] == f"{task}.localhost"
                    assert cookies["honk_preview"]["httpOnly"] and cookies["honk_preview"]["sameSite"] == "Lax"
                finally:
                    await browser.close()

            assert (await honk.service.task(task)).state == TaskState.queued
            assert [a for a in await honk.service.audit(AuditQuery(task_id=task)) if a.action == "merge"] == []
            seen = [headers.get("cookie", "") for _, _, headers in app.seen]
            assert seen and not any("honk_session" in c or "honk_preview" in c for c in seen), seen
        finally:
            await app.stop()


async def test_a_phone_without_a_session_opens_the_slack_link_and_a_bad_one_is_refused(tmp_path, temporal):
    async with serving(settings_for(tmp_path, temporal.address, anonymous=False)) as honk:
        task = await honk.task("phone")
        app = await Upstream(tmp_path / "app.sock", honk_url=honk.url, task_id=task).start()
        try:
            await honk.run_preview(task, app.socket_path)
            link = await honk.service.preview_link(task)
            async with async_api.async_playwright() as p:
                browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                try:
                    phone = await browser.new_page(viewport=PHONE)
                    await phone.goto(link + "&next=/page")
                    assert phone.url == f"http://{task}.localhost:{honk.port}/page"
                    assert await phone.inner_text("#hello") == "Hello from the app"
                    assert await phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
                    await phone.screenshot(path=str(SHOTS / "03-phone-slack-link.png"))

                    token = link.split("t=", 1)[1]
                    tampered = link.replace(token, token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))
                    expired = link.replace(token, honk.service.links.token(task, 0, -60))
                    for bad, why in ((tampered, "not valid"), (expired, "expired")):
                        stranger = await browser.new_page(viewport=PHONE)
                        answer = await stranger.goto(bad)
                        assert answer is not None and answer.status == 403
                        text = await stranger.inner_text("body")
                        assert "You cannot open this preview" in text and why in text and "task's page" in text
                        assert await stranger.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
                        await stranger.screenshot(path=str(SHOTS / f"04-refused-{why.replace(' ', '-')}.png"))
                        assert await stranger.context.cookies() == []  # a refused link sets nothing
                finally:
                    await browser.close()
        finally:
            await app.stop()
