"""Telling the workflows that follow a task (a campaign's, a best-of-N group's) that it moved.

The task workflow's record activity calls `poke_parents` after it stored events that move the task's state:
the parent then reads the store at once instead of at its next timer. A poke is a hint, never the truth (the
store is): a parent that is gone, or Temporal that does not answer, is logged and forgotten.
"""

from __future__ import annotations

import logging
from typing import Protocol

from temporalio.client import Client
from temporalio.service import RPCError

from honk.workflow.campaign_policy import workflow_id as campaign_workflow_id

log = logging.getLogger("honk.worker")
POKE = "poke"  # the signal every parent workflow takes


class Followed(Protocol):
    """A task as its parents know it: a TaskRequest, or the RecordInput of one of its records."""

    @property
    def task_id(self) -> str: ...

    @property
    def campaign(self) -> str | None: ...

    @property
    def attempt_group(self) -> str | None: ...


def parents(inp: Followed) -> list[str]:
    """The workflow ids that follow the task."""
    ids = []
    if inp.campaign:
        ids.append(campaign_workflow_id(inp.campaign))
    if inp.attempt_group:
        ids.append(f"attempts-{inp.attempt_group}")
    return ids


async def poke_parents(client: Client, inp: Followed) -> None:
    """Signals `poke` to each workflow following the task (errors ignored: the parent's timer catches up)."""
    for workflow_id in parents(inp):
        try:
            await client.get_workflow_handle(workflow_id).signal(POKE)
        except RPCError as e:  # ended, or Temporal away: the parent reads the store on its own timer too
            log.info("poke of %s for %s not delivered: %s", workflow_id, inp.task_id, e)
