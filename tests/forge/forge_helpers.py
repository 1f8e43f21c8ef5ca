"""Plain helpers for the forge tests (fixtures are in conftest.py)."""

from __future__ import annotations

from pathlib import Path

from honk.domain import CheckLine, PullRequestBody
from honk.testing.gitrepo import run_git, write_files

BUGGY = "def add(a, b):\n    return a - b\n"
FIXED = "def add(a, b):\n    return a + b\n"
BRANCH = "honk/t1"


def commit(workspace: Path, files: dict[str, str], message: str) -> str:
    write_files(workspace, files)
    run_git("add", "--all", cwd=workspace)
    run_git("commit", "--quiet", "-m", message, cwd=workspace)
    return run_git("rev-parse", "HEAD", cwd=workspace)


def body(summary: str = "Fixed add(): it subtracted.", **changes: object) -> PullRequestBody:
    fields: dict[str, object] = {
        "task_id": "t1",
        "title": "Fix add() in calc",
        "request": "add() is wrong, @bob saw it\nplease fix",
        "requested_by": "alice@example.com",
        "summary": summary,
        "checks": [
            CheckLine(name="unit tests", passed=True, detail="12 passed"),
            CheckLine(name="lint", passed=False, detail="calc.py:2 E501 | line too long"),
        ],
        "guard_findings": ["tests/test_calc.py: an assertion was removed"],
        "warnings": ["The change touches no test."],
        "cost_usd": 0.4213,
        "task_url": "https://honk.example/tasks/t1",
        "preview_url": "https://honk.example/tasks/t1/preview/",
    }
    return PullRequestBody.model_validate({**fields, **changes})
