"""Runs a repo's verify commands, each confined, and reports each as a distilled CheckResult."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from honk.domain import CheckResult, TaskRequest, VerifyCommand, Workspace
from honk.events import AnyEvent, CheckFinished
from honk.network import EgressPolicy
from honk.protocols import EventSink, Launcher
from honk.sandbox import Sandbox, SandboxLauncher
from honk.verify.distill import distill


def _log_name(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]", "_", name)


async def run_check(check: VerifyCommand, launcher: Launcher, logs_dir: Path, tag: str) -> CheckResult:
    logs_dir.mkdir(parents=True, exist_ok=True)
    log = logs_dir / f"{tag}-{_log_name(check.name)}.log"
    res = await launcher.shell(check.run, timeout_s=check.timeout_s, log=log)
    return CheckResult(
        name=check.name,
        command=check.run,
        passed=res.ok,
        exit_code=res.exit_code,
        timed_out=res.timed_out,
        duration_s=round(res.duration_s, 3),
        distilled=distill(res.output, res.exit_code, res.timed_out),
        log_path=str(log),
    )


async def run_checks(
    checks: list[VerifyCommand], launcher: Launcher, logs_dir: Path, tag: str, emit: EventSink
) -> list[CheckResult]:
    """Every check runs (not just up to the first failure): the agent gets all problems in one round."""
    results = []
    for check in checks:
        result = await run_check(check, launcher, logs_dir, tag)
        await emit(
            CheckFinished(
                name=result.name, passed=result.passed, duration_s=result.duration_s, distilled=result.distilled
            )
        )
        results.append(result)
    return results


def feedback(results: list[CheckResult]) -> str:
    return "\n\n".join(f"## {r.name} failed (`{r.command}`)\n{r.distilled}" for r in results if not r.passed)


class AgentChecks:
    """The repo's checks as an agent's `verify` tool and stop gate use them (Honk's `CheckRunner`). Their
    launcher is made when they run and closed after: an agent that never runs them costs no sandbox."""

    def __init__(
        self, checks: list[VerifyCommand], launcher: Callable[[], SandboxLauncher], logs_dir: Path, emit: EventSink
    ) -> None:
        self.checks, self.launcher, self.logs_dir, self.emit = checks, launcher, logs_dir, emit

    @property
    def timeout_s(self) -> float:
        return sum(c.timeout_s for c in self.checks)

    async def run(self, tag: str) -> tuple[bool, str]:
        ran = self.launcher()
        try:
            return _said(await run_checks(self.checks, ran, self.logs_dir, tag, self.emit))
        finally:
            ran.close()


class AcrossChecks:
    """A task over several repos (issue 20): every repo's checks as the agent's `verify` tool and stop gate
    use them, each repo's in its own workspace, in the task's order, named by repo ("api: test", "web: lint")
    as Honk's verify step names them. Each repo's launcher is made for its turn and closed after it (a task's
    check launchers share the task's sandbox area, as Honk's verify step runs them one repo at a time)."""

    def __init__(
        self,
        each: list[tuple[str, list[VerifyCommand], Callable[[], SandboxLauncher]]],
        logs_dir: Path,
        emit: EventSink,
    ) -> None:
        self.each, self.logs_dir, self.emit = each, logs_dir, emit

    @property
    def timeout_s(self) -> float:
        return sum(c.timeout_s for _, checks, _ in self.each for c in checks)

    async def run(self, tag: str) -> tuple[bool, str]:
        results: list[CheckResult] = []
        for repo, checks, launcher in self.each:
            ran = launcher()
            try:
                done = await run_checks(checks, ran, self.logs_dir, f"{tag}-{repo}", by_repo(self.emit, repo))
            finally:
                ran.close()
            results += [r.model_copy(update={"name": f"{repo}: {r.name}"}) for r in done]
        return _said(results)


def _said(results: list[CheckResult]) -> tuple[bool, str]:
    """What the agent is told: one line when every check passes, else the distilled failures."""
    if all(r.passed for r in results):
        return True, f"All checks pass ({', '.join(r.name for r in results) or 'no checks configured'})."
    return False, feedback(results)


def by_repo(emit: EventSink, repo: str) -> EventSink:
    """What a repo's checks say, each check named by its repo ("web: lint"), for a task over several repos."""

    async def named(*events: AnyEvent) -> None:
        await emit(
            *(e.model_copy(update={"name": f"{repo}: {e.name}"}) if isinstance(e, CheckFinished) else e for e in events)
        )

    return named


class RepoChecks:
    """Honk's `Checks`: each check confined in the task's sandbox, its log kept in the data dir."""

    def __init__(self, sandbox: Sandbox, areas: Path, logs: Path) -> None:
        self.sandbox, self.areas, self.logs = sandbox, areas, logs

    def launcher(self, task: TaskRequest, ws: Workspace, egress: EgressPolicy | None = None) -> SandboxLauncher:
        return self.sandbox.launcher(self.areas / task.task_id, ws.path, [ws.mirror], "check", egress=egress)

    async def run(
        self,
        task: TaskRequest,
        ws: Workspace,
        checks: list[VerifyCommand],
        tag: str,
        emit: EventSink,
        egress: EgressPolicy | None = None,
    ) -> list[CheckResult]:
        launcher = self.launcher(task, ws, egress)
        try:
            return await run_checks(checks, launcher, self.logs / task.task_id, tag, emit)
        finally:
            launcher.close()
