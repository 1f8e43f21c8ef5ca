"""What a task's confinements refused since last asked — and the agent's tool calls the tool policy
denied — into the task's timeline, the audit log (through the gate) and the worker's metrics. The
warnings on delivery are made from the timeline."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from honk.domain import TaskRequest
from honk.events import AgentToolDenied, SandboxRefused
from honk.gate import Gate, WorkerRefusal
from honk.metrics import WorkerMetrics
from honk.protocols import EventSink
from honk.sandbox import Sandbox


class Refusals:
    def __init__(self, areas: Path, gate: Gate, metrics: WorkerMetrics | None = None) -> None:
        self.areas, self.gate, self.metrics = areas, gate, metrics

    async def collect(self, task: TaskRequest, emit: EventSink, denied: Sequence[AgentToolDenied] = ()) -> None:
        # The task's own sandboxes, and the screenshot browser's (its own spec and records, in `shots`).
        areas = (self.areas / task.task_id, self.areas / task.task_id / "shots")
        found = [v for area in areas for v in Sandbox.violations(area)]
        blocked = [b for area in areas for b in Sandbox.blocked(area)]
        if not found and not denied and not blocked:
            return
        for v in found if self.metrics is not None else ():
            self.metrics.refusals.labels(v.kind).inc()  # type: ignore[union-attr]
        await emit(*(SandboxRefused(what=v.kind, detail=v.detail, command=v.command, source=v.source) for v in found))
        await emit(*blocked)
        await self.gate.worker_refused(
            task,
            *(
                WorkerRefusal(
                    source=v.source,
                    action="sandbox",
                    outcome="violation",
                    rule=f"sandbox.{v.kind}",
                    detail=f"{v.detail} — in `{v.command}`",
                )
                for v in found
            ),
            *(
                WorkerRefusal(
                    source=b.phase,
                    action="network",
                    outcome="refused",
                    rule=f"egress.{b.reason}",
                    detail=f"{b.method} {b.host}:{b.port}: {b.detail} — in `{b.command}`"
                    + (f" (×{b.times})" if b.times > 1 else ""),
                )
                for b in blocked
            ),
            *(
                WorkerRefusal(
                    source="agent",
                    action="agent_tool",
                    outcome="refused",
                    rule="tool_policy",
                    detail=f"{d.tool} {d.input}: {d.reason}",
                )
                for d in denied
            ),
        )
