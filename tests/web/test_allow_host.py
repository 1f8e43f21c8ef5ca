"""The task page shows what the egress proxy refused, and a repo's admin allows the host from it, in a
real browser (Debian's Chromium driven by Playwright) against a real stack with accounts and the access
policy: the button posts to the API with the session's CSRF token (a write without it is refused:
tests/scenarios/test_network_allowances.py), the allowance is listed and audited
as done from the web, nothing is re-run; a requester sees the refusal and the command, not the button."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from honk.domain import TaskState
from honk.testing.processes import HonkStack
from repos import DIRECT_FIX, index_reading_calc

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}"),
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap"),
]
POLICY = '[users."ada@example.com"]\n[users."ryo@example.com"]\n[repos."*"]\nadmins = ["ada@example.com"]\n'


@pytest.fixture
def stack(tmp_path, temporal):
    s = HonkStack(tmp_path / "honk", temporal.address, anonymous="false", policy=POLICY)
    yield s
    s.stop()


def test_an_admin_allows_a_refused_host_from_the_task_page(stack, make_remote):
    ada_link, ada = stack.add_user("ada@example.com", "admin")
    ryo_link, _ = stack.add_user("ryo@example.com", "requester")
    stack.http.headers["Authorization"] = f"Bearer {ada}"
    stack.add_repo("calc", make_remote(index_reading_calc(DIRECT_FIX)).url)
    task = stack.ask("calc", "fix add")
    assert stack.wait_for(task.id, TaskState.ready, TaskState.failed, timeout_s=120).state == TaskState.ready

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            requester = browser.new_page(viewport={"width": 390, "height": 844})
            requester.goto(ryo_link)
            requester.goto(f"{stack.url}/tasks/{task.id}")
            refused = requester.locator("#blocked")
            assert "CONNECT pypi.org" in refused.inner_text() and "honk network allow calc pypi.org --phase check" in (
                refused.inner_text()
            )
            assert requester.locator("#blocked button").count() == 0

            page = browser.new_page(viewport={"width": 390, "height": 844})
            page.goto(ada_link)
            page.goto(f"{stack.url}/tasks/{task.id}")
            kinds_before = stack.kinds(task.id)
            page.on("dialog", lambda dialog: dialog.accept())
            page.get_by_role("button", name="Allow pypi.org for check").click()
            sync_api.expect(page.locator("#flash")).to_contain_text(
                "Allowed pypi.org for check in calc. Nothing was re-run: ask again or follow up to use it."
            )
        finally:
            browser.close()

    listed = stack.http.get("/api/repos/calc/network").json()["allowed"]
    assert [(a["host"], a["phases"], a["created_by"]) for a in listed] == [("pypi.org", ["check"], "ada@example.com")]
    assert stack.kinds(task.id) == kinds_before and stack.task(task.id).state == TaskState.ready, "nothing re-ran"
    audit = stack.http.get("/api/audit", params={"action": "network_allow"}).json()
    assert [(a["actor"], a["outcome"], a["front_door"], a["detail"]) for a in audit] == [
        ("ada@example.com", "ok", "web", "allowed pypi.org for check")
    ]
