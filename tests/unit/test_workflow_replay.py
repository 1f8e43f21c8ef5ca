"""Recorded histories must replay on the current workflow code: running tasks (waiting days for a
review) survive a deploy only if this holds. Re-record with tests/histories/record.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from honk.workflow.task_workflow import TaskWorkflow

HISTORIES = sorted((Path(__file__).parents[1] / "histories").glob("*.json"))


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path):
    replayer = Replayer(workflows=[TaskWorkflow], data_converter=pydantic_data_converter)
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


def test_there_is_a_history_to_replay():
    assert HISTORIES, "tests/histories holds at least one recorded workflow history"
