"""Delivery and deploy on Honk's own web server, as `honk server` builds it (honk.composition.server) on a
real uvicorn: a delivered app's install page is mounted and opens from its signed link (its QR code inline,
and as a PNG for Slack's image block), a changed link opens neither; the task page and the API's deploy and
revert routes are in the tests below."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from conftest import Served, serving, settings_for
from honk.composition.previews import artifact_links
from honk.deliver.qr import qr_png
from honk.deliver.shelf import DeliveryShelf
from honk.domain import ANDROID_APK, DeliveredApp, DeployOutcome, DeployState, RepoRef
from honk.events import AnyEvent, DeployFinished, DeployStarted, Merged

PNG = b"\x89PNG\r\n\x1a\n"
# One server for the module (its start is most of the time): its tests share its event loop.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def web(tmp_path_factory: pytest.TempPathFactory, temporal) -> AsyncIterator[Served]:
    async with serving(settings_for(tmp_path_factory.mktemp("honk"), temporal.address)) as served:
        yield served


def shelve(served: Served, task_id: str, name: str = "app.apk", body: bytes = b"PK\x03\x04 an apk") -> str:
    """A file delivered as the deliver step leaves it (the file, what its page shows); its install token."""
    artifacts = served.settings.artifacts_dir
    (artifacts / task_id).mkdir(parents=True, exist_ok=True)
    (artifacts / task_id / name).write_bytes(body)
    digest = hashlib.sha256(body).hexdigest()
    app = DeliveredApp(
        task_id=task_id,
        name=name,
        kind=ANDROID_APK,
        title="Calc",
        version="2.3.0",
        build="317",
        size=len(body),
        sha256=digest,
        bundle_id="dev.honk.calc",
    )
    DeliveryShelf(artifacts).put(app)
    return artifact_links(served.settings).token(task_id, name, digest, ttl_s=3600)


async def test_the_install_page_is_mounted_with_its_qr_code_inline_and_as_a_png(web: Served):
    token = shelve(web, "t-install00001")
    install_url = artifact_links(web.settings).install_url(token)
    assert install_url.startswith(web.settings.base_url + "/install/")

    async with httpx.AsyncClient(base_url=web.url, timeout=30) as http:
        page = await http.get(f"/install/{token}")
        qr = await http.get(f"/install/{token}/qr.png")

    assert page.status_code == 200, page.text
    assert "<title>Calc</title>" in page.text and 'aria-label="QR code of the install link"' in page.text
    assert qr.status_code == 200 and qr.headers["content-type"] == "image/png"
    assert qr.content.startswith(PNG) and qr.content == qr_png(install_url)
    assert qr.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize(
    "mangle",
    [lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"), lambda t: "x" * 5000, lambda t: "%00"],
    ids=["tampered", "oversized", "nul"],
)
async def test_a_changed_link_opens_neither_the_page_nor_its_qr_code(web: Served, mangle):
    token = mangle(shelve(web, "t-install00002"))
    async with httpx.AsyncClient(base_url=web.url, timeout=30) as http:
        for path in (f"/install/{token}", f"/install/{token}/qr.png"):
            res = await http.get(path)
            assert res.status_code in (403, 404), (path, res.status_code)
            assert not res.content.startswith(PNG)


async def test_an_expired_link_says_so_and_makes_no_qr_code(web: Served):
    task_id, body = "t-install00003", b"PK an apk"
    shelve(web, task_id, body=body)
    expired = artifact_links(web.settings).token(task_id, "app.apk", hashlib.sha256(body).hexdigest(), ttl_s=-1)
    async with httpx.AsyncClient(base_url=web.url, timeout=30) as http:
        res = await http.get(f"/install/{expired}/qr.png")
    assert res.status_code == 403 and "expired on" in res.text


async def test_qr_codes_refuse_an_empty_or_oversized_link():
    for url in ("", "https://honk.example.com/" + "a" * 3000):
        with pytest.raises(ValueError):
            qr_png(url)


# -- production through the API and the task page ------------------------------------------------------
COMMIT = "0123456789abcdef0123456789abcdef01234567"


async def merged_task(served: Served, deploy: DeployState | None = "health_failed") -> str:
    """A task merged as the workflow leaves one (its workflow never runs), its deploy ended as `deploy`."""
    task_id = await served.task(f"merged-{uuid.uuid4().hex}")
    events: list[AnyEvent] = [Merged(commit=COMMIT, target="main", approved_by="bo@example.com")]
    if deploy is not None:
        outcome = DeployOutcome(state=deploy, commit=COMMIT, detail="## health\nHTTP 502", url="https://calc.example")
        events += [DeployStarted(commit=COMMIT, target="main", by="bo@example.com"), DeployFinished(outcome=outcome)]
    await served.service.store.append(task_id, *events)
    return task_id


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def calc(web: Served) -> str:
    if await web.service.store.get_repo("calc") is None:
        await web.service.store.add_repo(RepoRef(name="calc", url="/nowhere"))
    return "calc"


async def test_revert_from_the_api_starts_one_revert_task(web: Served, calc: str):
    task_id = await merged_task(web)
    async with httpx.AsyncClient(base_url=web.url, timeout=30) as http:
        page = await http.get(f"/tasks/{task_id}")
        assert 'id="deploy-log">## health\nHTTP 502</pre>' in page.text and 'id="revert"' in page.text
        res = await http.post(f"/api/tasks/{task_id}/revert", json={})
        assert res.status_code == 202, res.text
        reverting = res.json()
        assert reverting["id"] != task_id and reverting["text"].startswith(f"Revert task {task_id} ({COMMIT[:10]})")
        again = await http.post(f"/api/tasks/{task_id}/revert", json={})
        assert again.status_code == 409 and "already being reverted" in again.json()["detail"]
        page = await http.get(f"/tasks/{task_id}")
        assert f'<a href="/tasks/{reverting["id"]}">' in page.text and 'id="revert"' not in page.text


async def test_revert_and_deploy_refuse_what_they_cannot_do(web: Served, calc: str):
    live = await merged_task(web, deploy="live")
    ready = await web.task(f"ready-{uuid.uuid4().hex}")
    async with httpx.AsyncClient(base_url=web.url, timeout=30) as http:
        held = await http.post(f"/api/tasks/{live}/deploy", json={})
        assert held.status_code == 409 and "has no deploy waiting to start" in held.json()["detail"]
        res = await http.post(f"/api/tasks/{ready}/revert", json={})
        assert res.status_code == 409 and "only a merged change can be reverted" in res.json()["detail"]
        missing = await http.post("/api/tasks/t-nosuchtask00/revert", json={})
        assert missing.status_code == 404


async def test_a_page_of_another_origin_or_a_form_cannot_revert(web: Served, calc: str):
    task_id = await merged_task(web)
    async with httpx.AsyncClient(base_url=web.url, timeout=30) as http:
        cross = await http.post(f"/api/tasks/{task_id}/revert", json={}, headers={"Origin": "https://evil.example.com"})
        assert cross.status_code == 403
        form = await http.post(f"/api/tasks/{task_id}/revert", data={"by": "x"})
        assert form.status_code == 415
    assert (await web.service.timeline(task_id)).revert_task is None


async def test_a_repos_deploys_newest_first(web: Served, calc: str):
    history = web.service.deploy_history
    first = await history.started("calc", "t-aaaaaaaaaaa1", "a" * 40, "bo@example.com")
    await history.moved(first, "live", link="https://calc.example.com")
    second = await history.started("calc", "t-aaaaaaaaaaa2", "b" * 40, "cy@example.com")
    await history.moved(second, "health_failed", detail="HTTP 502")
    async with httpx.AsyncClient(base_url=web.url, timeout=30) as http:
        res = await http.get("/api/repos/calc/deploys", params={"limit": 2})
        assert res.status_code == 200, res.text
        listed = res.json()
        assert [(d["commit"], d["by"], d["state"]) for d in listed] == [
            ("b" * 40, "cy@example.com", "health_failed"),
            ("a" * 40, "bo@example.com", "live"),
        ]
        assert listed[1]["link"] == "https://calc.example.com"
        assert (await http.get("/api/repos/nope/deploys")).status_code == 404
        for bad in ("0", "501", "x"):
            assert (await http.get("/api/repos/calc/deploys", params={"limit": bad})).status_code == 422
        assert (await http.get("/api/repos/" + "x" * 200 + "/deploys")).status_code == 422


CHROMIUM = "/usr/bin/chromium"


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}")
async def test_revert_pressed_on_the_task_page_opens_the_revert_task(web: Served, calc: str):
    """In a real browser (the page's script posts the form as JSON with its CSRF token and Origin)."""
    from playwright.async_api import async_playwright, expect

    task_id = await merged_task(web)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = await browser.new_page(viewport={"width": 390, "height": 844})
            await page.goto(f"{web.url}/tasks/{task_id}")
            await expect(page.locator("#deploy-state")).to_contain_text("Health check failed")
            page.on("dialog", lambda dialog: dialog.accept())
            await page.locator("#revert").click()
            await page.wait_for_url(lambda url: "/tasks/" in url and task_id not in url, timeout=15_000)
            await expect(page.locator("#title")).to_contain_text(f"Revert task {task_id}")
        finally:
            await browser.close()
    reverting = (await web.service.timeline(task_id)).revert_task
    assert reverting is not None and page.url.endswith(f"/tasks/{reverting}")
