"""Composition root of the web server: the store, the gate, TaskService, accounts, and the Slack front
door when Slack is configured — built once, for the server's life, and handed to the web app."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from honk.access import Policy
from honk.accounts import Accounts, secret_key
from honk.composition.previews import artifact_links
from honk.deliver.shelf import DeliveryShelf
from honk.egress.policies import ceilings
from honk.gate import Gate
from honk.hooks import setup_check
from honk.hooks.intake import HookIntake
from honk.service import TaskService
from honk.settings import Settings
from honk.store import AuditLog, Store
from honk.store.deliveries import HookDeliveries
from honk.store.slack import SlackStore
from honk.triggering import Triggering
from honk.web import attempts, campaigns, hooks, schedules, triggers
from honk.web.app import WebParts, create_app
from honk.web.install import install_router
from honk.web.preview_origin import PreviewOrigin
from honk.workflow.client import connect

log = logging.getLogger("honk.server")


def build_app(settings: Settings) -> PreviewOrigin:
    @asynccontextmanager
    async def parts() -> AsyncIterator[WebParts]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = Store(settings.db_url)
        await store.create_schema()
        policy = Policy.load(settings.access.policy_file) if settings.access.policy_file else Policy.open()
        gate = Gate(policy, store, AuditLog(store), slack_mergers=settings.slack.mergers)
        ceiling, setup_ceiling = ceilings(settings)
        service = TaskService(
            settings, store, await connect(settings), gate, ceiling=ceiling, setup_ceiling=setup_ceiling
        )
        # Every repo secret the server can decrypt is kept out of what it writes from the start.
        if problem := await service.repo_secrets.redact_stored():
            log.warning(problem)
        for problem in setup_check.problems(settings):
            log.warning(problem)
        # Deliveries stored while Temporal was away are handed on now and every minute; schedules are read
        # from each repo's default branch — in the background: neither holds the server's start.
        intake = HookIntake(HookDeliveries(store), service.client, settings)
        chores = [
            asyncio.get_running_loop().create_task(_every(RESUME_EVERY_S, intake.resume, "handing on deliveries")),
            asyncio.get_running_loop().create_task(_sync_schedules(service)),
        ]
        slack, socket_mode = None, None
        if settings.slack_enabled:
            from honk.slack.server import start_slack

            slack, socket_mode = await start_slack(settings, service, SlackStore(store))
        accounts = Accounts(store, secret_key(settings.secret_key_file))
        try:
            yield WebParts(
                service=service, accounts=accounts, slack=slack, hooks=intake, triggers=Triggering(service, accounts)
            )
        finally:
            for chore in chores:
                chore.cancel()
            await intake.settled()
            if socket_mode is not None:
                await socket_mode.close_async()
            await store.close()

    installs = install_router(artifact_links(settings), DeliveryShelf(settings.artifacts_dir))
    return create_app(
        settings,
        parts,
        routers=[
            installs,
            hooks.router(),
            schedules.router(),
            triggers.router(),
            campaigns.router(),
            attempts.router(),
        ],
    )


RESUME_EVERY_S = 60.0


async def _every(interval_s: float, chore: Callable[[], Awaitable[object]], doing: str) -> None:
    while True:
        try:
            await chore()
        except Exception:  # a chore that fails now is tried again next time; the server goes on
            log.exception("%s failed", doing)
        await asyncio.sleep(interval_s)


async def _sync_schedules(service: TaskService) -> None:
    try:
        problems = await service.schedules.sync_all()
    except Exception:
        log.exception("reading the repos' schedules failed; `honk schedule sync` tries again")
        return
    for repo, problem in problems.items():
        log.warning("schedules of %s: %s", repo, problem)
