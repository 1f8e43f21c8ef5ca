"""The web app's server-side parts that need no browser: icons, QR codes, escaping."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import png

from honk.accounts import Role, User
from honk.domain import TaskState, TaskView
from honk.timeline import Timeline
from honk.web import ui


def test_icons_are_pngs_of_their_size():
    for size in (32, 192, 512):
        width, height, _, _ = png.Reader(file=io.BytesIO(ui.icon(size))).read()
        assert (width, height) == (size, size)


def test_the_qr_code_is_inline_svg():
    svg = ui.qr_svg("http://127.0.0.1:8000/previews/t-abc/")
    assert svg.startswith("<svg ") and "<?xml" not in svg and 'width="' not in svg.split(">")[0]


def test_what_people_wrote_is_escaped_and_actions_follow_state_and_role():
    now = datetime.now(UTC)
    task = TaskView(
        id="t-aaaaaaaaaaaa",
        repo="r",
        text="<script>alert(1)</script>",
        state=TaskState.ready,
        requested_by="a@x",
        agent="scripted",
        model=None,
        branch="honk/t-aaaaaaaaaaaa",
        created_at=now,
        updated_at=now,
        preview_url='http://h/previews/t-aaaaaaaaaaaa/"><b>',
    )
    merger = User(email="m@x", name="m", role=Role.merger)
    asker = User(email="r@x", name="r", role=Role.requester)
    page = ui.task_page(merger, task, [], Timeline(), "")
    assert "<script>alert" not in page and "&lt;script&gt;" in page and '"><b>' not in page
    assert 'id="merge"' in page and 'id="cancel"' in page
    assert 'id="merge"' not in ui.panel(asker, task, Timeline()) and "needs" not in ui.panel(asker, task, Timeline())
    done = task.model_copy(update={"state": TaskState.merged})
    assert 'id="merge"' not in ui.panel(merger, done, Timeline()) and 'id="cancel"' not in ui.panel(
        merger, done, Timeline()
    )


def test_refused_requests_have_their_own_section_and_admins_an_allow_host_form():
    from honk.events import NetworkBlocked

    now = datetime.now(UTC)
    task = TaskView(
        id="t-bbbbbbbbbbbb",
        repo="calc",
        text="fix",
        state=TaskState.ready,
        requested_by="a@x",
        agent="scripted",
        model=None,
        branch="honk/t-bbbbbbbbbbbb",
        created_at=now,
        updated_at=now,
    )
    refused = [
        NetworkBlocked(
            host="pypi.org",
            port=443,
            method="CONNECT",
            phase="check",
            reason="not_allowed",
            detail="pypi.org is not in the allowlist for check",
            command="pip install <b>x</b>",
        ),
        NetworkBlocked(
            host="10.0.0.1", port=443, method="CONNECT", phase="agent", reason="ip_literal", detail="an IP", command="c"
        ),
    ]
    timeline = Timeline()
    for event in refused * 2:
        timeline = timeline.fold(event)
    admin = User(email="ada@x", name="ada", role=Role.admin)
    page = ui.panel(admin, task, timeline, may_allow=True)
    assert 'id="blocked"' in page and "CONNECT pypi.org</span>\nin <strong>check</strong> ×2" in page
    assert "<b>x</b>" not in page and "pip install &lt;b&gt;x&lt;/b&gt;" in page
    assert page.count('data-api="/api/repos/calc/network/allow"') == 1, "never an address"
    assert '<input type="hidden" name="host" value="pypi.org">' in page and 'data-lists="phases"' in page
    asker = ui.panel(User(email="r@x", name="r", role=Role.requester), task, timeline)
    assert "network/allow" not in asker and "honk network allow calc pypi.org --phase check" in asker
    assert 'id="blocked"' not in ui.panel(admin, task, Timeline(), may_allow=True)
