"""`honk hook create|list|delete`: triggers, URLs that start a preset task from any tool (an alert, a bug
tracker), as the person who made them. Made and deleted by the repo's admins; the URL is shown once."""

from __future__ import annotations

import json
from urllib.parse import quote

import click

from honk.cli.api import api_of
from honk.domain import TriggerInfo, TriggerMade


@click.group()
def hook() -> None:
    """Trigger URLs that start a preset task (the repo's admins make and delete them)."""


@hook.command("create")
@click.argument("name")
@click.option("--repo", "repo_name", required=True, help="The repo the task works on.")
@click.option("--prompt", required=True, help="What the task does; what the caller sends comes with it as a file.")
@click.option("--agent", default=None, help="The agent (default: the repo's).")
@click.pass_context
def hook_create(ctx: click.Context, name: str, repo_name: str, prompt: str, agent: str | None) -> None:
    """Make trigger NAME and print its URL (shown this once: keep it like a password). A POST to it starts the
    task as you; its body (JSON or text, up to 64 KiB) reaches the agent as context, an Idempotency-Key header
    makes a retry the same task."""
    body = {"name": name, "repo": repo_name, "prompt": prompt, "agent": agent}
    made = TriggerMade.model_validate(api_of(ctx).call("POST", "/api/triggers", body))
    click.echo(made.url)
    click.echo(
        f"trigger {made.trigger.name} starts tasks on {made.trigger.repo} as {made.trigger.created_by}. "
        "This URL is shown once; anyone who has it can start the task. Try it:\n"
        f"  curl -X POST -H 'Content-Type: application/json' -d '{{\"alert\": \"test\"}}' '{made.url}'",
        err=True,
    )


@hook.command("list")
@click.option("--repo", "repo_name", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def hook_list(ctx: click.Context, repo_name: str | None, as_json: bool) -> None:
    """The triggers: what each starts, who made it, how often it fired (never their URLs)."""
    found = [
        TriggerInfo.model_validate(t)
        for t in api_of(ctx).call("GET", "/api/triggers", params={"repo": repo_name} if repo_name else None)
    ]
    if as_json:
        click.echo(json.dumps([t.model_dump(mode="json") for t in found], indent=2))
        return
    for t in found:
        last = f"last {t.last_fired_at:%Y-%m-%d %H:%M} UTC" if t.last_fired_at else "never fired"
        click.echo(f"{t.name:<24} {t.repo:<16} {t.created_by:<24} {t.fired:>4}×  {last}  {_shown(t.prompt)[:60]}")
    if not found:
        click.echo("no triggers (honk hook create NAME --repo REPO --prompt …)")


@hook.command("delete")
@click.argument("name")
@click.pass_context
def hook_delete(ctx: click.Context, name: str) -> None:
    """Delete trigger NAME: its URL stops working at once."""
    api_of(ctx).call("DELETE", f"/api/triggers/{quote(name, safe='')}", {})
    click.echo(f"deleted trigger {name}: its URL no longer starts anything")


def _shown(text: str) -> str:
    return "".join(c if c.isprintable() else " " for c in text)
