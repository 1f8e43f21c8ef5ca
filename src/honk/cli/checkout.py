"""`honk checkout TASK`: a task's branch into the clone you are in, to continue it on your laptop. The
server says where the branch is (honk.service.TaskService.checkout); git does the rest here: fetch, a new
local branch, and the agent's summary in `.git/honk-<task>.md` (beside the repo's data, never in the work
tree, so it is never committed). Outside a clone of the repo, or with --print, it prints the commands."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import quote, urlsplit

import click

from honk.cli.api import ApiClient, default_url
from honk.domain import HandOff, TaskState
from honk.errors import UserFacingError


def _api(ctx: click.Context) -> ApiClient:
    obj = ctx.find_root().obj or {}
    return ApiClient(obj.get("url") or default_url(), obj.get("user"), obj.get("token"))


@click.command()
@click.argument("task_id", metavar="TASK")
@click.option("--print", "print_only", is_flag=True, help="Only print the commands; change nothing here.")
@click.pass_context
def checkout(ctx: click.Context, task_id: str, print_only: bool) -> None:
    """Fetch TASK's branch into this clone and switch to it; the agent's summary goes to .git/honk-TASK.md."""
    hand_off = HandOff.model_validate(_api(ctx).call("GET", f"/api/tasks/{quote(task_id, safe='')}/checkout"))
    if hand_off.state == TaskState.merged and hand_off.merged_commit:
        click.echo(f"{task_id} is merged as {hand_off.merged_commit[:12]}: `git pull` brings it in.")
        return
    clone = None if print_only else _clone_of(hand_off)
    if clone is None:
        why = "" if print_only else f" (this is not a clone of {hand_off.clone_url})"
        click.echo(f"In a clone of {hand_off.clone_url}{why}:")
        for line in hand_off.commands():
            click.echo(f"  {line}")
        return
    top, git_dir, remote_name = clone
    source = remote_name if hand_off.source != "worker" else hand_off.remote
    _git(top, "fetch", "--quiet", source, hand_off.ref)
    fetched = _git(top, "rev-parse", "FETCH_HEAD")
    if _git_ok(top, "rev-parse", "--verify", "--quiet", f"refs/heads/{hand_off.branch}"):
        raise UserFacingError(
            f"A branch {hand_off.branch} is already here; to bring it to the task's {fetched[:10]}: "
            f"git switch {hand_off.branch} && git merge --ff-only {fetched}"
        )
    _git(top, "switch", "--quiet", "-c", hand_off.branch, fetched)
    notes = git_dir / f"honk-{hand_off.task_id}.md"
    notes.write_text(hand_off.summary, encoding="utf-8")
    push = f"git push {remote_name} HEAD:refs/heads/{hand_off.branch}"
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


def _clone_of(hand_off: HandOff) -> tuple[Path, Path, str] | None:
    """This directory's clone of the task's repo: its top, its git dir, and the name of its remote for the
    repo. None outside a git work tree, or in a clone of something else."""
    here = Path.cwd()
    if not _git_ok(here, "rev-parse", "--is-inside-work-tree"):
        return None
    top = Path(_git(here, "rev-parse", "--show-toplevel"))
    git_dir = Path(_git(top, "rev-parse", "--absolute-git-dir"))
    wanted = same_repo_key(hand_off.clone_url)
    for line in _git(top, "remote", "-v").splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[-1] == "(fetch)" and same_repo_key(parts[1]) == wanted:
            return top, git_dir, parts[0]
    return None


def same_repo_key(url: str) -> str:
    """A repo URL without what differs between clones of the same repo: scheme, user, `.git`, a trailing
    slash, the host's case; `git@host:path` as `host/path`; a local path resolved."""
    url = url.strip()
    if m := re.fullmatch(r"[\w.-]+@([\w.-]+):(?!//)(.+)", url):
        host, path = m.group(1), m.group(2)
    elif "://" in url:
        parts = urlsplit(url)
        if parts.scheme == "file":
            return str(Path(parts.path).resolve()).removesuffix(".git").rstrip("/")
        host, path = (parts.hostname or ""), parts.path
    else:
        return str(Path(url).expanduser().resolve()).removesuffix("/.git").removesuffix(".git").rstrip("/")
    return f"{host.lower()}/{path.strip('/').removesuffix('.git')}"


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no detail"])[-1]
        raise UserFacingError(f"git {args[0]} failed: {last}")
    return done.stdout.strip()


def _git_ok(cwd: Path, *args: str) -> bool:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False).returncode == 0
