"""`honk campaign …`: one request across many repos (a task per repo, in waves, within one budget), through the
server's API as every command. The selector is read by the server (`honk.domain.parse_selector`), so the CLI
and the web form accept and refuse the same things, in the same words."""

from __future__ import annotations

import json
from typing import Any, get_args
from urllib.parse import quote

import click

from honk.cli.api import api_of
from honk.domain import CampaignMember, CampaignView, MemberActed, OnCancel
from honk.errors import UserFacingError


def _path(campaign_id: str, action: str = "") -> str:
    return f"/api/campaigns/{quote(campaign_id, safe='')}" + (f"/{action}" if action else "")


def _progress(v: CampaignView) -> str:
    settled = sum(m.settled for m in v.members)
    limit = f" of ${v.settings.max_cost_usd:.2f}" if v.settings.max_cost_usd is not None else ""
    return f"{settled}/{len(v.members)} settled, ${v.cost_usd:.2f}{limit}"


def _line(v: CampaignView) -> str:
    return f"{v.id:<16} {v.state.value:<10} {_progress(v):<28} {_shown(v.text)[:60]}"


def _member_state(m: CampaignMember) -> str:
    if m.task is not None:
        return m.task.state.value
    return m.status


def _checks(m: CampaignMember) -> str:
    return {True: "passed", False: "failed", None: "—"}[m.checks_passed]


@click.group()
def campaign() -> None:
    """One request across many repos: a task per repo, a first wave before the rest, one budget."""


@campaign.command("start")
@click.option("--prompt", required=True, help="What should change in each repo.")
@click.option(
    "--repos",
    "selector",
    required=True,
    metavar="SELECTOR",
    help='Names ("api,web"), a glob ("svc-*"), "files:GLOB[~REGEX]" (repos with such a file), or "all"; '
    'parts joined with " and " combine.',
)
@click.option("--wave", "wave_size", type=int, default=None, help="The first wave's size (0: none). Default 5.")
@click.option(
    "--go-percent", type=int, default=None, help="The rest start when this % of the first wave is ready. Default 80."
)
@click.option("--concurrency", type=int, default=None, help="At most this many tasks at a time. Default 10.")
@click.option("--max-cost", "max_cost_usd", type=float, default=None, help="Every member's cost together, in USD.")
@click.option("--automerge", is_flag=True, help="Merge each member whose checks pass (policy allowing).")
@click.option(
    "--on-cancel",
    type=click.Choice(get_args(OnCancel)),
    default=None,
    help="Cancelling closes the open pull requests, or leaves them as drafts (default).",
)
@click.option("--agent", default=None, help="The agent (default: each repo's).")
@click.option("--model", default=None, help="The model (default: each repo's).")
@click.option("--request-id", default=None, help="Idempotency key (a retry with the same id is the same campaign).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def campaign_start(
    ctx: click.Context,
    prompt: str,
    selector: str,
    wave_size: int | None,
    go_percent: int | None,
    concurrency: int | None,
    max_cost_usd: float | None,
    automerge: bool,
    on_cancel: str | None,
    agent: str | None,
    model: str | None,
    request_id: str | None,
    as_json: bool,
) -> None:
    """Start a campaign; prints its id, then (on stderr) what it reaches and where its board is."""
    body: dict[str, Any] = {
        "text": prompt,
        "repos": selector,
        "wave_size": wave_size,
        "go_percent": go_percent,
        "concurrency": concurrency,
        "max_cost_usd": max_cost_usd,
        "automerge": automerge or None,  # not given: the default (no automerge)
        "on_cancel": on_cancel,
        "agent": agent,
        "model": model,
        "request_id": request_id,
    }
    api = api_of(ctx)
    view = CampaignView.model_validate(
        api.call("POST", "/api/campaigns", {k: v for k, v in body.items() if v is not None})
    )
    if as_json:
        click.echo(view.model_dump_json(indent=2))
        return
    click.echo(view.id)
    click.echo(
        f"campaign {view.id} ({view.state.value}): {view.selector.describe()}, {len(view.members)} repos so far. "
        f"Board: {api.base_url}/campaigns/{view.id}",
        err=True,
    )


@campaign.command("list")
@click.option("--limit", type=click.IntRange(1, 200), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def campaign_list(ctx: click.Context, limit: int, as_json: bool) -> None:
    """The newest campaigns first: state, how many members settled, cost, the request."""
    found = [CampaignView.model_validate(c) for c in api_of(ctx).call("GET", "/api/campaigns", params={"limit": limit})]
    if as_json:
        click.echo(json.dumps([v.model_dump(mode="json") for v in found], indent=2))
        return
    for v in found:
        click.echo(_line(v))
    if not found:
        click.echo("no campaigns (honk campaign start --prompt … --repos …)")


@campaign.command("show")
@click.argument("campaign_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def campaign_show(ctx: click.Context, campaign_id: str, as_json: bool) -> None:
    """One campaign: where it stands, and a table of its repos (state, checks, pull request, cost, task)."""
    view = CampaignView.model_validate(api_of(ctx).call("GET", _path(campaign_id)))
    if as_json:
        click.echo(view.model_dump_json(indent=2))
        return
    click.echo(f"{view.id}  {view.state.value}  {_progress(view)}")
    click.echo(f"  {_shown(view.text)[:200]}")
    click.echo(f"  repos: {view.selector.describe()}  asked by {view.requested_by}")
    if view.reason:
        click.echo(f"  {view.reason}")
    if not view.members:
        click.echo("  no repos selected yet")
        return
    rows = [("REPO", "STATE", "CHECKS", "COST", "TASK", "PR")]
    for m in view.members:
        task = m.task
        cost = f"${task.cost_usd:.2f}" if task is not None and task.cost_usd is not None else "—"
        state = _member_state(m) + (f" ({m.reason})" if m.reason and task is None else "")
        rows.append((m.repo, state, _checks(m), cost, task.id if task else "—", m.pull_request_url or "—"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        click.echo("  " + "  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1])


def _acted(verb: str, negative: str, acted: list[MemberActed]) -> None:
    """Each member acted on, one line each; exit 1 (after them all) when any was not: a partial bulk action
    is not a success a script should take for one."""
    for a in acted:
        said = verb if a.done else negative
        click.echo(
            f"{a.repo:<24} {said}" + (f": {a.detail}" if a.detail else "") + (f"  {a.task_id}" if a.task_id else "")
        )
    left = [a for a in acted if not a.done]
    if left:
        raise UserFacingError(f"{len(left)} of {len(acted)} {negative}.")


@campaign.command("merge")
@click.argument("campaign_id", metavar="ID")
@click.pass_context
def campaign_merge(ctx: click.Context, campaign_id: str) -> None:
    """Merge every member that is ready with its checks passing (each under the repo's merge policy)."""
    acted = [MemberActed.model_validate(a) for a in api_of(ctx).call("POST", _path(campaign_id, "merge"), {})]
    if not acted:
        click.echo("nothing to merge: no member is ready with its checks passing")
    _acted("merged", "not merged", acted)


@campaign.command("retry")
@click.argument("campaign_id", metavar="ID")
@click.option("--add", "instruction", default="", help="Added to each failed member's request.")
@click.pass_context
def campaign_retry(ctx: click.Context, campaign_id: str, instruction: str) -> None:
    """A new attempt for every failed member (with --add: that instruction added to its request)."""
    body = {"instruction": instruction}
    acted = [MemberActed.model_validate(a) for a in api_of(ctx).call("POST", _path(campaign_id, "retry"), body)]
    if not acted:
        click.echo("nothing to retry: no member failed")
    _acted("retrying", "not retried", acted)


@campaign.command("cancel")
@click.argument("campaign_id", metavar="ID")
@click.pass_context
def campaign_cancel(ctx: click.Context, campaign_id: str) -> None:
    """Stop the campaign: nothing more starts, running tasks stop, open PRs closed or left as drafts."""
    view = CampaignView.model_validate(api_of(ctx).call("POST", _path(campaign_id, "cancel"), {}))
    prs = "closed" if view.settings.on_cancel == "close" else "left as drafts"
    click.echo(f"campaign {view.id} {view.state.value}: nothing more starts; open pull requests are {prs}")


def _shown(text: str) -> str:
    """One line of a request, as a terminal shows it: its newlines and control characters as spaces."""
    return "".join(c if c.isprintable() else " " for c in text)
