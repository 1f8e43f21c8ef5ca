"""`honk checkout TASK`: a task's branch into the clone you are in, to continue it on your laptop. The
server says where the branch is (honk.service.TaskService.checkout); git does the rest here, through
honk.workspace.local_clone: fetch, a new local branch, and the agent's summary in `.git/honk-<task>.md`
(beside the repo's data, never in the work tree, so it is never committed). Outside a clone of the repo,
or with --print, it prints the commands."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import quote

import click

from honk.cli.api import api_of
from honk.domain import HandOff, TaskState
from honk.errors import UserFacingError
from honk.workspace.local_clone import LocalClone


@click.command()
@click.argument("task_id", metavar="TASK")
@click.option("--print", "print_only", is_flag=True, help="Only print the commands; change nothing here.")
@click.pass_context
def checkout(ctx: click.Context, task_id: str, print_only: bool) -> None:
    """Fetch TASK's branch into this clone and switch to it; the agent's summary goes to .git/honk-TASK.md."""
    hand_off = HandOff.model_validate(api_of(ctx).call("GET", f"/api/tasks/{quote(task_id, safe='')}/checkout"))
    if hand_off.state == TaskState.merged and hand_off.merged_commit:
        click.echo(f"{task_id} is merged as {hand_off.merged_commit[:12]}: `git pull` brings it in.")
        return
    clone = None if print_only else asyncio.run(LocalClone.here(Path.cwd(), hand_off.clone_url))
    if clone is None:
        why = "" if print_only else f" (this is not a clone of {hand_off.clone_url})"
        click.echo(f"In a clone of {hand_off.clone_url}{why}:")
        for line in hand_off.commands():
            click.echo(f"  {line}")
        return
    fetched = asyncio.run(_switch(clone, hand_off))
    notes = clone.git_dir / f"honk-{hand_off.task_id}.md"
    notes.write_text(hand_off.summary, encoding="utf-8")
    push = f"git push {clone.remote} HEAD:refs/heads/{hand_off.branch}"
    click.echo(
        f"On {hand_off.branch} at {fetched[:10]}, the branch of task {hand_off.task_id} ({hand_off.state.value})."
    )
    click.echo(f"The agent's summary: {notes}")
    click.echo("To continue:")
    click.echo(f"  less {notes}")
    click.echo("  # edit, run the checks, then: git commit -am '…'")
    if hand_off.source == "forge" and hand_off.pull_request_url:
        click.echo(f"  {push}    # updates the pull request {hand_off.pull_request_url}")
    else:
        click.echo(f"  {push}    # shares it as a branch of {hand_off.clone_url}")
    click.echo(f'  honk followup {hand_off.task_id} "…"    # or hand it back to Honk')


async def _switch(clone: LocalClone, hand_off: HandOff) -> str:
    """Fetches the task's branch and switches to it as a new local branch; the commit fetched."""
    source = clone.remote if hand_off.source != "worker" else hand_off.remote
    fetched = await clone.fetch(source, hand_off.ref)
    if await clone.has_branch(hand_off.branch):
        raise UserFacingError(
            f"A branch {hand_off.branch} is already here; to bring it to the task's {fetched[:10]}: "
            f"git switch {hand_off.branch} && git merge --ff-only {fetched}"
        )
    await clone.switch_new(hand_off.branch, fetched)
    return fetched
