"""The forge's CI failed on a task's pull request: what failed, in the words an agent can act on.

The failing jobs' logs come from the forge (`ForgeConversation.failing_logs`) and are boiled down by
the same distiller the repo's own checks use, within the same bounds; a job that fails on the target
branch too is named, so that the workflow leaves it alone (it is not the change's fault)."""

from __future__ import annotations

from honk.protocols import ForgeConversation, TaskReads
from honk.verify.distill import distill
from honk.workflow.records import CiLogs, CiLogsInput

MAX_JOBS = 5  # failing jobs whose logs reach the agent
MAX_FEEDBACK = 8_000  # the agent's whole CI feedback, as a round of the repo's own checks gives it


class CiFailures:
    def __init__(self, conversation: ForgeConversation, reads: TaskReads) -> None:
        self.conversation, self.reads = conversation, reads

    async def logs(self, inp: CiLogsInput) -> CiLogs:
        repo = inp.request.repo
        timeline = await self.reads.timeline(inp.request.task_id)
        head = timeline.ready.commit if timeline is not None and timeline.ready is not None else ""
        if head != inp.commit:  # someone pushed to the pull request: their commit, their CI
            return CiLogs(head=head)
        logs = await self.conversation.failing_logs(repo, inp.commit, inp.run_id)
        if not logs:
            return CiLogs()
        jobs = [log.name for log in logs]
        on_target = [name for name in jobs if await self.conversation.check(repo, inp.target, name) == "failure"]
        per_job = MAX_FEEDBACK // min(len(logs), MAX_JOBS)
        parts = [
            f"## {log.name}" + (f" ({log.url})" if log.url else "") + "\n" + distill(log.log, 1, max_chars=per_job)
            for log in logs[:MAX_JOBS]
        ]
        if len(logs) > MAX_JOBS:
            parts.append(f"…and {len(logs) - MAX_JOBS} more failing jobs: {', '.join(jobs[MAX_JOBS:])[:500]}")
        return CiLogs(jobs=jobs, feedback="\n\n".join(parts), on_target=on_target, head=head)
