"""A revert task's change: Honk reverts the merged commit itself (no agent, nothing to interpret), in the
revert task's own workspace; the checks, the review and the merge policy then take it like any change."""

from __future__ import annotations

from honk.events import RevertCommitted
from honk.protocols import EventSink, Workspaces
from honk.workflow.records import RevertInput, RevertResult


class Reverter:
    def __init__(self, workspaces: Workspaces) -> None:
        self.workspaces = workspaces

    async def revert(self, inp: RevertInput, emit: EventSink) -> RevertResult:
        req = inp.request
        subject = req.reverts
        if subject is None:
            raise ValueError("revert called for a task that reverts nothing")
        # Provisioning made the workspace from the target as fetched after the merge: it holds the commit.
        ws = await self.workspaces.ensure(req.task_id, req.repo, req.repo.branch)
        conflicts = await self.workspaces.revert(
            ws,
            subject.commit,
            f"Revert task {subject.task_id}'s merge ({subject.commit[:10]})",
            {"Honk-Task": req.task_id, "Reverts-task": subject.task_id, "Requested-by": req.requested_by},
        )
        if conflicts:
            return RevertResult(conflicts=conflicts)
        commit = await self.workspaces.head(ws)
        await self.workspaces.publish(ws, req.repo, req.task_id)
        await emit(RevertCommitted(commit=commit, reverted=subject.commit, of_task=subject.task_id))
        return RevertResult(commit=commit)
