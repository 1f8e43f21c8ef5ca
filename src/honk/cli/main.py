"""`honk` as people talk to Honk: repos, tasks, the audit log — all through the web server's API. The
commands that run Honk (up, server, worker) and administer it on the server (user, db) are added by
the composition root (`honk.composition.main`)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import get_args
from urllib.parse import quote

import click

from honk.cli.api import ApiClient, api_of
from honk.cli.attempts import ask_attempts, attempts
from honk.cli.campaign import campaign
from honk.cli.checkout import checkout
from honk.cli.doctor import doctor
from honk.cli.hook import hook
from honk.cli.schedule import schedule
from honk.domain import (
    AuditAction,
    AuditOutcome,
    DeployRecord,
    HostAllowed,
    Phase,
    RepoNetwork,
    SecretInfo,
    TaskState,
    TaskView,
)
from honk.errors import UserFacingError
from honk.events import PlanProposed, StoredEvent
from honk.store.audit import AuditEntry
from honk.store.secrets import MAX_SECRET_BYTES, secret_name


def _exit(code: int) -> None:
    # os._exit avoids a known crash of the Temporal SDK's runtime at interpreter exit.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run(group: click.Group) -> None:
    """Runs `group` as the `honk` command: errors a person can act on are one line, exit codes honest."""
    try:
        group(standalone_mode=False)
    except UserFacingError as e:
        click.echo(f"honk: {e.message}", err=True)
        _exit(1)
    except click.exceptions.Abort:
        _exit(130)
    except click.ClickException as e:
        e.show()
        _exit(e.exit_code)
    except click.exceptions.Exit as e:
        _exit(e.exit_code)
    _exit(0)


@click.group()
@click.option("--url", envvar="HONK_URL", default=None, help="Honk's web server (default: from settings).")
@click.option("--user", envvar="HONK_USER", default=None, help="Who you are to Honk (anonymous demo only).")
@click.option("--token", envvar="HONK_TOKEN", default=None, help="Your API token (honk_…).")
@click.pass_context
def cli(ctx: click.Context, url: str | None, user: str | None, token: str | None) -> None:
    """Honk: a self-hosted background coding agent."""
    ctx.obj = {"url": url, "user": user, "token": token}


# -- repos -------------------------------------------------------------------------------------
@cli.group()
def repo() -> None:
    """Repos Honk may work on."""


@repo.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--branch", default="main", show_default=True)
@click.option(
    "--forge",
    "forge",
    default=None,
    metavar="KIND:PROJECT",
    help="github:owner/name or gitlab:group/name — pull requests and merges through the forge's API.",
)
@click.option("--forge-api", default=None, help="The forge's API URL (GitHub Enterprise, self-hosted GitLab).")
@click.pass_context
def repo_add(ctx: click.Context, name: str, url: str, branch: str, forge: str | None, forge_api: str | None) -> None:
    """Register a repo by any git URL or local path."""
    body: dict[str, object] = {"name": name, "url": url, "branch": branch}
    if forge:
        kind, _, project = forge.partition(":")
        if kind not in ("github", "gitlab") or not project:
            raise click.BadParameter("use github:owner/name or gitlab:group/name", param_hint="--forge")
        body["forge"] = {"kind": kind, "project": project, "api_url": forge_api}
    r = api_of(ctx).call("POST", "/api/repos", body)
    on = f", {r['forge']['kind']}:{r['forge']['project']}" if r.get("forge") else ""
    click.echo(f"added {r['name']} → {r['url']} ({r['branch']}{on})")


@repo.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def repo_list(ctx: click.Context, as_json: bool) -> None:
    repos = api_of(ctx).call("GET", "/api/repos")
    if as_json:
        click.echo(json.dumps(repos, indent=2))
        return
    for r in repos:
        click.echo(f"{r['name']:<20} {r['branch']:<12} {r['url']}")


# -- repo secrets ------------------------------------------------------------------------------
@cli.group()
def secret() -> None:
    """A repo's secrets (its admins): values go in and are never shown again."""


def _secrets_path(repo_name: str, name: str | None = None) -> str:
    path = f"/api/repos/{quote(repo_name, safe='')}/secrets"
    return path if name is None else f"{path}/{quote(name, safe='')}"


@secret.command("set")
@click.argument("repo_name", metavar="REPO")
@click.argument("name")
@click.argument("given", nargs=-1, metavar="")
@click.option(
    "--from-file",
    "from_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the value from this file (one trailing newline is dropped).",
)
@click.pass_context
def secret_set(ctx: click.Context, repo_name: str, name: str, given: tuple[str, ...], from_file: Path | None) -> None:
    """Set (or replace) a secret, NAME like NPM_TOKEN. The value comes from stdin (piped, or typed
    without echo) or --from-file, never from the command line: that stays in shell history and is
    visible to every process on the machine."""
    if given:
        raise UserFacingError(
            "honk secret set takes no value on the command line (shell history and the process list would "
            "keep it): pipe it in (`printenv TOKEN | honk secret set REPO NAME`), type it when asked, or use "
            "--from-file PATH."
        )
    name = secret_name(name)
    value = _secret_value(name, from_file)
    api_of(ctx).call("PUT", _secrets_path(repo_name, name), {"value": value})
    click.echo(f"set {name} for {repo_name}")


def _secret_value(name: str, from_file: Path | None) -> str:
    """The value from the file, stdin or the terminal, less one trailing newline."""
    limit = MAX_SECRET_BYTES + 2  # and a trailing CRLF
    if from_file is not None:
        try:
            with from_file.open("rb") as f:
                raw = f.read(limit + 1)
        except OSError as e:
            raise UserFacingError(f"Cannot read {from_file}: {e.strerror or e}.") from e
        where = str(from_file)
    elif sys.stdin.isatty():
        typed = click.prompt(f"Value of {name}", hide_input=True, confirmation_prompt=True, prompt_suffix=": ")
        raw, where = typed.encode("utf-8", errors="surrogateescape"), "the terminal"
    else:
        raw, where = sys.stdin.buffer.read(limit + 1), "stdin"
    if len(raw) > limit:
        raise UserFacingError(f"The value from {where} is larger than 64 KiB, the most Honk keeps.")
    try:
        value = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UserFacingError(f"The value from {where} is not UTF-8 text.") from None
    for ending in ("\r\n", "\n"):
        if value.endswith(ending):
            value = value[: -len(ending)]
            break
    if not value:
        raise UserFacingError(f"No value came from {where}: pipe it in, type it when asked, or use --from-file PATH.")
    return value


@secret.command("list")
@click.argument("repo_name", metavar="REPO")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def secret_list(ctx: click.Context, repo_name: str, as_json: bool) -> None:
    """The repo's secrets: names, when and by whom each was set (never values)."""
    found = [SecretInfo.model_validate(s) for s in api_of(ctx).call("GET", _secrets_path(repo_name))]
    if as_json:
        click.echo(json.dumps([s.model_dump(mode="json") for s in found], indent=2))
        return
    for s in found:
        click.echo(f"{s.name:<32} {s.updated_at:%Y-%m-%d %H:%M} UTC  {s.updated_by}")


@secret.command("rm")
@click.argument("repo_name", metavar="REPO")
@click.argument("name")
@click.pass_context
def secret_rm(ctx: click.Context, repo_name: str, name: str) -> None:
    """Remove a secret."""
    name = secret_name(name)
    api_of(ctx).call("DELETE", _secrets_path(repo_name, name), {})
    click.echo(f"removed {name} from {repo_name}")


# -- hosts allowed a repo ------------------------------------------------------------------------
@cli.group()
def network() -> None:
    """Hosts a repo's sandboxes may reach beyond its .honk.toml (its admins), within the server's ceiling."""


def _network_path(repo_name: str, host: str | None = None) -> str:
    path = f"/api/repos/{quote(repo_name, safe='')}/network"
    return path if host is None else f"{path}/allow/{quote(host, safe='')}"


@network.command("allow")
@click.argument("repo_name", metavar="REPO")
@click.argument("host")
@click.option(
    "--phase",
    "phases",
    multiple=True,
    required=True,
    type=click.Choice(list(get_args(Phase))),
    help="A phase whose sandboxes may reach HOST (as the refusal named it); repeat for more.",
)
@click.pass_context
def network_allow(ctx: click.Context, repo_name: str, host: str, phases: tuple[str, ...]) -> None:
    """Allow HOST (a host name, *.example.com, or a preset like pypi) for the repo's later sandboxes of
    those phases: reads only, but for setup and deploy. Nothing is re-run: ask again or follow up."""
    done = HostAllowed.model_validate(
        api_of(ctx).call("POST", f"{_network_path(repo_name)}/allow", {"host": host, "phases": list(phases)})
    )
    a = done.allowance
    if done.added:
        click.echo(f"allowed {a.host} for {', '.join(done.added)} in {repo_name} (now: {', '.join(a.phases)})")
        click.echo("Nothing was re-run: ask again or follow up to use it.")
    else:
        click.echo(f"{a.host} was already allowed for {', '.join(phases)} in {repo_name} (by {a.updated_by})")


@network.command("list")
@click.argument("repo_name", metavar="REPO")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def network_list(ctx: click.Context, repo_name: str, as_json: bool) -> None:
    """The hosts admins allowed the repo: phases, who allowed each and when; and the server's ceiling."""
    found = RepoNetwork.model_validate(api_of(ctx).call("GET", _network_path(repo_name)))
    if as_json:
        click.echo(json.dumps(found.model_dump(mode="json"), indent=2))
        return
    for a in found.allowed:
        line = f"{a.host:<32} {','.join(a.phases):<24} {a.created_at:%Y-%m-%d %H:%M} UTC  {a.created_by}"
        if (a.updated_at, a.updated_by) != (a.created_at, a.created_by):
            line += f"  (phases added {a.updated_at:%Y-%m-%d %H:%M} UTC by {a.updated_by})"
        click.echo(line)
    if not found.allowed:
        click.echo(f"No host allowed by an admin; {found.repo}'s .honk.toml [network] lists its own.")
    click.echo(f"ceiling (HONK_EGRESS_CEILING): {', '.join(found.ceiling) or 'nothing'}")
    if found.setup_ceiling is not None:
        click.echo(f"setup's ceiling (HONK_SANDBOX_SETUP_NETWORK): {', '.join(found.setup_ceiling)}")


@network.command("rm")
@click.argument("repo_name", metavar="REPO")
@click.argument("host")
@click.pass_context
def network_rm(ctx: click.Context, repo_name: str, host: str) -> None:
    """Remove a host an admin allowed (for every phase); what .honk.toml lists stays."""
    api_of(ctx).call("DELETE", _network_path(repo_name, host), {})
    click.echo(f"removed {host} from {repo_name}")


# Files for the agent (a screenshot, a log), with a request or a follow-up: sent as multipart.
_attach = click.option(
    "--attach",
    "attach",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file for the agent to look at (a screenshot, a log); repeat for several.",
)


# -- tasks -------------------------------------------------------------------------------------
@cli.command()
@click.argument("repo_name", metavar="REPO")
@click.argument("text")
@click.option("--agent", default=None)
@click.option("--model", default=None)
@click.option("--request-id", default=None, help="Idempotency key (a retry with the same id is the same task).")
@click.option("--wait", is_flag=True, help="Show progress until the task is ready or failed.")
@_attach
@click.option("--plan", is_flag=True, help="A plan first: the agent changes nothing until you approve it.")
@click.option("--attempts", "n", type=int, default=None, help="Best of N: N independent attempts; you pick one.")
@click.option("--agents", default=None, help="With --attempts: agents used in turn, e.g. claude,codex.")
@click.option("--yes", is_flag=True, help="With --attempts: start without asking after the cost is said.")
@click.option(
    "--also",
    "also",
    multiple=True,
    metavar="REPO",
    help="Another repo the same change spans (repeat, or comma-separate); merged in this order after REPO.",
)
@click.pass_context
def ask(
    ctx: click.Context,
    repo_name: str,
    text: str,
    agent: str | None,
    model: str | None,
    request_id: str | None,
    wait: bool,
    attach: tuple[Path, ...],
    plan: bool,
    n: int | None,
    agents: str | None,
    yes: bool,
    also: tuple[str, ...],
) -> None:
    """Ask Honk for a change; prints the task id. With --plan, --wait stops at the plan. With --attempts N,
    says what N attempts may cost, then starts them and prints their group (`honk attempts show GROUP`). With
    --also, one change across several repos: one pull request per repo, merged in the order given."""
    api = api_of(ctx)
    if n is not None:
        if attach or wait or also:
            raise UserFacingError(
                "--attach, --wait and --also are not taken with --attempts: each attempt is one task in one repo."
            )
        ask_attempts(api, repo_name, text, n, agents or agent, model, request_id, plan, yes)
        return
    body = {"repo": repo_name, "text": text, "agent": agent, "model": model, "request_id": request_id, "plan": plan}
    if others := [name.strip() for names in also for name in names.split(",") if name.strip()]:
        body["also"] = others
    task = TaskView.model_validate(api.call("POST", "/api/tasks", body, files=list(attach)))
    click.echo(task.id)
    if wait:
        want = TaskState.plan_ready if plan else TaskState.ready
        _follow(api, task.id, until={want, TaskState.ready, *_terminal()}, want=want)


@cli.command("list")
@click.option("--repo", "repo_name", default=None)
@click.option("--state", default=None, type=click.Choice([s.value for s in TaskState]))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_(ctx: click.Context, repo_name: str | None, state: str | None, as_json: bool) -> None:
    """List tasks, newest first."""
    tasks = api_of(ctx).call(
        "GET", "/api/tasks", params={k: v for k, v in {"repo": repo_name, "state": state}.items() if v}
    )
    if as_json:
        click.echo(json.dumps(tasks, indent=2))
        return
    for t in map(TaskView.model_validate, tasks):
        click.echo(f"{t.id}  {t.state.value:<12} {t.repo:<14} {t.text[:60]}")


@cli.command()
@click.option("--actor", default=None, help="Who acted (an email, slack:U…, or `agent of TASK`).")
@click.option("--action", default=None, type=click.Choice(list(get_args(AuditAction))))
@click.option("--outcome", default=None, type=click.Choice(list(get_args(AuditOutcome))))
@click.option("--repo", "repo_name", default=None)
@click.option("--task", "task_id", default=None)
@click.option("--since", default=None, help="ISO date or time, UTC unless it says otherwise.")
@click.option("--until", default=None, help="ISO date or time (exclusive).")
@click.option("--limit", default=200, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON lines, oldest first: for export.")
@click.pass_context
def audit(
    ctx: click.Context,
    actor: str | None,
    action: str | None,
    outcome: str | None,
    repo_name: str | None,
    task_id: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """The audit log: every request, follow-up, merge, cancel, refusal and sandbox violation (admins)."""
    params = {
        "actor": actor,
        "action": action,
        "outcome": outcome,
        "repo": repo_name,
        "task": task_id,
        "since": since,
        "until": until,
        "limit": limit,
    }
    entries = [
        AuditEntry.model_validate(e)
        for e in api_of(ctx).call("GET", "/api/audit", params={k: v for k, v in params.items() if v is not None})
    ]
    for e in reversed(entries):
        if as_json:
            click.echo(e.model_dump_json())
            continue
        at = e.at.strftime("%Y-%m-%d %H:%M:%S") if e.at else "?"
        rule = f" [{e.rule}]" if e.rule else ""
        where = " ".join(x for x in (e.repo, e.task_id) if x)
        click.echo(
            f"{at}  {e.outcome:<9} {e.action:<13} {e.actor:<28} {e.front_door:<6} {where}{rule}  {e.detail[:100]}"
        )


@cli.command()
@click.argument("task_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status(ctx: click.Context, task_id: str, as_json: bool) -> None:
    """Show one task."""
    raw = api_of(ctx).call("GET", f"/api/tasks/{task_id}")
    if as_json:
        click.echo(json.dumps(raw, indent=2))
        return
    t = TaskView.model_validate(raw)
    click.echo(f"{t.id} [{t.state.value}] {t.repo} on {t.branch}\n  {t.text}")
    for label, value in (
        ("reason", t.reason),
        ("preview", t.preview_url),
        ("merged", t.merged_commit),
        ("approved by", t.approved_by),
    ):
        if value:
            click.echo(f"  {label}: {value}")


@cli.command()
@click.argument("task_id")
@click.option("--follow", is_flag=True, help="Keep printing until the task ends.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def events(ctx: click.Context, task_id: str, follow: bool, as_json: bool) -> None:
    """Show a task's history."""
    for ev in api_of(ctx).events(task_id, follow=follow):
        click.echo(ev.model_dump_json() if as_json else _line(ev))


@cli.command()
@click.argument("task_id")
@click.argument("text")
@_attach
@click.pass_context
def followup(ctx: click.Context, task_id: str, text: str, attach: tuple[Path, ...]) -> None:
    """Send further instructions to a task (queued if the agent is busy)."""
    api_of(ctx).call("POST", f"/api/tasks/{task_id}/followup", {"text": text}, files=list(attach))
    click.echo(f"follow-up queued for {task_id}")


@cli.command()
@click.argument("task_id")
@click.option("--no-wait", is_flag=True, help="Return once the merge is accepted.")
@click.pass_context
def merge(ctx: click.Context, task_id: str, no_wait: bool) -> None:
    """Merge a ready task into its target branch (re-verified on the latest main if it moved)."""
    api = api_of(ctx)
    after = max((ev.id for ev in api.events(task_id, follow=False)), default=0)
    api.call("POST", f"/api/tasks/{task_id}/merge", {})
    if no_wait:
        click.echo(f"merge of {task_id} accepted")
        return
    _follow(api, task_id, until={TaskState.ready, *_terminal()}, after=after, want=TaskState.merged)


@cli.command()
@click.argument("task_id")
@click.option("--version", type=int, default=None, help="The plan version you read (refused once replaced).")
@click.option("--wait", is_flag=True, help="Show progress until the task is ready or failed.")
@click.pass_context
def approve(ctx: click.Context, task_id: str, version: int | None, wait: bool) -> None:
    """Approve the plan waiting on a task: the agent carries it out."""
    api = api_of(ctx)
    after = max((ev.id for ev in api.events(task_id, follow=False)), default=0)
    api.call("POST", f"/api/tasks/{task_id}/plan/approve", {"version": version})
    click.echo(f"plan of {task_id} approved")
    if wait:
        _follow(api, task_id, until={TaskState.ready, *_terminal()}, after=after)


@cli.command()
@click.argument("task_id")
@click.argument("text")
@click.option("--version", type=int, default=None, help="The plan version you read (refused once replaced).")
@click.option("--wait", is_flag=True, help="Show progress until the revised plan is proposed.")
@click.pass_context
def revise(ctx: click.Context, task_id: str, text: str, version: int | None, wait: bool) -> None:
    """Ask for changes to the plan waiting on a task: the agent proposes a new one."""
    api = api_of(ctx)
    after = max((ev.id for ev in api.events(task_id, follow=False)), default=0)
    api.call("POST", f"/api/tasks/{task_id}/plan/revise", {"text": text, "version": version})
    click.echo(f"changes to the plan of {task_id} asked")
    if wait:
        _follow(api, task_id, until={TaskState.plan_ready, *_terminal()}, after=after, want=TaskState.plan_ready)


@cli.group()
def preview() -> None:
    """A task's running preview: links to it for people without a Honk account, and revoking them."""


@preview.command("link")
@click.argument("task_id", metavar="TASK")
@click.option(
    "--days",
    type=click.FloatRange(min=0, min_open=True, max=365),
    default=None,
    help="How long it works (default: HONK_PREVIEW_LINK_DAYS).",
)
@click.pass_context
def preview_link(ctx: click.Context, task_id: str, days: float | None) -> None:
    """Print a signed link to TASK's preview: whoever has it can open the preview (no account needed) until
    it expires or `honk preview revoke` stops it."""
    out = api_of(ctx).call("POST", f"/api/tasks/{quote(task_id, safe='')}/preview/link", {"days": days} if days else {})
    click.echo(out["url"])
    click.echo(f"works until {out['expires_at']} (honk preview revoke {task_id} stops every link)", err=True)


@preview.command("revoke")
@click.argument("task_id", metavar="TASK")
@click.pass_context
def preview_revoke(ctx: click.Context, task_id: str) -> None:
    """Stop every link to TASK's preview working (Slack's too), and every browser they let in."""
    api_of(ctx).call("POST", f"/api/tasks/{quote(task_id, safe='')}/preview/revoke", {})
    click.echo(f"every link to {task_id}'s preview stopped working; new ones work (honk preview link {task_id})")


@cli.command()
@click.argument("task_id")
@click.pass_context
def cancel(ctx: click.Context, task_id: str) -> None:
    """Stop a task; its branch is kept."""
    api_of(ctx).call("POST", f"/api/tasks/{task_id}/cancel", {})
    click.echo(f"cancel requested for {task_id}")


# -- production ----------------------------------------------------------------------------------
@cli.command()
@click.argument("repo_name")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500))
@click.option("--json", "as_json", is_flag=True, help="JSON lines, newest first.")
@click.pass_context
def deploys(ctx: click.Context, repo_name: str, limit: int, as_json: bool) -> None:
    """A repo's deploys, newest first: when, which commit, who, what came of it, the link."""
    raw = api_of(ctx).call("GET", f"/api/repos/{quote(repo_name, safe='')}/deploys", params={"limit": limit})
    rows = [DeployRecord.model_validate(d) for d in raw]
    if as_json:
        for d in rows:
            click.echo(d.model_dump_json())
        return
    if not rows:
        click.echo(f"no deploys of {repo_name} yet")
        return
    click.echo(f"{'WHEN (UTC)':<17} {'COMMIT':<10} {'WHO':<24} {'RESULT':<14} {'TASK':<15} LINK / DETAIL")
    for d in rows:
        said = d.link or (d.detail.strip().splitlines() or [""])[0]
        click.echo(
            f"{d.started_at:%Y-%m-%d %H:%M} {_shown(d.commit[:10]):<10} {_shown(d.by)[:24]:<24} "
            f"{d.state.replace('_', ' '):<14} {_shown(d.task_id or '-'):<15} {_shown(said)[:100]}"
        )


@cli.command()
@click.argument("task_id")
@click.pass_context
def deploy(ctx: click.Context, task_id: str) -> None:
    """Start a merged task's held deploy (held because its merger may not deploy, or for a freeze)."""
    api_of(ctx).call("POST", f"/api/tasks/{quote(task_id, safe='')}/deploy", {})
    click.echo(f"deploy of {task_id} started: honk events {task_id} --follow")


@cli.command()
@click.argument("task_id")
@click.pass_context
def revert(ctx: click.Context, task_id: str) -> None:
    """Revert a merged task's change: a task makes the revert, runs the checks and merges it by the repo's
    policy; the deploy then puts back what was live."""
    made = TaskView.model_validate(api_of(ctx).call("POST", f"/api/tasks/{quote(task_id, safe='')}/revert", {}))
    click.echo(f"reverting {task_id}: task {made.id} ({made.state.value}); honk events {made.id} --follow")


def _shown(text: str) -> str:
    """Text from a deploy's log or a person, safe in a terminal: no control characters (escape sequences)."""
    return "".join(c if c.isprintable() else "?" for c in text)


def _terminal() -> set[TaskState]:
    return {s for s in TaskState if s.terminal}


def _plan_text(task_id: str, proposed: PlanProposed) -> str:
    body = "\n".join(f"    {line}" for line in proposed.plan.text().splitlines())
    return (
        f"\n  Plan v{proposed.version}:\n{body}\n\n"
        f"  Approve: honk approve {task_id} --version {proposed.version}    "
        f'Ask for changes: honk revise {task_id} "…"\n'
    )


def _line(ev: StoredEvent) -> str:
    return f"{ev.at:%H:%M:%S}  {ev.event.line()}"


def _follow(
    api: ApiClient, task_id: str, until: set[TaskState], after: int = 0, want: TaskState = TaskState.ready
) -> None:
    """Prints events live until the task reaches one of `until`; exits non-zero unless it is `want`."""
    for ev in api.events(task_id, follow=True, after=after):
        click.echo(_line(ev))
        if isinstance(ev.event, PlanProposed):
            click.echo(_plan_text(task_id, ev.event))
        moved = ev.event.moves_to
        if moved is not None and moved in until and ev.event.kind != "task_accepted":
            if moved != want:
                raise UserFacingError(
                    f"task {task_id} is {moved.value}"
                    + ("" if moved != TaskState.ready else " again: the merge was held (see above)")
                )
            return
    final = TaskView.model_validate(api.call("GET", f"/api/tasks/{task_id}"))
    if final.state != want:
        raise UserFacingError(f"task {task_id} is {final.state.value}" + (f": {final.reason}" if final.reason else ""))


cli.add_command(doctor)
cli.add_command(schedule)  # issue 19, part B
cli.add_command(attempts)  # issue 20: best of N
cli.add_command(hook)  # issue 19, part C: trigger URLs
cli.add_command(checkout)  # issue 19, part C: a task's branch on a laptop
cli.add_command(campaign)  # issue 20: one request across many repos
