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


def _across_task() -> tuple[TaskView, Timeline]:
    from honk.events import PullRequestUpdated, RepoPublished, TaskAccepted

    now = datetime.now(UTC)
    task = TaskView(
        id="t-cccccccccccc",
        repo="api",
        text="rename user_id",
        state=TaskState.ready,
        requested_by="a@x",
        agent="scripted",
        model=None,
        branch="honk/t-cccccccccccc",
        created_at=now,
        updated_at=now,
    )
    timeline = Timeline()
    for event in (
        TaskAccepted(repo="api", text="t", requested_by="a@x", agent="scripted", also=["web", "docs"]),
        PullRequestUpdated(number=7, url="https://forge/api/pull/7", draft=False, opened=True),
        RepoPublished(repo="web", changed=True, number=3, url='https://forge/web/pull/3"><b>', opened=True),
        RepoPublished(repo="docs", changed=False),
    ):
        timeline = timeline.fold(event)
    return task, timeline


def test_a_task_over_several_repos_shows_each_pull_request_in_merge_order():
    task, timeline = _across_task()
    page = ui.panel(User(email="m@x", name="m", role=Role.merger), task, timeline)
    card = page[page.index('id="pull-requests"') :]
    assert card.index("api") < card.index("web") < card.index("docs"), "in the order they merge"
    assert '<a href="https://forge/api/pull/7"' in card and ">#7</a>" in card and ">#3</a>" in card
    assert '"><b>' not in card, "a forge's url is escaped"
    assert '3. <strong>docs</strong> <span class="muted">no pull request yet</span>' in card
    one_repo = task.model_copy(update={"repo": "solo"})
    assert 'id="pull-requests"' not in ui.panel(User(email="m@x", name="m", role=Role.merger), one_repo, Timeline())


def test_the_new_task_form_asks_for_the_other_repos_as_a_comma_list():
    from honk.domain import RepoRef

    page = ui.new_page(User(email="m@x", name="m", role=Role.merger), [RepoRef(name="api", url="file:///x")], "api")
    assert 'name="also"' in page and "data-comma-list" in page and "Also in repos" in page
