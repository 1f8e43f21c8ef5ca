"""The campaign front doors — `/api/campaigns…`, the `/campaigns` pages, `honk campaign …` and `@honk in every repo
…: …` in Slack — on the server `honk server` builds (honk.composition.server: real TaskService, store, accounts,
Temporal, the Slack front door against the fake Slack Web API), with signed-in people and hostile callers.

The start tests run on the real `Campaigns` (the FLEET registered as real git remotes) and read what the door
sent from the stored campaign (GET /api/campaigns/{id}, the campaign store). The rest still use `Recorded`, a
`Campaigns` written below that answers from memory: they need members ready, failed, refused and merged, which
the real service reaches only with workers running every member's task (tests/scenarios do that, slowly).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from honk.access.policy import Refused
from honk.accounts import Accounts, Role
from honk.campaigns import Campaigns
from honk.domain import (
    CampaignMember,
    CampaignSettings,
    CampaignState,
    CampaignView,
    MemberActed,
    RepoRef,
    RepoSelector,
    SlackThread,
    TaskState,
    TaskView,
)
from honk.errors import Conflict, NotFound, UserFacingError
from honk.gate import Actor
from honk.store.campaigns import CampaignStore
from honk.testing.fake_slack import SLACK_SECRET, FakeSlack, mention_event, sign
from honk.testing.fleet import RepoSpec, make_fleet
from honk.workflow.campaign_policy import campaign_id_for
from web.conftest import Served, serving, settings_for

AT = datetime(2026, 12, 1, tzinfo=UTC)
FLEET = ["api", "web", "svc-auth", "svc-pay", "legacy"]


def _task(repo: str, state: TaskState, cost: float | None = None, preview: str | None = None) -> TaskView:
    return TaskView(
        id=f"t-{repo}",
        repo=repo,
        text="bump requests",
        state=state,
        requested_by="ana@example.com",
        agent="scripted",
        model=None,
        branch=f"honk/t-{repo}",
        created_at=AT,
        updated_at=AT,
        cost_usd=cost,
        preview_url=preview,
    )


@dataclass
class Started:
    actor: Actor
    text: str
    selector: RepoSelector
    settings: CampaignSettings | None
    agent: str | None
    model: str | None
    request_id: str | None
    slack: SlackThread | None


@dataclass
class Recorded(Campaigns):
    """The campaign service as the doors see it, from memory: a started campaign's members are the FLEET repos
    its selector names (an unknown name is refused as the service refuses it), shown in every state a board can
    show; what each door handed over is kept."""

    service: object = None
    started: list[Started] = field(default_factory=list)
    acted: list[tuple[str, str, str, str]] = field(default_factory=list)  # (action, campaign, who, instruction)
    views: dict[str, CampaignView] = field(default_factory=dict)
    refuse: UserFacingError | None = None  # the next call raises it, as the service would

    def _refused(self) -> None:
        if self.refuse is not None:
            e, self.refuse = self.refuse, None
            raise e

    async def start(  # noqa: PLR0913 - Campaigns.start's signature
        self,
        actor: Actor,
        text: str,
        selector: RepoSelector,
        settings: CampaignSettings | None = None,
        agent: str | None = None,
        model: str | None = None,
        request_id: str | None = None,
        slack: SlackThread | None = None,
    ) -> tuple[CampaignView, bool]:
        self._refused()
        self.started.append(Started(actor, text, selector, settings, agent, model, request_id, slack))
        for v in self.views.values():
            if request_id and v.id == f"c-{request_id}":
                return v, False
        unknown = [n for n in selector.names if n not in FLEET]
        if unknown:
            raise NotFound(f"No repo named {unknown[0]}: `honk repo list` shows them.")
        repos = selector.names or FLEET
        members = [
            CampaignMember(repo=repos[0], status="started", task=_task(repos[0], TaskState.ready, 0.5, "https://p")),
        ]
        members[0] = members[0].model_copy(update={"checks_passed": True, "pull_request_url": "https://forge/pr/1"})
        if len(repos) > 1:
            members.append(
                CampaignMember(
                    repo=repos[1],
                    status="started",
                    task=_task(repos[1], TaskState.failed, 0.25),
                    checks_passed=False,
                    pull_request_url="javascript:alert(1)",
                )
            )
        if len(repos) > 2:
            members.append(CampaignMember(repo=repos[2], status="started", task=_task(repos[2], TaskState.working)))
        members += [CampaignMember(repo=r, status="refused", reason="not yours") for r in repos[3:4]]
        members += [CampaignMember(repo=r) for r in repos[4:]]
        view = CampaignView(
            id=f"c-{request_id or len(self.views)}",
            text=text,
            selector=selector,
            settings=settings or CampaignSettings(),
            state=CampaignState.running,
            requested_by=actor.identity,
            front_door=actor.front_door,
            created_at=AT,
            updated_at=AT,
            members=members,
        )
        self.views[view.id] = view
        return view, True

    async def get(self, campaign_id: str) -> CampaignView:
        self._refused()
        if campaign_id not in self.views:
            raise NotFound(f"No campaign {campaign_id}.")
        return self.views[campaign_id]

    async def listed(self, limit: int = 50) -> list[CampaignView]:
        return list(reversed(self.views.values()))[:limit]

    async def merge_green(self, campaign_id: str, actor: Actor) -> list[MemberActed]:
        self._refused()
        view = await self.get(campaign_id)
        self.acted.append(("merge", campaign_id, actor.identity, ""))
        return [
            MemberActed(repo=view.members[0].repo, task_id=f"t-{view.members[0].repo}", done=True),
            MemberActed(repo="legacy", done=False, detail="the merge policy refused: main is frozen"),
        ]

    async def retry_failed(self, campaign_id: str, actor: Actor, instruction: str = "") -> list[MemberActed]:
        self._refused()
        view = await self.get(campaign_id)
        self.acted.append(("retry", campaign_id, actor.identity, instruction))
        return [MemberActed(repo=m.repo, task_id="t-new", done=True) for m in view.members if m.checks_passed is False]

    async def cancel(self, campaign_id: str, actor: Actor) -> CampaignView:
        self._refused()
        view = await self.get(campaign_id)
        self.acted.append(("cancel", campaign_id, actor.identity, ""))
        self.views[campaign_id] = view.model_copy(update={"state": CampaignState.cancelled})
        return self.views[campaign_id]


@dataclass
class Doors:
    served: Served
    campaigns: Campaigns
    tokens: dict[str, str]  # email -> API token
    cookies: dict[str, str]  # email -> session cookie value
    slack: FakeSlack

    def api(self, who: str | None = "ana@example.com") -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.AsyncClient(base_url=self.served.url, headers=headers, timeout=30)

    def browser(self, who: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.served.url, cookies={"honk_session": self.cookies[who]}, timeout=30)

    async def honk(self, who: str, *args: str) -> tuple[int, str, str]:
        """The real `honk` CLI, as a process, against this server (the server keeps serving while it runs)."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "honk",
            "--url",
            self.served.url,
            "--token",
            self.tokens[who],
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        return proc.returncode or 0, out.decode(), err.decode()


@asynccontextmanager
async def _doors(tmp_path: Path, temporal) -> AsyncIterator[Doors]:
    """The server with its real campaign service, the FLEET registered as real git remotes (honk.testing.fleet)."""
    slack = FakeSlack().start()
    slack.add_user("U1", "ana@example.com", "Ana")
    # Settings.changed copies without validating: the secrets go in as the settings hold them.
    secrets = {k: SecretStr(v) if k != "slack_api_url" else v for k, v in slack.settings().items()}
    settings = settings_for(tmp_path, temporal.address, anonymous=False, **secrets)
    fleet = make_fleet(tmp_path / "fleet", specs=[RepoSpec(name) for name in FLEET])
    try:
        async with serving(settings) as served:
            accounts: Accounts = served.accounts
            tokens, cookies = {}, {}
            for email, role in (("ana@example.com", Role.requester), ("mo@example.com", Role.merger)):
                user = await accounts.add_user(email, email.split("@")[0], role)
                tokens[email] = await accounts.api_token(email)
                cookies[email] = accounts.session_cookie(user)
            for repo in fleet:
                await served.service.store.add_repo(RepoRef(name=repo.name, url=repo.url, branch=repo.branch))
            yield Doors(served, served.service.campaigns, tokens, cookies, slack)
    finally:
        slack.stop()


@pytest.fixture
async def real_doors(tmp_path: Path, temporal) -> AsyncIterator[Doors]:
    """The doors on the real campaign service. Its campaigns' workflows start on the server's task queue, which
    no worker polls here: a campaign stays running with its members waiting, which is all these tests read."""
    async with _doors(tmp_path, temporal) as doors:
        yield doors


@pytest.fixture
async def doors(tmp_path: Path, temporal) -> AsyncIterator[Doors]:
    """The doors on `Recorded`: for the tests that need a campaign whose members are ready, failed, refused and
    merged, which the real service reaches only with workers running every member's task (tests/scenarios)."""
    async with _doors(tmp_path, temporal) as doors:
        doors.campaigns = Recorded(doors.served.service)
        doors.served.service.campaigns = doors.campaigns  # the server's campaign service, for this test
        yield doors


START = {"text": "bump requests to 2.32", "repos": "api,web,svc-auth,svc-pay,legacy"}


# -- the API ------------------------------------------------------------------------------------------------------
async def test_a_campaign_starts_with_what_was_asked_and_a_retry_is_the_same_one(real_doors: Doors):
    body = {
        **START,
        "repos": "svc-* and files:requirements.txt~requests",
        "wave_size": 2,
        "go_percent": 50,
        "concurrency": 3,
        "max_cost_usd": 12.5,
        "automerge": True,
        "on_cancel": "close",
        "agent": "scripted",
        "request_id": "r1",
    }
    async with real_doors.api() as api:
        first = await api.post("/api/campaigns", json=body)
        again = await api.post("/api/campaigns", json=body)
        stored = await api.get(f"/api/campaigns/{first.json()['id']}")
    assert first.status_code == 201, first.text
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"] == campaign_id_for("r1")
    asked = CampaignView.model_validate(stored.json())
    assert asked.requested_by == "ana@example.com" and asked.front_door == "api"
    assert asked.selector == RepoSelector(glob="svc-*", path="requirements.txt", content="requests")
    assert asked.settings == CampaignSettings(
        wave_size=2, go_percent=50, concurrency=3, max_cost_usd=12.5, automerge=True, on_cancel="close"
    )
    kept = await CampaignStore(real_doors.served.service.store).request(asked.id)  # what the view does not show
    assert kept is not None and (kept.agent, kept.model, kept.request_id, kept.slack) == ("scripted", None, "r1", None)


async def test_settings_not_given_are_the_defaults(real_doors: Doors):
    async with real_doors.api() as api:
        r = await api.post("/api/campaigns", json=START)
        stored = CampaignView.model_validate((await api.get(f"/api/campaigns/{r.json()['id']}")).json())
    assert r.status_code == 201, r.text
    assert stored.settings == CampaignSettings()
    assert stored.selector.names == FLEET


async def test_list_one_and_the_bulk_actions(doors: Doors):
    async with doors.api() as api:
        made = (await api.post("/api/campaigns", json=START | {"request_id": "r2"})).json()
        listed = await api.get("/api/campaigns", params={"limit": 5})
        one = await api.get(f"/api/campaigns/{made['id']}")
        missing = await api.get("/api/campaigns/c-nope")
        retried = await api.post(f"/api/campaigns/{made['id']}/retry", json={"instruction": "pin it too"})
        cancelled = await api.post(f"/api/campaigns/{made['id']}/cancel", json={})
    async with doors.api("mo@example.com") as api:
        merged = await api.post(f"/api/campaigns/{made['id']}/merge", json={})
    assert [c["id"] for c in listed.json()] == ["c-r2"]
    assert one.status_code == 200 and [m["repo"] for m in one.json()["members"]] == FLEET
    assert missing.status_code == 404 and missing.json() == {"detail": "No campaign c-nope."}
    assert retried.status_code == 202 and retried.json() == [
        {"repo": "web", "task_id": "t-new", "done": True, "detail": ""}
    ]
    assert merged.status_code == 202 and [a["done"] for a in merged.json()] == [True, False]
    assert cancelled.status_code == 202 and cancelled.json()["state"] == "cancelled"
    assert doors.campaigns.acted == [
        ("retry", "c-r2", "ana@example.com", "pin it too"),
        ("cancel", "c-r2", "ana@example.com", ""),
        ("merge", "c-r2", "mo@example.com", ""),
    ]


async def test_the_services_refusals_reach_the_caller_as_every_route_answers_them(doors: Doors):
    async with doors.api() as api:
        await api.post("/api/campaigns", json=START | {"request_id": "r3"})
        doors.campaigns.refuse = Refused("merge", "ana@example.com may not merge in legacy")
        refused = await api.post("/api/campaigns/c-r3/merge", json={})
        doors.campaigns.refuse = Conflict("The campaign has ended: nothing to cancel.")
        conflict = await api.post("/api/campaigns/c-r3/cancel", json={})
        unknown = await api.post("/api/campaigns", json=START | {"repos": "api,nowhere"})
    assert refused.status_code == 403 and refused.json()["detail"].startswith("Refused by policy rule merge")
    assert conflict.status_code == 409 and conflict.json() == {"detail": "The campaign has ended: nothing to cancel."}
    assert unknown.status_code == 404 and "nowhere" in unknown.json()["detail"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (START | {"repos": "api, my web"}, "repos: 'my web' is not a repo name."),
        (START | {"repos": "  "}, "repos: Say which repos"),
        (START | {"repos": "files:"}, "repos: 'files:': say which files"),
        (START | {"repos": "files:*.py~(unclosed"}, "is not a regular expression"),
        (START | {"repos": "a-* and b-*"}, "Only one name glob"),
        (START | {"colour": "blue"}, "colour: Extra inputs are not permitted"),
        (START | {"go_percent": 150}, "go_percent: Input should be less than or equal to 100"),
        (START | {"concurrency": 0}, "concurrency: Input should be greater than or equal to 1"),
        (START | {"max_cost_usd": -1}, "max_cost_usd: Input should be greater than 0"),
        (START | {"on_cancel": "burn"}, "on_cancel: Input should be 'close' or 'draft'"),
        (START | {"text": "bump\x00it"}, "text: Value error, must not contain a NUL character"),
        ({"text": "bump"}, "repos: Field required"),
        ([1, 2], "Input should be an object"),
    ],
)
async def test_bad_start_requests_are_refused_with_what_is_wrong(real_doors: Doors, body, says):
    async with real_doors.api() as api:
        r = await api.post("/api/campaigns", json=body)
    assert r.status_code == 422, r.text
    assert says in r.json()["detail"], r.json()
    assert await real_doors.campaigns.listed() == [], "nothing reached the service"


async def test_hostile_callers(real_doors: Doors):
    async with real_doors.api(None) as anonymous, real_doors.api() as api:
        # Not signed in: refused before a byte of the body is read, on every route.
        for method, path in [
            ("POST", "/api/campaigns"),
            ("GET", "/api/campaigns"),
            ("GET", "/api/campaigns/c-x"),
            ("POST", "/api/campaigns/c-x/merge"),
            ("POST", "/api/campaigns/c-x/retry"),
            ("POST", "/api/campaigns/c-x/cancel"),
        ]:
            r = await anonymous.request(method, path, json=START if method == "POST" else None)
            assert r.status_code == 401 and "Sign in first" in r.json()["detail"], (path, r.text)
        forged = await api.post("/api/campaigns", json=START, headers={"Authorization": "Bearer honk_forged"})
        assert forged.status_code == 401
        # Not JSON: malformed, another content type, a form from another site.
        broken = await api.post("/api/campaigns", content=b'{"text": "x", "repos": ', headers=_json())
        assert broken.status_code == 422 and "Invalid request" in broken.json()["detail"]
        assert "JSON" in broken.json()["detail"]
        form = await api.post("/api/campaigns", content=b"text=x&repos=all")
        assert form.status_code == 415
        other_site = await api.post("/api/campaigns", json=START, headers={"Origin": "https://evil.example"})
        assert other_site.status_code == 403
        # Oversized: a prompt of a megabyte is refused with the limit, without holding it whole.
        huge = await api.post("/api/campaigns", json=START | {"text": "x" * 1_000_000})
        assert huge.status_code == 413 and "20,000 characters" in huge.json()["detail"]
        big_retry = await api.post("/api/campaigns/c-x/retry", json={"instruction": "x" * 1_000_000})
        assert big_retry.status_code == 413
        big_merge = await api.post("/api/campaigns/c-x/merge", json={"by": "x" * 10_000})
        assert big_merge.status_code == 413
        # The wrong method, an id longer than any.
        assert (await api.put("/api/campaigns", json=START)).status_code == 405
        assert (await api.delete("/api/campaigns/c-x", headers=_json())).status_code == 405
        assert (await api.get("/api/campaigns/c-x/merge")).status_code == 405
        long_id = await api.get("/api/campaigns/" + "c" * 101)
        assert long_id.status_code == 422
        assert (await api.get("/api/campaigns", params={"limit": 0})).status_code == 422
        assert (await api.get("/api/campaigns", params={"limit": 10_000})).status_code == 422
    assert await real_doors.campaigns.listed() == [], "no campaign was started"


def _json() -> dict[str, str]:
    return {"Content-Type": "application/json"}


# -- the pages ----------------------------------------------------------------------------------------------------
async def test_the_list_page_shows_each_campaign_and_the_start_form(doors: Doors):
    async with doors.api() as api:
        await api.post("/api/campaigns", json=START | {"text": "<script>alert(1)</script> bump", "request_id": "r4"})
    async with doors.browser("ana@example.com") as browser:
        page = await browser.get("/campaigns")
    assert page.status_code == 200
    html = page.text
    assert 'href="/campaigns/c-r4"' in html and "&lt;script&gt;alert(1)&lt;/script&gt; bump" in html
    assert "<script>alert(1)" not in html
    assert 'value="3" aria-label="3 of 5 repos settled"' in html  # ready, failed and refused are settled
    assert 'data-api="/api/campaigns" data-then="campaign"' in html
    for name in ("text", "repos", "wave_size", "go_percent", "concurrency", "max_cost_usd", "automerge", "on_cancel"):
        assert f'name="{name}"' in html, name


async def test_the_board_shows_each_repo_filters_by_state_and_offers_what_can_be_done(doors: Doors):
    async with doors.api() as api:
        await api.post("/api/campaigns", json=START | {"request_id": "r5", "max_cost_usd": 10})
    async with doors.browser("ana@example.com") as ana, doors.browser("mo@example.com") as mo:
        board = (await ana.get("/campaigns/c-r5")).text
        failed = (await ana.get("/campaigns/c-r5", params={"state": "failed"})).text
        panel = await ana.get("/campaigns/c-r5/panel", params={"state": "nonsense"})
        merger = (await mo.get("/campaigns/c-r5")).text
        missing = await ana.get("/campaigns/c-nope")
    assert 'data-campaign="c-r5" data-terminal="0"' in board  # refreshed while it runs (static/app.js)
    assert '<progress id="progress" max="5" value="3"' in board and "$0.75 of $10.00" in board
    rows = {line.split('data-key="')[1].split('"')[0] for line in board.splitlines() if 'data-key="' in line}
    assert rows == {"ready", "failed", "working", "refused", "waiting"}
    assert '<a href="/tasks/t-api">api</a>' in board and '<span class="pass">passed</span>' in board
    assert '<a href="https://forge/pr/1" target="_blank" rel="noopener noreferrer">PR</a>' in board
    assert "javascript:" not in board  # a PR link that is not http(s) is not a link
    # Without a pull request to link, the row names the task's branch (a plain git remote has none).
    assert '<code class="small">honk/t-web</code>' in board and "honk/t-api" not in board
    assert '<a href="/tasks/t-api/preview">Preview</a>' in board and "$0.50" in board
    assert "not yours" in board  # why a member was refused
    # Filtered: only the failed repo; an unknown filter shows them all.
    assert failed.count('data-key="') == 1 and 'data-key="failed"' in failed
    assert 'href="/campaigns/c-r5?state=failed" data-filter="failed" aria-current="true"' in failed
    assert panel.status_code == 200 and panel.text.count('data-key="') == 5 and "<html" not in panel.text
    # The bulk actions: Merge all green for mergers only; Retry failed and Cancel the rest for anyone.
    assert 'id="retry-failed"' in board and 'name="instruction"' in board and 'id="cancel-rest"' in board
    assert 'id="merge-green"' not in board and "a merger or admin merges them" in board
    assert 'data-api="/api/campaigns/c-r5/merge"' in merger and 'id="merge-green"' in merger
    assert missing.status_code == 404 and "No campaign c-nope." in missing.text


async def test_a_finished_campaigns_board_stops_refreshing_and_offers_no_cancel(doors: Doors):
    async with doors.api() as api:
        await api.post("/api/campaigns", json=START | {"request_id": "r6"})
        await api.post("/api/campaigns/c-r6/cancel", json={})
    async with doors.browser("ana@example.com") as browser:
        board = (await browser.get("/campaigns/c-r6")).text
    assert 'data-terminal="1"' in board and 'id="cancel-rest"' not in board and "Cancelled" in board


async def test_pages_ask_people_to_sign_in(doors: Doors):
    async with doors.api(None) as anonymous:
        for path in ("/campaigns", "/campaigns/c-x", "/campaigns/c-x/panel"):
            r = await anonymous.get(path)
            assert r.status_code == 401 and "one-time link" in r.text, path


# -- the CLI --------------------------------------------------------------------------------------------------------
async def test_the_cli_starts_shows_and_acts_through_the_api(doors: Doors):
    code, out, err = await doors.honk(
        "ana@example.com",
        "campaign",
        "start",
        "--prompt",
        "bump requests",
        "--repos",
        "api,web,svc-auth",
        "--wave",
        "1",
        "--go-percent",
        "100",
        "--concurrency",
        "2",
        "--max-cost",
        "3",
        "--automerge",
        "--on-cancel",
        "close",
        "--request-id",
        "cli1",
    )
    assert code == 0, err
    assert out.strip() == "c-cli1" and f"{doors.served.url}/campaigns/c-cli1" in err
    asked = doors.campaigns.started[0]
    assert asked.actor.front_door == "cli" and asked.selector.names == ["api", "web", "svc-auth"]
    assert asked.settings == CampaignSettings(
        wave_size=1, go_percent=100, concurrency=2, max_cost_usd=3, automerge=True, on_cancel="close"
    )

    code, out, err = await doors.honk("ana@example.com", "campaign", "show", "c-cli1")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("c-cli1  running  2/3 settled, $0.75 of $3.00")
    table = {ln.split()[0]: ln.split() for ln in lines if ln.startswith("  ") and ln.split()[0] in FLEET}
    assert table["api"][1:4] == ["ready", "passed", "$0.50"] and table["api"][-1] == "https://forge/pr/1"
    assert table["web"][1:3] == ["failed", "failed"] and table["svc-auth"][1:3] == ["working", "—"]

    code, out, _ = await doors.honk("ana@example.com", "campaign", "list")
    assert code == 0 and out.startswith("c-cli1") and "bump requests" in out

    code, out, err = await doors.honk("ana@example.com", "campaign", "retry", "c-cli1", "--add", "pin it")
    assert code == 0 and out.split() == ["web", "retrying", "t-new"], (out, err)
    assert doors.campaigns.acted[-1] == ("retry", "c-cli1", "ana@example.com", "pin it")

    # A partial bulk action lists every member, then exits 1 saying how many were not done.
    code, out, err = await doors.honk("mo@example.com", "campaign", "merge", "c-cli1")
    assert code == 1 and "api" in out and "legacy                   not merged: the merge policy refused" in out
    assert err.strip() == "honk: 1 of 2 not merged."

    code, out, err = await doors.honk("ana@example.com", "campaign", "cancel", "c-cli1")
    assert code == 0 and "cancelled" in out and "closed" in out, err


async def test_the_cli_says_what_is_wrong_in_one_line_and_exits_1(doors: Doors):
    code, out, err = await doors.honk("ana@example.com", "campaign", "start", "--prompt", "x", "--repos", "a b")
    assert (code, out) == (1, "") and err.strip() == "honk: Invalid request: repos: 'a b' is not a repo name."
    code, _, err = await doors.honk("ana@example.com", "campaign", "show", "c-nope")
    assert code == 1 and err.strip() == "honk: No campaign c-nope."
    code, _, err = await doors.honk(
        "ana@example.com", "campaign", "start", "--prompt", "x", "--repos", "api", "--on-cancel", "burn"
    )
    assert code == 2 and "burn" in err  # click's own usage error, as for every command
    assert not doors.campaigns.started


# -- Slack ------------------------------------------------------------------------------------------------------------
async def _mention(doors: Doors, text: str, ts: str) -> httpx.Response:
    body = json.dumps(mention_event(text, ts=ts))
    async with httpx.AsyncClient(base_url=doors.served.url, timeout=30) as slack:
        return await slack.post(
            "/slack/events", content=body, headers={"Content-Type": "application/json", **sign(SLACK_SECRET, body)}
        )


async def test_a_campaign_asked_in_slack_is_answered_by_one_message(doors: Doors):
    r = await _mention(doors, "<@UHONK> in repos api, web with python: bump requests to 2.32", "1700000001.000100")
    assert r.status_code == 200
    updates = await doors.slack.wait_for_async("chat.update", where=lambda c: bool(c.args.get("blocks")))
    asked = doors.campaigns.started[0]
    assert asked.text == "bump requests to 2.32" and asked.actor.front_door == "slack"
    assert asked.selector == RepoSelector(names=["api", "web"], path="**/*.py")
    assert asked.actor.identity == "ana@example.com" and asked.request_id == "slack:C1:1700000001.000100"
    # The message posted at once is the campaign's: its ts goes to the campaign, which updates it from then on.
    posted = doors.slack.calls_to("chat.postMessage")
    assert len(posted) == 1 and posted[0].args["thread_ts"] == "1700000001.000100"
    assert (
        asked.slack is not None
        and asked.slack.status_ts == updates[0].args["ts"] == doors.slack.messages["C1"][0]["ts"]
    )
    assert "/campaigns/c-slack:C1:1700000001.000100" in str(updates[0].args["blocks"])
    assert len(doors.slack.messages["C1"]) == 1


async def test_a_campaign_slack_cannot_start_says_why_in_its_message(doors: Doors):
    await _mention(doors, "<@UHONK> in repos api, nowhere: bump", "1700000002.000100")
    said = await doors.slack.wait_for_async("chat.update")
    assert "No repo named nowhere" in said[0].args["text"] and len(doors.slack.messages["C1"]) == 1
    await _mention(doors, "<@UHONK> in every repo we have: bump", "1700000003.000100")
    reply = await doors.slack.wait_for_async("chat.postMessage", 2)
    assert "did not understand 'we'" in reply[1].args["text"]
    assert len(doors.campaigns.started) == 1  # the second never reached the service


# -- the real campaign service (no double) ---------------------------------------------------------------------
@pytest.fixture
async def real(tmp_path: Path, temporal) -> AsyncIterator[Served]:
    async with serving(settings_for(tmp_path, temporal.address)) as served:
        yield served


async def test_real_service_an_unknown_repo_is_refused_naming_it(real: Served):
    async with httpx.AsyncClient(base_url=real.url, timeout=30) as api:
        r = await api.post("/api/campaigns", json={"text": "bump", "repos": "nowhere"})
    assert r.status_code in (400, 404) and "nowhere" in r.json()["detail"]


async def test_real_service_an_unknown_campaign_is_not_found(real: Served):
    async with httpx.AsyncClient(base_url=real.url, timeout=30) as api:
        r = await api.get("/api/campaigns/c-nope")
        page = await api.get("/campaigns/c-nope")
    assert r.status_code == 404 and page.status_code == 404


async def test_real_service_no_campaigns_yet(real: Served):
    async with httpx.AsyncClient(base_url=real.url, timeout=30) as api:
        r = await api.get("/api/campaigns")
        page = await api.get("/campaigns")
    assert r.json() == [] and "No campaigns yet." in page.text
