"""What a plain task costs the Temporal server is its history: each activity is a round trip, each patch
marker also a search-attribute write (docs/benchmarks.md, orchestration). A task started now records one
marker for every patch older than the baseline; and a step heartbeats only once it has run a while (a
heartbeat is a write of the workflow's state in the server)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from datetime import timedelta

from harness import Bench
from temporalio.api.enums.v1 import EventType
from temporalio.testing import ActivityEnvironment

from honk.domain import TaskState
from honk.workflow.activities import heartbeating
from honk.workflow.task_workflow import BASELINE, BEFORE_BASELINE


async def _history(task) -> tuple[Counter[str], list[str]]:  # noqa: ANN001 - a harness Task
    history = await task.handle.fetch_history()
    kinds = Counter(EventType.Name(e.event_type).removeprefix("EVENT_TYPE_") for e in history.events)
    markers = [
        e.marker_recorded_event_attributes.details["patch-data"].payloads[0].data.decode()
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
        and e.marker_recorded_event_attributes.marker_name == "core_patch"
    ]
    return kinds, markers


async def test_a_plain_task_records_one_patch_marker_and_three_activities(bench: Bench) -> None:
    async with bench.task() as task:
        await task.settles_in(TaskState.ready)
        kinds, markers = await _history(task)
    assert len(markers) == 1 and BASELINE in markers[0], markers
    assert kinds["ACTIVITY_TASK_SCHEDULED"] == 3  # provision, agent, verify (with the review and the delivery)
    assert kinds["UPSERT_WORKFLOW_SEARCH_ATTRIBUTES"] == 1  # the baseline's, written with its marker


def test_every_patch_the_task_workflow_asks_for_is_older_than_the_baseline_or_asked_directly() -> None:
    import inspect

    from honk.workflow import task_workflow

    source = inspect.getsource(task_workflow)
    asked = {part.split('")', 1)[0] for part in source.split('self._patched("')[1:]}
    assert asked <= BEFORE_BASELINE
    assert asked >= BEFORE_BASELINE, f"no longer asked, drop from BEFORE_BASELINE: {BEFORE_BASELINE - asked}"


async def _beats_while(seconds: float, heartbeat_timeout_s: float) -> int:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, heartbeat_timeout=timedelta(seconds=heartbeat_timeout_s))
    beats: list[object] = []
    env.on_heartbeat = lambda *details: beats.append(details)

    async def step() -> None:
        async with heartbeating():
            await asyncio.sleep(seconds)

    await env.run(step)
    return len(beats)


async def test_a_short_step_sends_no_heartbeat_and_a_long_one_does() -> None:
    assert await _beats_while(0.1, heartbeat_timeout_s=4) == 0  # beats every second: none in a tenth
    assert await _beats_while(1.6, heartbeat_timeout_s=2) >= 2  # every 0.5 s: before the timeout, again
