"""The web app in a real browser (Debian's Chromium driven by Playwright) at a phone's viewport.

Against a real stack with accounts: sign in with a one-time link, ask for a change to the sample repo,
watch the timeline reach ready without reloading, open the live preview at its own origin, see the
follow-up's before/after change, merge, see merged; a stale page's
merge shows what happened; a write without the CSRF token is refused. Screenshots of every step go to
test-artifacts/web/; with HONK_UPDATE_SCREENSHOTS=1 they also replace docs/screenshots/ (the README's).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import httpx
import pytest

from honk.testing.processes import HonkStack
from repos import DIRECT_FIX, calc_files, plan_step, sample_files, scenario

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = os.environ.get("HONK_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "web"
DOCS_SHOTS = ROOT / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}")


@pytest.fixture
def web_stack(tmp_path, temporal):
    stack = HonkStack(tmp_path / "honk", temporal.address, anonymous="false")
    yield stack
    stack.stop()


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


class Phone:
    """Steps on a page: screenshots numbered in order, and the phone-first checks on every page."""

    def __init__(self) -> None:
        self.n = 0
        shutil.rmtree(SHOTS, ignore_errors=True)
        SHOTS.mkdir(parents=True)

    def shot(self, page, name: str, full: bool = True) -> None:
        self.n += 1
        page.screenshot(path=str(SHOTS / f"{self.n:02d}-{name}.png"), full_page=full)

    @staticmethod
    def fits(page) -> None:
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{page.url} scrolls sideways ({width}px wide)"
        small = page.evaluate("""() => [...document.querySelectorAll('button, .btn, select, .nav a, .seg a, summary')]
            .filter(e => e.offsetParent !== null)
            .map(e => [e.textContent.trim().slice(0, 30), e.getBoundingClientRect().height])
            .filter(([, h]) => h < 44)""")
        assert not small, f"touch targets under 44px on {page.url}: {small}"


def test_phone_sign_in_request_watch_preview_merge(web_stack, browser, make_remote):
    stack = web_stack
    link, token = stack.add_user("ada@example.com", "admin")
    stack.http.headers["Authorization"] = f"Bearer {token}"
    stack.add_repo("sample", make_remote(sample_files()).url)
    phone = Phone()
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on("dialog", lambda d: d.accept())

    # Not signed in: a friendly page about sign-in links, for every page.
    for path in ("/", "/new", "/repos", "/tasks/t-aaaaaaaaaaaa"):
        answer = page.goto(stack.url + path)
        assert answer.status == 401 and "one-time link" in page.inner_text("main"), path
    phone.fits(page)
    phone.shot(page, "sign-in")

    # The one-time link signs in (an HTTP-only cookie) and lands on the task list.
    page.goto(link)
    assert page.url == stack.url + "/"
    assert "ada@example.com" in page.inner_text("#who")
    assert not page.evaluate("document.cookie"), "the session cookie is HTTP-only"
    manifest = page.request.get(stack.url + "/manifest.webmanifest").json()
    assert {i["sizes"] for i in manifest["icons"]} == {"192x192", "512x512"}
    for i in manifest["icons"]:
        icon = page.request.get(stack.url + i["src"])
        assert icon.ok and icon.body().startswith(b"\x89PNG")
    assert page.locator("link[rel=manifest]").count() == 1 and page.locator("meta[name=theme-color]").count() == 2
    phone.fits(page)

    # Repos: listed with their default branch; an admin sees the add form.
    page.goto(stack.url + "/repos")
    assert "sample" in page.inner_text("#repos") and "main" in page.inner_text("#repos")
    assert page.locator("#add-repo").is_visible()
    phone.fits(page)
    phone.shot(page, "repos")

    # A new request from the phone.
    page.goto(stack.url + "/new")
    page.select_option("#repo", "sample")
    page.fill("#text", "The app crashes when a playlist is empty: fix it and add a test.")
    # A screenshot from the phone's photo picker goes with it (multipart, with the CSRF token).
    shot = page.request.get(stack.url + "/static/icon-192.png").body()
    page.set_input_files("#files", files=[{"name": "crash.png", "mimeType": "image/png", "buffer": shot}])
    phone.fits(page)
    phone.shot(page, "new-request")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/tasks/t-[a-z0-9]+$"))
    task_id = page.url.rsplit("/", 1)[1]
    attached = [e.event for e in stack.events(task_id) if e.event.kind == "attachments_received"]
    assert [(a.name, a.size) for a in attached[0].kept] == [("crash.png", len(shot))]
    page.evaluate("window.__samePage = true")  # gone if anything reloads the page
    page.wait_for_selector("#timeline li.k-agent_started")
    phone.fits(page)
    phone.shot(page, "working", full=False)

    # The timeline reaches ready live: no reload, the panel follows (checks, diffstat, preview, actions).
    page.wait_for_selector("#timeline li.k-task_ready", timeout=90_000)
    page.wait_for_selector("#merge")
    assert page.evaluate("window.__samePage") is True, "the page was not reloaded"
    assert "Ready for review" in page.inner_text("#status")
    assert "FAILED" in page.inner_text("#timeline"), "round 1's failing check is on the timeline"
    assert page.locator("#checks .pass").count() >= 2 and page.locator("#checks .fail").count() == 0
    assert page.inner_text("#diffstat").strip()
    page.click("#diff summary")  # the diff itself, highlighted: added lines carry Pygments' `gi` class
    # An event arriving re-renders the panel: the diff being read stays open.
    page.evaluate("honk.live.refresh()")
    page.wait_for_function("!window.honk.live.refreshing")
    assert page.locator("#diff[open]").count() == 1
    assert page.locator("#diff .gi").count() > 0 and "average_duration" in page.inner_text("#diff")
    assert not page.locator("#transcript-box").get_attribute("open"), "the transcript starts collapsed"
    assert page.locator("#transcript li").count() > 0
    # The new version, running at the task's own origin: its state, a QR code of a signed link for a phone,
    # and the before/after screenshots of "/" (the fix changes nothing visible there).
    card = page.locator("#live-preview")
    assert "Running" in card.locator("#live-preview-state").inner_text()
    assert card.locator(".qr svg path").count() == 1, "a QR code of a signed link, drawn server-side"
    assert card.locator(".shots img").count() >= 4, "phone and desktop, before and after"
    assert "no visible change" in card.inner_text()
    with page.expect_popup() as opened:
        page.click("#open-preview")
    preview = opened.value
    preview.wait_for_load_state()
    assert preview.url.startswith(f"http://{task_id}.localhost:{stack.port}/"), preview.url
    assert "Playlists" in preview.inner_text("h1"), "the app itself, served at its own origin"
    phone.fits(preview)
    phone.shot(preview, "preview-open", full=False)
    preview.close()
    phone.fits(page)
    page.evaluate("window.scrollTo(0, 0)")
    phone.shot(page, "ready", full=False)
    card.scroll_into_view_if_needed()
    phone.shot(page, "preview", full=False)
    page.click("#transcript-box summary")
    page.locator("#timeline li.k-checks_failed").scroll_into_view_if_needed()
    phone.shot(page, "timeline-and-transcript", full=False)

    # Request changes: the agent takes another round and the task is ready again, still live.
    page.evaluate("window.scrollTo(0, 0)")
    page.click("#actions summary")
    page.fill("#followup", "Also show 'No tracks yet' on the page when a playlist is empty.")
    phone.fits(page)
    page.click("#request-changes")
    page.wait_for_selector("#flash.ok")
    assert "Sent to the agent" in page.inner_text("#flash")
    phone.shot(page, "request-changes", full=False)
    page.wait_for_function("document.querySelectorAll('#timeline li.k-task_ready').length === 2", timeout=60_000)
    page.wait_for_selector("#merge")
    assert "follow-up from ada@example.com" in page.inner_text("#timeline")
    assert page.evaluate("window.__samePage") is True
    # The follow-up's change is visible: the screenshots were taken again, and "/" changed.
    shots = [e.event for e in stack.events(task_id) if e.event.kind == "screenshots_taken"]
    assert len(shots) == 2 and shots[-1].routes[0].changed > 0, shots
    page.wait_for_selector("#live-preview .shots img[alt$='diff']")
    assert "changed" in page.inner_text("#live-preview .shots")

    # A second page, opened before the merge and left asleep (its live stream stopped, as a phone does).
    stale = context.new_page()
    stale.on("dialog", lambda d: d.accept())
    stale.goto(f"{stack.url}/tasks/{task_id}")
    stale.evaluate("honk.live.close()")

    page.click("#merge")
    page.wait_for_selector("#timeline li.k-merged", timeout=60_000)
    page.wait_for_selector("#status [data-state=merged]")
    assert page.locator("#merge").count() == 0 and page.locator("#cancel").count() == 0
    assert page.evaluate("window.__samePage") is True
    page.evaluate("window.scrollTo(0, 0)")
    phone.fits(page)
    phone.shot(page, "merged", full=False)
    page.emulate_media(color_scheme="dark")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(15, 17, 21)"
    phone.shot(page, "merged-dark", full=False)
    page.emulate_media(color_scheme="light")

    # The stale page's Merge says what happened, in the page, and catches up.
    stale.click("#merge")
    stale.wait_for_selector("#flash.err")
    assert f"Task {task_id} is already merged" in stale.inner_text("#flash")
    stale.wait_for_selector("#status [data-state=merged]")
    phone.fits(stale)
    phone.shot(stale, "stale-merge", full=False)

    # Writes from a session without the CSRF token are refused.
    refused = page.evaluate(
        """async (id) => {
        const r = await fetch(`/api/tasks/${id}/cancel`, {method: 'POST', headers: {'Content-Type': 'application/json'},
                                                        body: '{}'});
        return [r.status, (await r.json()).detail];
    }""",
        task_id,
    )
    assert refused[0] == 403 and "CSRF" in refused[1]

    # The list: mine / all, filters, state at a glance.
    page.goto(stack.url + "/?scope=mine&state=merged")
    assert page.locator("#tasks li").count() == 1 and "Merged" in page.inner_text("#tasks")
    page.goto(stack.url + "/?state=failed")
    assert page.locator("#tasks li").count() == 0
    page.goto(stack.url + "/")
    phone.fits(page)
    phone.shot(page, "task-list")

    # The audit log (admins): what was asked, changed and merged, by whom, through which door.
    page.click(".nav a[href='/audit']")
    entries = page.inner_text("#audit")
    assert "request" in entries and "merge" in entries and "follow up" in entries
    assert "ada@example.com · via web" in entries
    page.select_option("select[name=action]", "merge")
    page.click("form.filters button[type=submit]")
    # the merge, and the stale page's second try, refused
    assert page.locator("#audit li.o-ok").count() == 1 and page.locator("#audit li.o-refused").count() == 1
    assert "already merged" in page.inner_text("#audit li.o-refused")
    phone.fits(page)
    phone.shot(page, "audit")
    context.close()
    _, requester = stack.add_user("rob@example.com", "requester")
    refused = httpx.get(f"{stack.url}/api/audit", headers={"Authorization": f"Bearer {requester}"})
    assert refused.status_code == 403 and "admin" in refused.json()["detail"]

    if os.environ.get("HONK_UPDATE_SCREENSHOTS"):  # refresh the README's pictures on purpose only
        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        for old in DOCS_SHOTS.glob("web-*.png"):
            old.unlink()
        for shot in sorted(SHOTS.glob("*.png")):
            shutil.copy(shot, DOCS_SHOTS / f"web-{shot.name}")


def _ada_on_a_phone(stack: HonkStack, browser):  # noqa: ANN001, ANN202 - Playwright's Browser and Page
    """An admin's token on the test's API client; Ada, a requester, signed in on a phone by her one-time link."""
    _, admin = stack.add_user("root@example.com", "admin")
    stack.http.headers["Authorization"] = f"Bearer {admin}"
    link, _ = stack.add_user("ada@example.com", "requester")
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(link)
    return page


def test_phone_asks_for_a_plan_revises_it_and_approves_it(web_stack, browser, make_remote):
    stack = web_stack
    page = _ada_on_a_phone(stack, browser)
    steps = scenario(plan_step("Make add() add"), plan_step("Make add() add, with a docstring"), DIRECT_FIX)
    stack.add_repo("calc", make_remote(calc_files(steps)).url)

    page.goto(stack.url + "/new")
    page.select_option("#repo", "calc")
    page.fill("#text", "make add() add")
    page.check("#plan")
    Phone.fits(page)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/tasks/t-[a-z0-9]+$"))
    page.wait_for_selector("#approve-plan")
    assert "Plan to approve" in page.inner_text("#status")
    assert "Plan v1" in page.inner_text("#plan") and "Change the minus in add() to a plus" in page.inner_text("#plan")
    Phone.fits(page)

    page.click("#actions summary")
    page.fill("#plan-changes", "add a docstring too")
    page.click("#revise-plan")
    page.wait_for_selector("#plan[data-version='2']")
    assert "with a docstring" in page.inner_text("#plan")
    page.click("#approve-plan")
    page.wait_for_selector("#status [data-state=ready]", timeout=60_000)
    assert "Approved by ada@example.com" in page.inner_text("#plan")
    assert "plan v2 approved by ada@example.com" in page.inner_text("#timeline")


def test_the_also_in_repos_field_asks_one_change_across_repos_and_an_unknown_one_is_said(
    web_stack, browser, make_remote
):
    """The new-request form's "Also in repos", typed on a phone as people do ("web ,  docs"): one task over
    the three repos, its pull requests card listing them in the merge order. A repo Honk does not know is
    said on the page, and nothing starts."""
    stack = web_stack
    page = _ada_on_a_phone(stack, browser)
    for name in ("api", "web", "docs"):
        stack.add_repo(name, make_remote(calc_files(DIRECT_FIX)).url)

    page.goto(stack.url + "/new")
    page.select_option("#repo", "api")
    page.fill("#text", "rename user_id to account_id everywhere")
    page.fill("#also", "web, nosuch")
    page.click("button[type=submit]")
    page.wait_for_selector("#flash.err")
    assert "nosuch" in page.inner_text("#flash"), page.inner_text("#flash")
    assert stack.http.get("/api/tasks").json() == [], "nothing started"

    page.fill("#also", " web ,  docs ")
    Phone.fits(page)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/tasks/t-[a-z0-9]+$"))
    task_id = page.url.rsplit("/", 1)[1]
    (accepted,) = [e.event for e in stack.events(task_id) if e.event.kind == "task_accepted"]
    assert accepted.also == ["web", "docs"]
    card = page.locator("#pull-requests")
    card.wait_for()
    assert [li.inner_text().split()[1] for li in card.locator("li").all()] == ["api", "web", "docs"]
    Phone.fits(page)
