"""The new version of the app on the phone, end to end through the server, Temporal, a real worker and
the scripted agent: a repo whose build makes a signed APK gets, once the task is ready, an install page
behind a signed, expiring link — the phone opens it with no Honk session, downloads the very APK the
build made with the installing type — and a build that makes a corrupt APK still reaches review, saying
the delivery failed and why. Tampered links open nothing."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil

import httpx
import pytest

from honk.domain import TaskState
from honk.sample import sample_repo_dir
from honk.testing.processes import HonkStack, wait_until
from repos import DIRECT_FIX, calc_files

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")
APK_B64 = (sample_repo_dir() / "android" / "playlist.apk.b64").read_text()
APK = base64.b64decode(APK_B64)
BUILD = """
[build]
run = "mkdir -p dist && base64 -d app.apk.b64 > dist/app.apk"
artifacts = ["dist/*.apk"]

[deliver]
kind = "android-apk"
"""
CORRUPT = 'run = "mkdir -p dist && base64 -d app.apk.b64 | head -c 4000 > dist/app.apk"'


@pytest.fixture
def stack(tmp_path, temporal):
    stack = HonkStack(tmp_path / "honk", temporal.address, max_rounds="2")
    yield stack
    stack.stop()


def delivered(stack: HonkStack, task_id: str) -> dict:
    [event] = [e.event for e in stack.events(task_id) if e.event.kind in ("app_delivered", "delivery_failed")][-1:]
    return {**event.outcome.model_dump(mode="json"), "event": event.kind}


@needs_bwrap
def test_a_ready_task_gets_an_install_page_whose_link_downloads_the_apk_the_build_made(stack, make_remote):
    stack.add_repo("app", make_remote(calc_files(DIRECT_FIX, BUILD) | {"app.apk.b64": APK_B64}).url)
    task = stack.ask("app", "make add() add")
    view = stack.wait_for(task.id, TaskState.ready, TaskState.failed)
    assert view.state == TaskState.ready, view.reason
    kinds = stack.kinds(task.id)
    assert kinds.index("build_ready") < kinds.index("delivery_started") < kinds.index("app_delivered")
    assert kinds.index("app_delivered") < kinds.index("task_ready")

    got = delivered(stack, task.id)
    assert (got["title"], got["version"], got["build"], got["label"]) == ("Honk Playlist", "1.0", "1", "Install")
    assert got["signature"]["verified"] and got["expires_at"]
    url = got["url"]
    assert url.startswith(f"{stack.url}/install/")

    with httpx.Client(timeout=30) as phone:  # no Honk session: the link is the authorisation
        page = phone.get(url)
        assert page.status_code == 200 and "Honk Playlist" in page.text and "<svg" in page.text
        [download] = re.findall(r'id="install"[^>]*href="([^"]+)"', page.text)
        apk = phone.get(download if download.startswith("http") else f"{stack.url}{download}")
        assert apk.status_code == 200
        assert apk.headers["content-type"] == "application/vnd.android.package-archive"
        assert hashlib.sha256(apk.content).hexdigest() == hashlib.sha256(APK).hexdigest()

        token = url.rsplit("/", 1)[1]
        forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        assert phone.get(f"{stack.url}/install/{forged}").status_code == 403
        assert phone.get(f"{stack.url}/dl/{token}/other.apk").status_code == 403


@needs_bwrap
def test_a_corrupt_apk_is_refused_and_the_task_stays_reviewable_saying_why(stack, make_remote):
    files = calc_files(
        DIRECT_FIX, BUILD.replace('run = "mkdir -p dist && base64 -d app.apk.b64 > dist/app.apk"', CORRUPT)
    )
    stack.add_repo("app", make_remote(files | {"app.apk.b64": APK_B64}).url)
    task = stack.ask("app", "make add() add")
    view = stack.wait_for(task.id, TaskState.ready, TaskState.failed)
    assert view.state == TaskState.ready, view.reason
    got = delivered(stack, task.id)
    assert got["event"] == "delivery_failed" and got["url"] is None
    assert "app.apk" in got["why"]
    [ready] = [e.event for e in stack.events(task.id) if e.event.kind == "task_ready"]
    assert any(w.startswith("delivery failed: ") and "app.apk" in w for w in ready.warnings)


# A service that takes a while (TestFlight processes a build for 5–30 minutes): the upload says
# "processing"; `wait` is asked on a durable timer until it gives the link.
PROCESSING = """
[build]
run = "mkdir -p dist && echo ipa > dist/App.ipa"
artifacts = ["dist/App.ipa"]

[deliver]
kind = "testflight"
run = "echo status=processing >> $HONK_OUTPUT && echo 'message=Apple is processing the build' >> $HONK_OUTPUT"
wait = "n=$(cat .polls 2>/dev/null || echo 0); echo $((n+1)) > .polls; if [ $n -ge {ready_after} ]; then echo url=https://testflight.apple.com/join/AbCd1234 >> $HONK_OUTPUT; else echo status=processing >> $HONK_OUTPUT; fi"
wait_every = 1
wait_timeout = {timeout}
"""


@needs_bwrap
def test_a_build_the_service_is_still_processing_is_reviewable_and_its_link_comes_later(stack, make_remote):
    stack.add_repo("app", make_remote(calc_files(DIRECT_FIX, PROCESSING.format(ready_after=1, timeout=60))).url)
    task = stack.ask("app", "make add() add")
    assert stack.wait_for(task.id, TaskState.ready, TaskState.failed).state == TaskState.ready
    wait_until(lambda: "app_delivered" in stack.kinds(task.id), 60, "the service's link")
    kinds = stack.kinds(task.id)
    assert kinds.index("delivery_waiting") < kinds.index("task_ready") < kinds.index("app_delivered")
    waiting = [e.event for e in stack.events(task.id) if e.event.kind == "delivery_waiting"]
    assert waiting[0].outcome.message == "Apple is processing the build"
    assert [w.waited_s for w in waiting] == [0.0, 1.0]  # the upload's answer, then the first wait's
    assert delivered(stack, task.id)["url"] == "https://testflight.apple.com/join/AbCd1234"
    assert stack.task(task.id).state == TaskState.ready  # still waiting for a person: the wait changed nothing


@needs_bwrap
def test_a_service_that_never_finishes_processing_fails_the_delivery_after_its_timeout(stack, make_remote):
    stack.add_repo("app", make_remote(calc_files(DIRECT_FIX, PROCESSING.format(ready_after=99, timeout=2))).url)
    task = stack.ask("app", "make add() add")
    assert stack.wait_for(task.id, TaskState.ready, TaskState.failed).state == TaskState.ready
    wait_until(lambda: "delivery_failed" in stack.kinds(task.id), 60, "the wait to end")
    got = delivered(stack, task.id)
    assert "still processing the build after" in got["why"] and "wait_timeout" in got["why"]
    assert stack.task(task.id).state == TaskState.ready
