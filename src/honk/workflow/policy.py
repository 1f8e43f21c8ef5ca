"""Pure decisions and texts of the task route: no I/O, safe to call from workflow code."""

from __future__ import annotations

import base64
import hashlib
import re

from honk.domain import Plan, RepoConfig, RepoRef

TASK_ID_RE = re.compile(r"^t-[a-z2-7]{12}$")


def task_id_for(request_id: str) -> str:
    """Derived from the request id, so a retried submission maps to the same task (and workflow)."""
    digest = hashlib.sha256(request_id.encode()).digest()
    return "t-" + base64.b32encode(digest).decode().lower()[:12]


def merge_target(repo: RepoRef, config: RepoConfig) -> str:
    return config.merge.target or repo.branch


def first_prompt(request: str) -> str:
    return request


def plan_prompt(request: str) -> str:
    return (
        "Plan this change; do not make it yet. Read what you need (the workspace is read-only while you "
        "plan), then propose a plan a person will approve before any file changes: a summary, the steps, "
        "the files you expect to touch, the risks, and any question you need answered.\n\n"
        f"The request:\n{request}"
    )


def plan_revision_prompt(request: str, changes: list[str]) -> str:
    return (
        "Your plan was not approved. Revise it with these changes, then propose the whole plan again "
        "(still without changing any file):\n"
        + "\n".join(f"- {c}" for c in changes)
        + f"\n\nThe original request was:\n{request}"
    )


def plan_approved_prompt(request: str, plan: Plan) -> str:
    return (
        "Your plan was approved. Carry it out now: make the change, run verify, and keep to the plan "
        f"(say why if you must leave it).\n\nThe approved plan:\n{plan.text()}\n\n"
        f"The original request was:\n{request}"
    )


def feedback_prompt(request: str, feedback: str, follow_ups: list[str]) -> str:
    text = (
        "The repository's checks failed on your change. Fix the causes below; do not weaken, skip or "
        f"delete tests.\n\n{feedback}\n\nThe original request was:\n{request}"
    )
    return text + _follow_up_block(follow_ups)


def follow_up_prompt(request: str, follow_ups: list[str]) -> str:
    return (
        "Follow-up instructions on the same branch (apply them in order):\n"
        + "\n".join(f"- {f}" for f in follow_ups)
        + f"\n\nThe original request was:\n{request}"
    )


def main_moved_prompt(request: str, target: str, feedback: str) -> str:
    return (
        f"The latest {target} was merged into your branch and the checks now fail. Make the change "
        f"work on top of it.\n\n{feedback}\n\nThe original request was:\n{request}"
    )


def ci_failed_prompt(request: str, feedback: str, follow_ups: list[str]) -> str:
    text = (
        "The forge's CI failed on your change after it was pushed. Fix the causes below; do not weaken, "
        f"skip or delete tests, and do not change the CI configuration to hide the failure.\n\n{feedback}"
        f"\n\nThe original request was:\n{request}"
    )
    return text + _follow_up_block(follow_ups)


def _follow_up_block(follow_ups: list[str]) -> str:
    if not follow_ups:
        return ""
    return "\n\nAlso apply these follow-up instructions, in order:\n" + "\n".join(f"- {f}" for f in follow_ups)


def gave_up_reason(rounds: int, feedback: str, branch: str) -> str:
    first = next((line for line in feedback.splitlines() if line.strip() and not line.startswith("#")), "")
    return (
        f"Checks still fail after {rounds} round{'s' * (rounds != 1)} ({first.strip()[:200]}). "
        f"The last attempt is kept on branch {branch}; ask again with more guidance, or raise max_rounds."
    )


def no_change_reason(summary: str) -> str:
    said = f" The agent said: {summary.strip()[:300]}" if summary.strip() else ""
    return (
        f"The agent finished without changing any file, so there is nothing to review.{said} "
        "Rephrase the request with more detail."
    )


def review_prompt(request: str, feedback: str, follow_ups: list[str]) -> str:
    text = (
        "Your change passes the checks but a review found problems. Address them, keep the change to "
        f"what was asked, and run verify again.\n\n{feedback}\n\nThe original request was:\n{request}"
    )
    return text + _follow_up_block(follow_ups)


def conflict_prompt(request: str, target: str, conflicts: list[str]) -> str:
    files = "\n".join(f"- {f}" for f in conflicts[:20])
    return (
        f"The latest {target} conflicts with your branch. Honk has started merging it: resolve the "
        f"conflict markers in these files, keeping both sides' intent, then run verify.\n{files}\n\n"
        f"The original request was:\n{request}"
    )
