"""Composition root of a worker: reads Settings, builds the steps' dependencies, polls the task queue."""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import timedelta

from temporalio.worker import Worker

from honk.settings import Settings
from honk.store import Store
from honk.workflow.activities import ActivityDeps, TaskActivities
from honk.workflow.client import connect
from honk.workflow.task_workflow import TaskWorkflow
from honk.workspace.worktrees import WorktreeWorkspaces

log = logging.getLogger("honk.worker")


def build_activities(settings: Settings, store: Store) -> TaskActivities:
    return TaskActivities(ActivityDeps(
        store=store,
        workspaces=WorktreeWorkspaces(settings.mirrors_dir, settings.workspaces_dir,
                                      settings.git_author_name, settings.git_author_email),
        artifacts_dir=settings.artifacts_dir.resolve(), previews_dir=settings.previews_dir.resolve(),
        logs_dir=settings.logs_dir.resolve(), base_url=settings.base_url,
        default_agent=settings.default_agent, max_rounds=settings.max_rounds,
    ))


async def run_worker(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.db_url)
    await store.create_schema()
    client = await connect(settings)
    acts = build_activities(settings, store)
    worker = Worker(
        client, task_queue=settings.task_queue, workflows=[TaskWorkflow],
        activities=[acts.record, acts.provision, acts.run_agent, acts.verify, acts.build,
                    acts.deliver, acts.merge, acts.cleanup],
        max_concurrent_activities=settings.max_concurrent_tasks * 2,
        graceful_shutdown_timeout=timedelta(seconds=5),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker polling %s on %s", settings.task_queue, settings.temporal_address)
    async with worker:
        await stop.wait()
    await store.close()
