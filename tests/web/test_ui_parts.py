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
