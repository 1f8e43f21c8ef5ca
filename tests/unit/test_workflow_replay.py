"""Recorded histories must replay on the current workflow code: running tasks (waiting days for a
review) survive a deploy only if this holds. And the workflow's own idea of where a task is must be
what Honk's store reads from the task's events: both move by `domain.next_state`, and here they are
compared over real runs. Re-record with tests/histories/record.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from honk.domain import TaskState, fold_states
from honk.events import StoredEvent
from honk.workflow.attempts_workflow import AttemptsWorkflow
from honk.workflow.campaign_workflow import CampaignWorkflow
from honk.workflow.task_workflow import TaskWorkflow

HERE = Path(__file__).parents[1] / "histories"
# A campaign's and a best-of-N group's histories are named after their workflow (record_fleet.py); the rest are tasks'.
FLEET = {"campaign": CampaignWorkflow, "attempts": AttemptsWorkflow}
HISTORIES = sorted(
    p for p in HERE.glob("*.json") if not p.name.endswith(".events.json") and p.name.split("_", 1)[0] not in FLEET
)
WITH_EVENTS = [p for p in HISTORIES if p.with_name(f"{p.stem}.events.json").exists()]


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path):
    replayer = Replayer(workflows=[TaskWorkflow], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(load(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


@pytest.mark.parametrize("path", WITH_EVENTS, ids=lambda p: p.stem)
def test_the_workflow_and_the_store_agree_on_where_the_task_ended(path: Path):
    completed = [e for e in load(path).events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED]
    assert len(completed) == 1, "record only finished tasks"
    payloads = completed[0].workflow_execution_completed_event_attributes.result.payloads
    (workflow_says,) = pydantic_data_converter.payload_converter.from_payloads(payloads, [TaskState])
    stored = [StoredEvent.model_validate(e) for e in json.loads(path.with_name(f"{path.stem}.events.json").read_text())]
    assert fold_states(e.event for e in stored) == workflow_says


def test_there_are_histories_to_replay_and_compare():
    assert HISTORIES, "tests/histories holds at least one recorded workflow history"
    assert {p.stem.rsplit("-", 1)[0] for p in WITH_EVENTS} >= {"follow_up_main_moved_merge", "cancelled_while_working"}


FLEET_HISTORIES = sorted(p for p in HERE.glob("*.json") if p.name.split("_", 1)[0] in FLEET)


@pytest.mark.parametrize("path", FLEET_HISTORIES, ids=lambda p: p.stem)
async def test_recorded_campaign_and_best_of_n_histories_replay(path: Path):
    """A campaign runs for hours and a best-of-N group waits for a pick: both must survive a deploy too
    (tests/histories/record_fleet.py records them)."""
    replayer = Replayer(workflows=[FLEET[path.name.split("_", 1)[0]]], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(load(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


def test_there_are_campaign_and_best_of_n_histories_to_replay():
    assert {p.name.split("_", 1)[0] for p in FLEET_HISTORIES} == set(FLEET)
