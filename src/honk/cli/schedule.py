"""`honk schedule …`: a repo's `[[schedule]]` tasks as Temporal runs them, through the server's API."""

from __future__ import annotations

import json
from urllib.parse import quote

import click

from honk.cli.api import api_of
from honk.domain import ScheduleView


def _path(repo: str, name: str | None = None) -> str:
    path = f"/api/schedules/{quote(repo, safe='')}"
    return path if name is None else f"{path}/{quote(name, safe='')}"


def _line(v: ScheduleView) -> str:
    state = f"paused ({v.note})" if v.paused else "active"
    nxt = f"next {v.next_runs[0]:%Y-%m-%d %H:%M} UTC" if v.next_runs and not v.paused else ""
    last = (
        f"last task {v.last_task}" if v.last_task else (f"last run refused: {v.last_refusal}" if v.last_refusal else "")
    )
    return "  ".join(p for p in (f"{v.repo}/{v.name:<20}", f"{v.cron:<16}", state, nxt, last) if p)


@click.group()
def schedule() -> None:
    """Tasks started on a timer: the [[schedule]] entries of a repo's .honk.toml (times are UTC)."""


@schedule.command("list")
@click.argument("repo_name", metavar="[REPO]", required=False)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def schedule_list(ctx: click.Context, repo_name: str | None, as_json: bool) -> None:
    """The schedules of every repo (or of REPO): cron, paused or not, next run, latest task."""
    params = {"repo": repo_name} if repo_name else None
    found = [ScheduleView.model_validate(s) for s in api_of(ctx).call("GET", "/api/schedules", params=params)]
    if as_json:
        click.echo(json.dumps([v.model_dump(mode="json") for v in found], indent=2))
        return
    for v in found:
        click.echo(_line(v))
    if not found:
        click.echo("no schedules (add [[schedule]] to a repo's .honk.toml, then `honk schedule sync REPO`)")


@schedule.command("sync")
@click.argument("repo_names", metavar="[REPO]...", nargs=-1)
@click.pass_context
def schedule_sync(ctx: click.Context, repo_names: tuple[str, ...]) -> None:
    """Read the repo's .honk.toml on its branch and make its schedules match (every repo: none named)."""
    api = api_of(ctx)
    names = list(repo_names) or [r["name"] for r in api.call("GET", "/api/repos")]
    for name in names:
        done = api.call("POST", f"{_path(name)}/sync", {})
        said = [f"{k} {', '.join(done[k])}" for k in ("created", "updated", "deleted") if done[k]]
        click.echo(
            f"{name}: {'; '.join(said) or 'nothing to change'}"
            + (f" (at {done['commit'][:10]})" if done["commit"] else "")
        )


def _turn(verb: str, help_text: str) -> click.Command:
    """`pause` / `resume`: the schedule's state changes, and its line is shown as it is now."""

    @click.command(verb, help=help_text)
    @click.argument("repo_name", metavar="REPO")
    @click.argument("name")
    @click.pass_context
    def turn(ctx: click.Context, repo_name: str, name: str) -> None:
        click.echo(_line(ScheduleView.model_validate(api_of(ctx).call("POST", f"{_path(repo_name, name)}/{verb}", {}))))

    return turn


schedule.add_command(_turn("pause", "Stop the schedule firing until it is resumed (a sync keeps the pause)."))
schedule.add_command(_turn("resume", "Let a paused schedule fire again."))


@schedule.command("run")
@click.argument("repo_name", metavar="REPO")
@click.argument("name")
@click.pass_context
def schedule_run(ctx: click.Context, repo_name: str, name: str) -> None:
    """Fire the schedule now, as its timer would."""
    click.echo(api_of(ctx).call("POST", f"{_path(repo_name, name)}/run", {})["detail"])


@schedule.command("delete")
@click.argument("repo_name", metavar="REPO")
@click.argument("name")
@click.pass_context
def schedule_delete(ctx: click.Context, repo_name: str, name: str) -> None:
    """Delete the schedule from Temporal (until the next sync, while .honk.toml has it)."""
    api_of(ctx).call("DELETE", _path(repo_name, name), {})
    click.echo(f"deleted schedule {name} of {repo_name} (a sync makes it again while .honk.toml has it)")
