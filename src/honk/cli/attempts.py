"""Best of N from the terminal, through the server's API: `honk ask REPO TEXT --attempts N` (the cost ceiling
first, then a confirmation unless --yes), `honk attempts show GROUP`, `honk attempts pick GROUP TASK`."""

from __future__ import annotations

import json
from urllib.parse import quote

import click

from honk.cli.api import ApiClient, api_of
from honk.domain import AttemptsView
from honk.errors import UserFacingError


def _path(group: str) -> str:
    return f"/api/attempts/{quote(group, safe='')}"


def show_view(view: AttemptsView, url: str) -> None:
    """The group as people read it: its page, then one line per attempt, best first."""
    picked = f"; attempt picked by {view.picked_by}: {view.picked}" if view.picked else ""
    click.echo(f"{view.group}: best of {view.n} on {view.repo}{picked}  ({url}/attempts/{view.group})")
    for a in view.attempts:
        mark = "  (picked)" if a.task_id == view.picked else ""
        click.echo(f"{a.rank}. attempt {a.attempt}  {a.task_id}  {a.why}{mark}")


def ask_attempts(
    api: ApiClient,
    repo: str,
    text: str,
    n: int,
    agents: str | None,
    model: str | None,
    request_id: str | None,
    plan: bool,
    yes: bool,
) -> None:
    """`honk ask … --attempts N`: what the attempts may cost, said before anything starts, then the group."""
    estimate = api.call("GET", "/api/attempts/estimate", params={"repo": repo, "n": n})
    click.echo(estimate["line"])
    if not yes and not click.confirm("Start them?", default=False):
        raise UserFacingError("Nothing was started.")
    body = {
        "repo": repo,
        "text": text,
        "attempts": n,
        "agents": agents,
        "model": model,
        "request_id": request_id,
        "plan": plan,
    }
    view = AttemptsView.model_validate(api.call("POST", "/api/attempts", body))
    show_view(view, api.base_url)


@click.group()
def attempts() -> None:
    """Best of N: several independent attempts at one request (`honk ask … --attempts N`)."""


@attempts.command("show")
@click.argument("group")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show(ctx: click.Context, group: str, as_json: bool) -> None:
    """The group's attempts ranked, best first, with why each is where it is."""
    api = api_of(ctx)
    data = api.call("GET", _path(group))
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    show_view(AttemptsView.model_validate(data), api.base_url)


@attempts.command("pick")
@click.argument("group")
@click.argument("task_id", metavar="TASK")
@click.pass_context
def pick(ctx: click.Context, group: str, task_id: str) -> None:
    """Keeps attempt TASK (merge it as any task) and cancels the group's other attempts."""
    api = api_of(ctx)
    view = AttemptsView.model_validate(api.call("POST", f"{_path(group)}/pick", {"task_id": task_id}))
    show_view(view, api.base_url)
