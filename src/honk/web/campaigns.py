"""Campaigns over HTTP: `/api/campaigns…` (start, list, one, and the bulk actions merge / retry / cancel) and the
pages `/campaigns` (the list and the start form) and `/campaigns/{id}` (the board). Each route is one call of
`TaskService.campaigns` (honk.campaigns): who may do what, and the merge policy per member, are decided there,
as for a task asked alone; errors reach the person as every other route's do (UserFacingError → its status and
`detail`, honk.web.app).

The start request's body is read no further than a few hundred KiB (a prompt's limit, JSON-escaped): a larger
one is refused with 413 before it is held whole. The selector is parsed here (`honk.domain.parse_selector`),
so a selector nobody can read is refused with its own words before the service is asked.

Mounted by the composition root (`routers=[..., campaigns.router()]`).
"""

from __future__ import annotations

from html import escape
from typing import get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import Field, ValidationError

from honk.accounts import Role, User
from honk.agents import AGENT_NAMES
from honk.campaigns import Campaigns
from honk.domain import (
    MAX_REQUEST_CHARS,
    CampaignMember,
    CampaignSettings,
    CampaignState,
    CampaignView,
    MemberActed,
    OnCancel,
    TaskState,
    parse_selector,
)
from honk.errors import NotFound
from honk.gate import Actor
from honk.web.auth import actor, user_of
from honk.web.schemas import Body
from honk.web.ui import STATE_WORDS, badge, layout, signed_in
from honk.web.uploads import InvalidBody, json_body

# A start request: the prompt (MAX_REQUEST_CHARS, each character at worst a 12-byte JSON escape pair) and
# room for the selector and settings. Anything larger is not a campaign anyone typed.
MAX_START_BODY = 12 * MAX_REQUEST_CHARS + 16 * 1024
MAX_RETRY_BODY = 12 * MAX_REQUEST_CHARS + 4 * 1024
CAMPAIGN_ID = Path(max_length=100)
MAX_LISTED = 200
MEMBER_WORDS = {"waiting": "Waiting", "started": "Starting", "refused": "Refused", "skipped": "Skipped"}
CAMPAIGN_WORDS = {
    CampaignState.selecting: "Selecting repos",
    CampaignState.running: "Running",
    CampaignState.halted: "Halted",
    CampaignState.done: "Done",
    CampaignState.cancelled: "Cancelled",
}
REFRESH_S = 3  # how often a running campaign's board asks for its members again (static/app.js)


class CampaignIn(Body):
    text: str  # its length is checked by the service, as a task's is, so the error can say what to do
    repos: str = Field(
        max_length=2000,
        description='Which repos: names ("api,web"), a glob ("svc-*"), "files:GLOB[~REGEX]", or "all"; '
        'parts joined with " and " combine.',
    )
    wave_size: int | None = Field(default=None, description="The first wave's size (0: no first wave).")
    go_percent: int | None = Field(default=None, description="The share of the first wave that must reach ready.")
    concurrency: int | None = Field(default=None, description="At most this many tasks at a time.")
    max_cost_usd: float | None = Field(default=None, description="Every member's cost together, at most.")
    automerge: bool | None = Field(default=None, description="Merge members whose checks pass (where policy allows).")
    on_cancel: OnCancel | None = Field(default=None, description="Cancelling closes the open PRs, or leaves drafts.")
    agent: str | None = Field(default=None, max_length=50)
    model: str | None = Field(default=None, max_length=100)
    request_id: str | None = Field(
        default=None,
        max_length=200,
        description="Idempotency key: a retried start with the same request_id answers the same campaign.",
    )
    requested_by: str | None = Field(default=None, max_length=200)

    def settings(self) -> CampaignSettings:
        """The settings asked for, the rest CampaignSettings' defaults; out of range is an InvalidBody saying which."""
        given = self.model_dump(
            include={"wave_size", "go_percent", "concurrency", "max_cost_usd", "automerge", "on_cancel"},
            exclude_none=True,
        )
        try:
            return CampaignSettings(**given)
        except ValidationError as e:
            problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors())
            raise InvalidBody(f"Invalid request: {problems}") from None


class RetryIn(Body):
    instruction: str = Field(default="", description="Added to each failed member's request for its new attempt.")
    by: str | None = Field(default=None, max_length=200)


class ByIn(Body):
    by: str | None = Field(default=None, max_length=200)


START_BODY = {"required": True, "content": {"application/json": {"schema": CampaignIn.model_json_schema()}}}
RETRY_BODY = {"required": True, "content": {"application/json": {"schema": RetryIn.model_json_schema()}}}


def campaigns_of(request: Request) -> Campaigns:
    return request.app.state.service.campaigns  # TaskService's (honk.campaigns), as every front door reaches it


def router() -> APIRouter:
    r = APIRouter()

    @r.post(
        "/api/campaigns",
        status_code=201,
        responses={200: {"model": CampaignView, "description": "Started before with this request_id: that one."}},
        openapi_extra={"requestBody": START_BODY},
    )
    async def start(
        request: Request, response: Response, x_honk_user: str | None = Header(default=None)
    ) -> CampaignView:
        """Starts a campaign: one task per selected repo, in waves, within one budget (a JSON `CampaignIn`)."""
        user = await user_of(request)  # who asks is known before a byte of the body is read
        too_large = f"The request is larger than {MAX_START_BODY // 1024} KiB; a campaign's prompt is at most {MAX_REQUEST_CHARS:,} characters."
        body = await json_body(request, CampaignIn, MAX_START_BODY, too_large)
        try:
            selector = parse_selector(body.repos)
        except ValueError as e:
            raise InvalidBody(f"Invalid request: repos: {e}") from None
        view, created = await campaigns_of(request).start(
            actor(request, user, body.requested_by, x_honk_user),
            body.text,
            selector,
            body.settings(),
            agent=body.agent,
            model=body.model,
            request_id=body.request_id,
        )
        if not created:
            response.status_code = 200
        return view

    @r.get("/api/campaigns")
    async def listed(request: Request, limit: int = Query(default=50, ge=1, le=MAX_LISTED)) -> list[CampaignView]:
        """The newest campaigns first, with their members."""
        await user_of(request)
        return await campaigns_of(request).listed(limit)

    @r.get("/api/campaigns/{campaign_id}")
    async def one(request: Request, campaign_id: str = CAMPAIGN_ID) -> CampaignView:
        """The campaign and each member's latest task: state, checks, pull request, preview, cost."""
        await user_of(request)
        return await campaigns_of(request).get(campaign_id)

    @r.post("/api/campaigns/{campaign_id}/merge", status_code=202)
    async def merge(
        request: Request, campaign_id: str = CAMPAIGN_ID, x_honk_user: str | None = Header(default=None)
    ) -> list[MemberActed]:
        """Merges every member that is ready with its checks passing, each under the merge policy as a task
        merged alone; what was not merged says why."""
        return await campaigns_of(request).merge_green(campaign_id, await _acting(request, x_honk_user))

    @r.post("/api/campaigns/{campaign_id}/retry", status_code=202, openapi_extra={"requestBody": RETRY_BODY})
    async def retry(
        request: Request, campaign_id: str = CAMPAIGN_ID, x_honk_user: str | None = Header(default=None)
    ) -> list[MemberActed]:
        """A new attempt for every failed member, its request with `instruction` added."""
        user = await user_of(request)
        too_large = f"The instruction is longer than {MAX_REQUEST_CHARS:,} characters."
        body = await json_body(request, RetryIn, MAX_RETRY_BODY, too_large)
        who = actor(request, user, body.by, x_honk_user)
        return await campaigns_of(request).retry_failed(campaign_id, who, body.instruction)

    @r.post("/api/campaigns/{campaign_id}/cancel", status_code=202)
    async def cancel(
        request: Request, campaign_id: str = CAMPAIGN_ID, x_honk_user: str | None = Header(default=None)
    ) -> CampaignView:
        """No further member starts; running tasks are cancelled; open pull requests are closed or left as
        drafts, as the campaign's `on_cancel` says."""
        return await campaigns_of(request).cancel(campaign_id, await _acting(request, x_honk_user))

    # -- pages ----------------------------------------------------------------------------------------
    @r.get("/campaigns", response_class=HTMLResponse, include_in_schema=False)
    async def page(request: Request) -> Response:
        user = await signed_in(request, user_of)
        if isinstance(user, Response):
            return user
        return HTMLResponse(campaigns_page(user, await campaigns_of(request).listed(MAX_LISTED)))

    @r.get("/campaigns/{campaign_id}", response_class=HTMLResponse, include_in_schema=False)
    async def board(
        request: Request, campaign_id: str = CAMPAIGN_ID, state: str = Query(default="", max_length=30)
    ) -> Response:
        user = await signed_in(request, user_of)
        if isinstance(user, Response):
            return user
        try:
            view = await campaigns_of(request).get(campaign_id)
        except NotFound as e:
            body = (
                f"<h1>Not found</h1><p>{escape(e.message)}</p><p><a class='btn' href='/campaigns'>All campaigns</a></p>"
            )
            return HTMLResponse(layout(user, "Not found", body, ""), status_code=404)
        return HTMLResponse(board_page(user, view, state))

    @r.get("/campaigns/{campaign_id}/panel", response_class=HTMLResponse, include_in_schema=False)
    async def board_panel(
        request: Request, campaign_id: str = CAMPAIGN_ID, state: str = Query(default="", max_length=30)
    ) -> Response:
        """The board's live part, asked for again every few seconds while the campaign runs."""
        user = await signed_in(request, user_of)
        if isinstance(user, Response):
            return user
        return HTMLResponse(panel(user, await campaigns_of(request).get(campaign_id), state))

    return r


async def _acting(request: Request, header: str | None) -> Actor:
    """Who a bulk action is by: signed in first, then its body (`{}` or `{"by": …}`), read no further than 4 KiB."""
    user = await user_of(request)
    body = await json_body(request, ByIn, 4096, 'The request is larger than 4 KiB: send {} (or {"by": …}).')
    return actor(request, user, body.by, header)


# ---------------------------------------------------------------------------------------------- pages
def campaign_badge(state: CampaignState) -> str:
    return f'<span class="badge c-{state.value}" data-campaign-state="{state.value}">{CAMPAIGN_WORDS[state]}</span>'


def progress_bar(view: CampaignView) -> str:
    """Settled members (ready, ended, refused, skipped) out of all: the bar and its words."""
    total, settled = len(view.members), sum(m.settled for m in view.members)
    return (
        f'<div class="progress-row"><progress id="progress" max="{max(total, 1)}" value="{settled}" '
        f'aria-label="{settled} of {total} repos settled"></progress>'
        f'<span class="small" id="progress-words">{settled} of {total} settled</span></div>'
    )


def _counts(view: CampaignView) -> str:
    shown = ", ".join(f"{n} {_key_word(k).lower()}" for k, n in sorted(view.counts().items(), key=lambda kv: -kv[1]))
    return escape(shown)


def _cost(view: CampaignView) -> str:
    limit = view.settings.max_cost_usd
    return f"${view.cost_usd:.2f}" + (f" of ${limit:.2f}" if limit is not None else "")


def campaigns_page(user: User, views: list[CampaignView]) -> str:
    cards = "".join(
        f"""<li class="card"><a class="task-link" href="/campaigns/{escape(v.id)}">
<div class="row">{campaign_badge(v.state)}<span class="spacer"></span>
<time class="muted small" datetime="{v.updated_at.isoformat()}">{v.updated_at:%b %d %H:%M}</time></div>
<div class="text">{escape(v.text[:160])}</div>{progress_bar(v)}
<div class="row muted small"><span>{escape(v.selector.describe()[:120])}</span><span>{escape(v.requested_by)}</span>
<span>{_cost(v)}</span></div></a></li>"""
        for v in views
    )
    body = f"""<div class="row"><h1>Campaigns</h1></div>
<p class="muted small">One request across many repos: a task per repo, a first wave before the rest, one budget.
From the terminal: <code>honk campaign start --prompt … --repos …</code>; in Slack:
<code>@honk in every repo with python: …</code></p>
<div id="flash" class="flash" role="status" aria-live="polite"></div>
<ul class="tasks" id="campaigns">{cards or '<li class="card">No campaigns yet.</li>'}</ul>
{start_form()}"""
    return layout(user, "Campaigns", body, "campaigns")


def start_form() -> str:
    agents = "".join(f'<option value="{a}">{a}</option>' for a in AGENT_NAMES)
    on_cancel = "".join(f'<option value="{o}">{o}</option>' for o in get_args(OnCancel))
    d = CampaignSettings()
    return f"""<h2>Start a campaign</h2>
<form class="card" id="new-campaign" data-api="/api/campaigns" data-then="campaign">
<label for="c-text">What should change in each repo?</label>
<textarea id="c-text" name="text" required maxlength="{MAX_REQUEST_CHARS}"
 placeholder="e.g. Bump requests to 2.32 and fix what breaks."></textarea>
<label for="c-repos">Which repos</label>
<input type="text" id="c-repos" name="repos" required maxlength="2000" placeholder="api,web · svc-* · files:**/*.py~requests · all">
<p class="muted small">Names separated by commas, a glob on names, <code>files:GLOB</code> (repos with such a file;
<code>~REGEX</code>: one containing it), or <code>all</code>; join parts with <code>and</code>.</p>
<label for="c-wave">First wave (repos)</label><input type="number" id="c-wave" name="wave_size" min="0" value="{d.wave_size}">
<label for="c-go">The rest start when this % of the first wave is ready</label>
<input type="number" id="c-go" name="go_percent" min="0" max="100" value="{d.go_percent}">
<label for="c-concurrency">At most this many at a time</label>
<input type="number" id="c-concurrency" name="concurrency" min="1" max="200" value="{d.concurrency}">
<label for="c-cost">Budget for all of them (USD, optional)</label>
<input type="number" id="c-cost" name="max_cost_usd" min="0.01" step="0.01" placeholder="no limit beyond each repo's">
<label class="check"><input type="checkbox" id="c-automerge" name="automerge" value="true">
Merge each repo's change when its checks pass (where the merge policy allows)</label>
<label for="c-on-cancel">Cancelling the campaign</label>
<select id="c-on-cancel" name="on_cancel">{on_cancel}</select>
<p class="muted small"><code>draft</code> leaves the open pull requests as drafts; <code>close</code> closes them.</p>
<details><summary>Agent and model (optional)</summary>
<label for="c-agent">Agent</label><select id="c-agent" name="agent"><option value="">Each repo's default</option>{agents}</select>
<label for="c-model">Model</label><input type="text" id="c-model" name="model" placeholder="Each repo's default" maxlength="100">
</details>
<p><button class="btn primary block" type="submit">Start the campaign</button></p></form>"""


def board_page(user: User, view: CampaignView, state: str = "") -> str:
    attrs = (
        f' data-campaign="{escape(view.id)}" data-terminal="{int(view.state.terminal)}" data-refresh-s="{REFRESH_S}"'
    )
    body = f"""<p class="small"><a href="/campaigns">All campaigns</a></p>
<h1 id="title">{escape(view.text[:200])}</h1>
<div id="flash" class="flash" role="status" aria-live="polite"></div>
<div id="board">{panel(user, view, state)}</div>"""
    return layout(user, f"Campaign {view.id}", body, "campaigns", attrs)


def panel(user: User, view: CampaignView, state: str = "") -> str:
    """Where the campaign stands, its members (filtered by `state`, a key of `CampaignView.counts`) and the
    bulk actions: re-rendered whole while the campaign runs."""
    counts = view.counts()
    wanted = state if state in counts else ""
    members = [m for m in view.members if not wanted or _key(m) == wanted]
    facts = [
        ("Campaign", view.id),
        ("Repos", view.selector.describe()),
        ("Asked by", view.requested_by),
        ("Cost", _cost(view)),
        ("Waves", f"first {view.settings.wave_size}, the rest at {view.settings.go_percent}% ready"),
        ("At a time", str(view.settings.concurrency)),
        ("Automerge", "yes" if view.settings.automerge else "no"),
        ("On cancel", view.settings.on_cancel),
    ]
    dl = "".join(f"<dt>{k}</dt><dd>{escape(v)}</dd>" for k, v in facts if v)
    reason = f'<p id="reason"><strong>{escape(view.reason)}</strong></p>' if view.reason else ""
    status = f"""<section class="card" id="status" data-terminal="{int(view.state.terminal)}">
<div class="row">{campaign_badge(view.state)}<span class="spacer"></span>
<time class="muted small" datetime="{view.updated_at.isoformat()}">{view.updated_at:%b %d %H:%M}</time></div>
{reason}{progress_bar(view)}<p class="small" id="counts">{_counts(view)}</p><dl class="facts">{dl}</dl></section>"""
    return "\n".join([status, bulk_actions(user, view), _filters(view, wanted), _table(view.id, members, wanted)])


def _filters(view: CampaignView, wanted: str) -> str:
    def link(key: str, label: str) -> str:
        href = f"/campaigns/{escape(view.id)}" + (f"?{urlencode({'state': key})}" if key else "")
        return f'<a href="{href}" data-filter="{escape(key)}" aria-current="{str(key == wanted).lower()}">{label}</a>'

    keys = sorted(view.counts().items(), key=lambda kv: -kv[1])
    items = link("", f"All ({len(view.members)})") + "".join(link(k, f"{escape(_key_word(k))} ({n})") for k, n in keys)
    return f'<nav class="seg wrap" id="filters" aria-label="Show members by state">{items}</nav>'


def _table(campaign_id: str, members: list[CampaignMember], wanted: str) -> str:
    if not members:
        empty = "No repos in this state." if wanted else "No repos selected yet."
        return f'<section class="card" id="members"><p class="muted">{empty}</p></section>'
    rows = "".join(_row(m) for m in members)
    return f"""<section class="card" id="members"><div class="table-wrap"><table class="members">
<thead><tr><th scope="col">Repo</th><th scope="col">State</th><th scope="col">Checks</th><th scope="col">PR or branch</th>
<th scope="col">Preview</th><th scope="col">Cost</th></tr></thead><tbody>{rows}</tbody></table></div></section>"""


def _row(m: CampaignMember) -> str:
    task = m.task
    repo = escape(m.repo)
    if task is not None:
        repo = f'<a href="/tasks/{escape(task.id)}">{repo}</a>'
    state = (
        badge(task.state) if task is not None else f'<span class="badge m-{m.status}">{MEMBER_WORDS[m.status]}</span>'
    )
    why = (task.reason if task is not None and task.reason else m.reason) or ""
    if why:
        state += f'<div class="muted small">{escape(why[:200])}</div>'
    if m.attempt > 1:
        state += f'<div class="muted small">attempt {m.attempt}</div>'
    checks = {True: '<span class="pass">passed</span>', False: '<span class="fail">failed</span>', None: "—"}[
        m.checks_passed
    ]
    pr = _outside_link(m.pull_request_url, "PR")
    if pr == "—" and task is not None and task.branch:
        # A repo on a plain git remote has no pull request: its change is on the task's branch, named so
        # someone can fetch it (and look again when its merge was held).
        pr = f'<code class="small">{escape(task.branch)}</code>'
    preview = (
        f'<a href="/tasks/{escape(task.id)}/preview">Preview</a>' if task is not None and task.preview_url else "—"
    )
    cost = f"${task.cost_usd:.2f}" if task is not None and task.cost_usd is not None else "—"
    return f"""<tr data-key="{escape(_key(m))}"><td>{repo}</td><td>{state}</td><td>{checks}</td><td>{pr}</td>
<td>{preview}</td><td>{cost}</td></tr>"""


def _outside_link(url: str, label: str) -> str:
    """A link to the forge: only an http(s) URL becomes one (a stored `javascript:` never runs here)."""
    if not url.lower().startswith(("https://", "http://")):
        return "—"
    return f'<a href="{escape(url)}" target="_blank" rel="noopener noreferrer">{label}</a>'


def bulk_actions(user: User, view: CampaignView) -> str:
    """Merge all green, Retry failed (with an instruction), Cancel the rest: each offered when it would act
    on something. The service decides again per member (the merge policy), and says what it did."""
    green = sum(1 for m in view.members if m.task is not None and m.task.state == TaskState.ready and m.checks_passed)
    failed = sum(1 for m in view.members if m.task is not None and m.task.state == TaskState.failed)
    base = f"/api/campaigns/{escape(view.id)}"
    out = []
    if green and user.role.allows(Role.merger):
        out.append(f"""<form data-api="{base}/merge" data-then="board" data-done="Merged">
<button class="btn primary block" id="merge-green" type="submit"
 data-confirm="Merge the {green} ready change(s) whose checks passed?">Merge all green ({green})</button></form>""")
    elif green:
        out.append(f'<p class="muted small">{green} ready with checks passing: a merger or admin merges them.</p>')
    if failed:
        out.append(f"""<form data-api="{base}/retry" data-then="board" data-done="Retried">
<details><summary>Retry failed ({failed})</summary><label for="retry-instruction">Add to their request (optional)</label>
<textarea id="retry-instruction" name="instruction" maxlength="{MAX_REQUEST_CHARS}"
 placeholder="e.g. Also update the lock file."></textarea>
<p><button class="btn block" type="submit" id="retry-failed">Retry the {failed} failed</button></p></details></form>""")
    if not view.state.terminal:
        out.append(f"""<form data-api="{base}/cancel" data-then="board"
 data-done="Cancelled: nothing more starts; running tasks are stopping.">
<button class="btn danger block" id="cancel-rest" type="submit"
 data-confirm="Cancel the rest of this campaign? Nothing more starts and running tasks stop.">Cancel the rest</button></form>""")
    if not out:
        return ""
    return f'<section class="card actions" id="actions"><h2>Actions</h2>{"".join(out)}</section>'


def _key(m: CampaignMember) -> str:
    """What the board (and CampaignView.counts) files a member under: its task's state once started."""
    return m.task.state.value if m.task is not None else m.status


def _key_word(key: str) -> str:
    if key in TaskState.__members__:
        return STATE_WORDS[TaskState(key)]
    return MEMBER_WORDS.get(key, key)
