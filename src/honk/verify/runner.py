"""Runs a repo's verify commands in a workspace and reports each as a distilled CheckResult."""

from __future__ import annotations

import re
from pathlib import Path

from honk.domain import CheckResult, VerifyCommand
from honk.events import CheckFinished
from honk.protocols import EventSink
from honk.sandbox import Confined
from honk.verify.distill import distill


def _log_name(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]", "_", name)


async def run_check(
    check: VerifyCommand, workspace: Path, logs_dir: Path, tag: str, box: Confined | None = None
) -> CheckResult:
    box = box or Confined()
    logs_dir.mkdir(parents=True, exist_ok=True)
    log = logs_dir / f"{tag}-{_log_name(check.name)}.log"
    res = await box.run(check.run, workspace, check.timeout_s, log)
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
    checks: list[VerifyCommand],
    workspace: Path,
    logs_dir: Path,
    tag: str,
    emit: EventSink,
    box: Confined | None = None,
) -> list[CheckResult]:
    """Every check runs (not just up to the first failure): the agent gets all problems in one round."""
    results = []
    for check in checks:
        result = await run_check(check, workspace, logs_dir, tag, box)
        await emit(
            CheckFinished(
                name=result.name, passed=result.passed, duration_s=result.duration_s, distilled=result.distilled
            )
        )
        results.append(result)
    return results


def feedback(results: list[CheckResult]) -> str:
    return "\n\n".join(f"## {r.name} failed (`{r.command}`)\n{r.distilled}" for r in results if not r.passed)
