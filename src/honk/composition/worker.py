"""Composition root of a worker: reads Settings, builds the steps and the seams they use, polls the
task queue(s)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import TypedDict

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from honk.access import Policy
from honk.agents import AgentRegistry
from honk.agents.claude_env import ClaudeConfig
from honk.attempts import AttemptSteps
from honk.build.builder import RepoBuilder
from honk.build.screenshot import Screenshots
from honk.campaigns import CampaignSteps
from honk.composition.previews import artifact_links, link_maker
from honk.deliver.command import CommandDelivery
from honk.deliver.served import ServedApps
from honk.deliver.shelf import DeliveryShelf
from honk.deploy import RepoDeployer
from honk.domain import Budget, TaskRequest
from honk.egress.policies import EgressPolicies, ceilings
from honk.egress.proxy import EgressProxy
from honk.forge.conversation import HostedConversation
from honk.forge.registry import Forges
from honk.forgedoor.door import ForgeFrontDoor
from honk.forgedoor.notifier import ForgeNotifier
from honk.gate import Gate
from honk.heap import settle_heap
from honk.hooks.delivery_workflow import HookDeliveryWorkflow
from honk.hooks.handling import DeliverySteps
from honk.metrics import WorkerMetrics, serve
from honk.preview.browser import OFF, browser_problem
from honk.preview.gateway import PreviewGateway
from honk.preview.host import PreviewHost
from honk.preview.shots import Shots
from honk.preview_links import preview_origin
from honk.protocols import AttemptsNotifier, CampaignNotifier, Notifier, RepoFiles
from honk.redaction import needles
from honk.sandbox import Sandbox, SandboxConfig
from honk.sandbox.key_proxy import KeyProxy
from honk.scheduling import ScheduleFirer
from honk.service import TaskService
from honk.settings import Settings
from honk.slack.attempts import SlackAttempts
from honk.slack.campaign_message import SlackCampaignMessage
from honk.slack.client import slack_client
from honk.slack.notifier import SlackNotifier
from honk.store import AttachmentStore, AuditLog, NetworkAllowances, PreviewRegistry, RepoSecrets, SecretKeys, Store
from honk.store.deliveries import HookDeliveries
from honk.store.deploys import DeployHistory
from honk.store.transcripts import TranscriptStore
from honk.verify.judge import Judge
from honk.verify.review import GuardAndJudge
from honk.verify.runner import RepoChecks
from honk.workflow.activities import Steps, TaskActivities
from honk.workflow.attempts_workflow import AttemptsWorkflow
from honk.workflow.campaign_workflow import CampaignWorkflow
from honk.workflow.client import connect
from honk.workflow.pull_review import PullReviewWorkflow
from honk.workflow.schedule_fire import ScheduleFireWorkflow
from honk.workflow.steps.agent_run import AgentRunner
from honk.workflow.steps.app_delivery import AppDelivery
from honk.workflow.steps.ci_failure import CiFailures
from honk.workflow.steps.deliver import Delivery
from honk.workflow.steps.deploying import FORGE_POLL_S, Deploying
from honk.workflow.steps.merge import Merger
from honk.workflow.steps.preview import Previewing
from honk.workflow.steps.provision import Provisioner
from honk.workflow.steps.pull_review import PullReviewer, PullReviewSteps
from honk.workflow.steps.refresh import Refresher
from honk.workflow.steps.refusals import Refusals
from honk.workflow.steps.revert import Reverter
from honk.workflow.steps.tools import ToolsForRuns
from honk.workflow.steps.verification import Verification
from honk.workflow.task_workflow import TaskWorkflow
from honk.workspace.repo_files import MirrorRepoFiles
from honk.workspace.worktrees import WorktreeWorkspaces

log = logging.getLogger("honk.worker")


CLOUD_ENV_PREFIXES = ("AWS_", "CLOUD_ML_", "ANTHROPIC_VERTEX_", "GOOGLE_", "VERTEX_", "ANTHROPIC_BEDROCK_")


def claude_config(settings: Settings) -> ClaudeConfig:
    cloud: dict[str, str] = {}
    if settings.claude.use_bedrock or settings.claude.use_vertex:
        cloud = {k: v for k, v in os.environ.items() if k.startswith(CLOUD_ENV_PREFIXES)}
        cloud["CLAUDE_CODE_USE_BEDROCK" if settings.claude.use_bedrock else "CLAUDE_CODE_USE_VERTEX"] = "1"
    return ClaudeConfig(
        model=settings.claude.model,
        base_url=settings.claude.base_url,
        cloud_env=cloud,
        max_retries=settings.claude.max_retries,
        binary=settings.claude.binary,
    )


def build_activities(
    settings: Settings,
    store: Store,
    key_proxy: KeyProxy | None = None,
    socket_dir: Path | None = None,
    egress: EgressProxy | None = None,
    previews: PreviewHost | None = None,
    client: Client | None = None,
) -> TaskActivities:
    """`previews`: the worker's running previews (None: made here, for a worker that runs none yet);
    `client`: to poke the workflows following a task (a campaign, a best-of-N group) as it moves."""
    areas, logs = settings.agent_homes_dir.resolve(), settings.logs_dir.resolve()
    box = sandbox(settings, socket_dir, egress)
    previews = previews or preview_host(settings, store, box)
    policies = egress_policies(settings, store)
    metrics = WorkerMetrics()
    gate = Gate(
        Policy.load(settings.access.policy_file) if settings.access.policy_file else Policy.open(),
        store,
        AuditLog(store),
    )
    workspaces = WorktreeWorkspaces(
        settings.mirrors_dir,
        settings.workspaces_dir,
        settings.workspaces.git_author_name,
        settings.workspaces.git_author_email,
        warm=settings.workspaces.warm_workspaces,
        share=settings.workspaces.share_task_branches,
    )
    agents = AgentRegistry(claude_config(settings) if settings.model_credentials else None)
    tools = ToolsForRuns(
        box,
        TranscriptStore(store),
        areas,
        logs,
        key_proxy,
        cloud_model=settings.claude.use_bedrock or settings.claude.use_vertex,
        egress=policies,
    )
    refusals = Refusals(areas, gate, metrics)
    checks = RepoChecks(box, areas, logs)
    forges = Forges(settings.forges, settings.workspaces)
    conversation = HostedConversation(forges)
    budget = Budget(
        timeout_s=settings.tasks.agent_timeout_s,
        max_turns=settings.tasks.agent_max_turns,
        max_cost_usd=settings.tasks.agent_max_cost_usd,
    )
    steps = Steps(
        provisioner=Provisioner(
            workspaces,
            agents,
            gate,
            box,
            refusals,
            areas,
            logs,
            settings.agent_default,
            settings.tasks.max_rounds,
            budget,
            policies,
        ),
        agent_runner=AgentRunner(
            workspaces,
            agents,
            tools,
            refusals,
            store,
            gate,
            AttachmentStore(store),
            tuple(needles(settings.secret_values())),
            metrics,
        ),
        verification=Verification(
            workspaces,
            checks,
            GuardAndJudge(judge(settings)),
            RepoBuilder(box, areas, logs, settings.artifacts_dir.resolve(), settings.previews_dir.resolve()),
            refusals,
            store,
            box,
            settings.base_url,
            policies,
        ),
        delivery=Delivery(workspaces, forges, store, settings.base_url),
        merger=Merger(workspaces, checks, forges, store, refusals, policies),
        refresher=Refresher(workspaces, checks, forges, refusals, policies),
        workspaces=workspaces,
        # The same WorktreeWorkspaces: a selector's fetch of a repo and its tasks' fetches coalesce.
        repo_files=MirrorRepoFiles(workspaces),
        forges=forges,
        areas=areas,
        previewing=Previewing(
            workspaces, previews, shooter(settings, box), refusals, partial(preview_origin, settings), policies
        ),
        app_delivery=AppDelivery(
            workspaces,
            settings.artifacts_dir.resolve(),
            ServedApps(
                box,
                areas,
                DeliveryShelf(settings.artifacts_dir.resolve()),
                artifact_links(settings),
                settings.deliver.link_days * 86_400,
            ),
            CommandDelivery(box, areas, logs, policies),
        ),
        deploying=Deploying(
            workspaces,
            RepoDeployer(box, areas, logs, policies),
            forges,
            DeployHistory(store),
            gate,
            forge_poll_s=min(FORGE_POLL_S, settings.forges.forge_poll_s),
        ),
        reverter=Reverter(workspaces),
        ci_failures=CiFailures(conversation, store),
        pull_reviews=PullReviewSteps(
            PullReviewer(workspaces, agents, tools, conversation, gate, areas, settings.agent_default, budget),
            conversation,
        ),
    )
    told: list[Notifier] = [ForgeNotifier(conversation, store, settings.base_url)]
    if (slack := notifier(settings, store, box)) is not None:
        told.insert(0, slack)
    return TaskActivities(steps, store, AllNotifiers(told), metrics, client)


class AllNotifiers:
    """Every place a task talks (its Slack thread, its forge thread), told in turn."""

    def __init__(self, notifiers: list[Notifier]) -> None:
        self.notifiers = notifiers

    async def status(self, task_id: str) -> None:
        for n in self.notifiers:
            await n.status(task_id)

    async def milestone(self, task: TaskRequest, detail: str = "") -> None:
        for n in self.notifiers:
            await n.milestone(task, detail)

    async def note(self, task: TaskRequest, text: str, asked_too: bool = False) -> None:
        for n in self.notifiers:
            await n.note(task, text, asked_too)


def front_door_activities(
    settings: Settings, store: Store, client: Client, forges: Forges, files: RepoFiles | None = None
) -> list:
    """What the worker does for the server's front doors, through TaskService like they do: a forge
    delivery's action, a schedule's fire, an `@honk review`, and the record of each."""
    policy = Policy.load(settings.access.policy_file) if settings.access.policy_file else Policy.open()
    ceiling, setup_ceiling = ceilings(settings)
    service = TaskService(
        settings, store, client, Gate(policy, store, AuditLog(store)), ceiling=ceiling, setup_ceiling=setup_ceiling
    )
    door = ForgeFrontDoor(service, HostedConversation(forges), settings.hooks.forge_handle)
    # A campaign's steps (issue 20): its files selector reads this worker's mirrors (`files`: None refuses a
    # files selector with a reason); its one Slack message needs a bot token (without one the board is the
    # web page); each repo's forge says whether it is archived (skipped before any task starts).
    campaigns = CampaignSteps(service, files=files, notifier=campaign_notifier(settings), forge_of=forges.of)
    return [
        door.act,
        *DeliverySteps(HookDeliveries(store)).all(),
        *ScheduleFirer(service).all(),
        *campaigns.all(),
        *AttemptSteps(service.attempts, attempts_notifier(settings)).all(),
    ]


def worker_id() -> str:
    """Who runs a preview, in the store: this machine and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def preview_host(settings: Settings, store: Store, box: Sandbox) -> PreviewHost:
    return PreviewHost(
        box,
        settings.agent_homes_dir.resolve(),
        settings.logs_dir.resolve(),
        PreviewRegistry(store),
        worker_id(),
        max_running=settings.previews.max_running,
        address=settings.previews.address,
    )


def egress_policies(settings: Settings, store: Store) -> EgressPolicies:
    """Each phase's egress policy: the operator's ceiling (wider for setup where HONK_SANDBOX_SETUP_NETWORK
    says so), the repo's secrets, decrypted here for the sandbox that needs them, and the hosts its admins
    allowed it (read as each sandbox starts, so an allowance counts from the next one on)."""
    ceiling, setup_ceiling = ceilings(settings)
    return EgressPolicies(
        ceiling,
        secrets=repo_secrets(settings, store),
        allowances=NetworkAllowances(store),
        setup_ceiling=setup_ceiling,
    )


def repo_secrets(settings: Settings, store: Store) -> RepoSecrets:
    """Repo secrets as every process reads them (the server, workers, `honk db rotate-secrets`): the
    keys in HONK_SECRETS_KEY, else the data dir's key file. A worker looks a task's up by name
    (`await repo_secrets(...).values(repo, names)`) for the egress proxy; no stage gets the store."""
    return RepoSecrets(store, SecretKeys(settings.secrets_keys(), settings.secrets_key_file))


def sandbox(settings: Settings, model_socket_dir: Path | None = None, egress: EgressProxy | None = None) -> Sandbox:
    box = Sandbox(
        SandboxConfig(
            egress=egress,
            model_socket_dir=model_socket_dir,
            mode=settings.sandbox.mode,
            bwrap=settings.sandbox.bwrap,
            memory_mb=settings.sandbox.memory_mb,
            pids=settings.sandbox.max_processes,
            hidden=tuple(settings.secret_paths()),
            read_only=tuple(p.resolve() for p in settings.sandbox.read_only),
        )
    )
    if not box.enabled:
        log.warning("HONK_SANDBOX=off: repo code and agent commands run WITHOUT a sandbox; every task says so")
    elif (problem := box.problem()) is not None:
        log.error(
            "bubblewrap cannot run (%s): tasks will fail before running repo code "
            "until it is installed or HONK_SANDBOX=off is set",
            problem,
        )
    return box


def notifier(settings: Settings, store: Store, box: Sandbox) -> SlackNotifier | None:
    if settings.slack.bot_token is None:
        return None
    shots = Screenshots(box, settings.agent_homes_dir.resolve(), settings.previews_dir.resolve())
    return SlackNotifier(
        slack_client(settings),
        store,
        settings.base_url,
        str(settings.artifacts_dir.resolve()),
        settings.slack.status_interval_s,
        shots,
        streaming=settings.slack.streaming == "auto",
        preview_link=link_maker(settings, PreviewRegistry(store)),
        shots_dir=settings.shots_dir.resolve(),
    )


def campaign_notifier(settings: Settings) -> CampaignNotifier | None:
    """Where campaigns talk in Slack (one message per campaign, updated in place; honk.slack.campaign_message),
    for the campaign workflow's activities (honk.campaigns.CampaignSteps); None without a Slack bot token."""
    if settings.slack.bot_token is None:
        return None
    return SlackCampaignMessage(slack_client(settings), settings.base_url)


def attempts_notifier(settings: Settings) -> AttemptsNotifier | None:
    """Where a best-of-N group asked in Slack is told its ranking (None: no Slack configured)."""
    if settings.slack.bot_token is None:
        return None
    return SlackAttempts(slack_client(settings), settings.base_url)


def judge(settings: Settings) -> Judge | None:
    """The scope judge speaks the Messages API directly, so it needs an API key (not Bedrock/Vertex)."""
    if not settings.claude.judge or settings.claude.api_key is None:
        return None
    return Judge(
        settings.claude.base_url or "https://api.anthropic.com",
        settings.claude.api_key,
        settings.claude.judge_model or settings.claude.model,
    )


async def start_key_proxy(settings: Settings) -> tuple[KeyProxy | None, Path | None]:
    """The model API key stays in this process: agents reach the API through this proxy, on a unix
    socket bound into their sandboxes (in a short private directory: socket paths are limited)."""
    if settings.claude.api_key is None:
        return None, None
    socket_dir = Path(tempfile.mkdtemp(prefix="honk-model-"))
    proxy = KeyProxy(settings.claude.base_url or "https://api.anthropic.com", api_key=settings.claude.api_key)
    await proxy.start(socket=socket_dir / "model.sock")
    return proxy, socket_dir


def reap_with_pidfds() -> None:
    """Python 3.11 waits for each child process in a thread of its own; a pidfd watched by the event loop
    costs less for each of a task's git runs (3.12 does this by itself). Kernels before 5.3 keep the threads."""
    if sys.version_info >= (3, 12) or not hasattr(os, "pidfd_open"):
        return
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return
    watcher = asyncio.PidfdChildWatcher()
    watcher.attach_loop(asyncio.get_running_loop())
    asyncio.get_event_loop_policy().set_child_watcher(watcher)


async def run_worker(settings: Settings, egress: EgressProxy | None = None) -> None:
    """`egress`: the test harness's own proxy (its resolver reaches its fakes); else the worker's."""
    reap_with_pidfds()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.db_url)
    await store.create_schema()
    client = await connect(settings)
    key_proxy, socket_dir = await start_key_proxy(settings)
    egress = (egress or EgressProxy()).start()
    previews = preview_host(settings, store, sandbox(settings, socket_dir, egress))
    acts = build_activities(settings, store, key_proxy, socket_dir, egress, previews, client)
    if (problem := browser_problem(settings)) is not None:
        log.error("%s Until then, previews run without before/after screenshots.", problem)
    reaper = asyncio.get_running_loop().create_task(previews.reap_forever(settings.previews.reap_interval_s))
    gateway = None
    if settings.previews.address:
        gateway = await PreviewGateway(previews.admit, settings.previews.listen or settings.previews.address).start()
        log.info("preview gateway on %s:%d", *gateway.address)
    if settings.operations.metrics_port and acts.metrics is not None:
        serve(acts.metrics.registry, settings.operations.metrics_port, settings.operations.metrics_host)
        log.info("metrics on http://%s:%d/metrics", settings.operations.metrics_host, settings.operations.metrics_port)
    queues = settings.temporal.worker_queues or [settings.temporal.task_queue]
    main = settings.temporal.task_queue
    doors = front_door_activities(settings, store, client, acts.steps.forges, acts.steps.repo_files)
    workers = [
        Worker(
            client,
            task_queue=queue,
            workflows=[
                TaskWorkflow,
                HookDeliveryWorkflow,
                ScheduleFireWorkflow,
                PullReviewWorkflow,
                CampaignWorkflow,
                AttemptsWorkflow,
            ]
            if queue == main
            else [],
            activities=acts.all() + (doors if queue == main else []),
            # Temporal's sandbox re-imports a workflow's modules for every workflow it starts: a sixth of this
            # worker's CPU per task (docs/benchmarks.md). It checks that workflow code stays deterministic,
            # and the test suite keeps that check: its workflow tests run the same workflows sandboxed.
            workflow_runner=UnsandboxedWorkflowRunner(),
            **worker_concurrency(settings),
            graceful_shutdown_timeout=timedelta(seconds=5),
        )
        for queue in queues
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    settle_heap()
    log.info("worker polling %s on %s", ", ".join(queues), settings.temporal.address)
    async with contextlib.AsyncExitStack() as running:
        for worker in workers:
            await running.enter_async_context(worker)
        await stop.wait()
    reaper.cancel()
    if gateway is not None:
        await gateway.close()
    await previews.close()  # no preview outlives its worker
    await acts.steps.workspaces.close()
    if key_proxy is not None and socket_dir is not None:
        await key_proxy.stop()
        shutil.rmtree(socket_dir, ignore_errors=True)
    await acts.steps.forges.close()
    egress.stop()
    await store.close()


class Concurrency(TypedDict):
    max_concurrent_activities: int
    max_concurrent_workflow_tasks: int
    max_concurrent_local_activities: int


def worker_concurrency(settings: Settings) -> Concurrency:
    """How much the Worker runs at once: settings, with the defaults measured on the orchestration
    benchmark (README, "Scaling a worker", says which and why)."""
    tasks = settings.tasks
    return Concurrency(
        max_concurrent_activities=tasks.max_concurrent_activities or tasks.max_concurrent_tasks * 2,
        max_concurrent_workflow_tasks=tasks.max_concurrent_workflow_tasks,
        max_concurrent_local_activities=tasks.max_concurrent_local_activities,
    )


def shooter(settings: Settings, box: Sandbox) -> Shots | None:
    """Before/after screenshots of previews, by a confined Chromium; None when the operator turned them off
    (HONK_PREVIEW_CHROMIUM=off). A worker without Chromium still gets one: each round then says so."""
    configured = settings.previews.chromium
    if configured is not None and configured.strip().lower() in OFF:
        return None
    return Shots(box, settings.agent_homes_dir.resolve(), settings.shots_dir.resolve(), configured)
