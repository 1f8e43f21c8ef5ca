"""The tools an agent gets for one run (Honk's `AgentTools`), built by the worker for that run.

The agent's launcher confines everything it starts (the agent's own CLI included) with the network
this worker can give an agent: the model API through the key proxy (and nothing else), or, with a
cloud provider Honk holds no key for, the worker's network; its checks run each in their own
confinement; a per-run token stands in for the model key and is revoked when the run ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from honk import attachments as files
from honk.domain import AttachedFile, Attachment, Network, RepoConfig, RepoRef, VerifyCommand
from honk.egress.policies import EgressPolicies
from honk.network import EgressPolicy
from honk.protocols import CheckRunner, EventSink
from honk.sandbox import Sandbox, SandboxLauncher
from honk.sandbox.key_proxy import KeyProxy
from honk.store.transcripts import TranscriptStore
from honk.verify.runner import AcrossChecks, AgentChecks
from honk.workspace.files import WorkspaceFiles


@dataclass(frozen=True)
class ModelGrant:
    """Honk's `ModelAccess`: this run's token for the key proxy, and where the agent finds the proxy."""

    proxy: KeyProxy
    token: str
    base_url: str

    @property
    def api_key(self) -> str:
        return self.token

    def unreachable(self) -> str | None:
        return self.proxy.unreachable(self.token)


@dataclass(frozen=True)
class OtherWorkspace:
    """Another repo of a task over several, as its agent run is given it: its name, its workspace, and the
    mirror that workspace's `.git` points into."""

    name: str
    path: Path
    mirror: Path
    # Its own checks (its `.honk.toml` as provisioned), for the agent's verify tool, and the repo and its
    # config, for what they may reach (None: nothing).
    checks: Sequence[VerifyCommand] = ()
    network: tuple[RepoRef, RepoConfig] | None = None


@dataclass(frozen=True)
class RunTools:
    """Honk's `AgentTools` for one run."""

    workspace: WorkspaceFiles
    launcher: SandboxLauncher
    checks: CheckRunner
    model: ModelGrant | None
    transcripts: TranscriptStore
    attachments: tuple[AttachedFile, ...] = ()
    also: Mapping[str, WorkspaceFiles] = field(default_factory=dict)  # a task's other repos, by name


class ToolsForRuns:
    def __init__(
        self,
        sandbox: Sandbox,
        transcripts: TranscriptStore,
        areas: Path,
        logs: Path,
        key_proxy: KeyProxy | None = None,
        cloud_model: bool = False,
        egress: EgressPolicies | None = None,
    ) -> None:
        self.sandbox, self.transcripts, self.areas, self.logs = sandbox, transcripts, areas, logs
        self.key_proxy, self.cloud_model, self.egress = key_proxy, cloud_model, egress

    @property
    def network(self) -> Network:
        if self.key_proxy is not None:
            return "model"
        return "full" if self.cloud_model else "none"

    @asynccontextmanager
    async def run(
        self,
        task_id: str,
        workspace: Path,
        git_dirs: list[Path],
        checks: list[VerifyCommand],
        emit: EventSink,
        attachments: Sequence[tuple[Attachment, bytes]] = (),
        writable: bool = True,
        network: tuple[RepoRef, RepoConfig | None] | None = None,
        also: Sequence[OtherWorkspace] = (),
    ) -> AsyncIterator[RunTools]:
        """`writable` False: a planning run, the workspace read-only to the agent and all it starts.
        `network`: the repo and its config as provisioned, for what the agent and its checks may reach
        (None: nothing). `also`: a task over several repos' other workspaces: the agent's launcher shows
        them writable at their own paths (their mirrors read-only), and the agent gets a view of each;
        the checks the agent runs see only the workspace they check."""
        area, logs = self.areas / task_id, self.logs / task_id
        agent_net = check_net = None
        if network is not None and network[1] is not None and self.egress is not None:
            nets = await self.egress.policies(network[0], network[1], ("agent", "check"))
            agent_net, check_net = nets["agent"], nets["check"]
        launcher = self.sandbox.launcher(
            area,
            workspace,
            [*git_dirs, *(o.mirror for o in also)],
            "agent",
            self.network,
            writable=writable,
            egress=agent_net,
            also=tuple(o.path for o in also),
        )
        agent_checks: CheckRunner
        if also:
            # A task over several repos: each repo's checks confined to its own workspace, as Honk's verify
            # step runs them (a check sees only the workspace it checks).
            own = network[0].name if network is not None else workspace.name
            each = [(own, checks, self._checks_launcher(area, workspace, git_dirs, writable, check_net))]
            for o in also:
                net = await self._check_net(o)
                each.append((o.name, list(o.checks), self._checks_launcher(area, o.path, [o.mirror], writable, net)))
            agent_checks = AcrossChecks(each, logs, emit)
        else:
            agent_checks = AgentChecks(
                checks, self._checks_launcher(area, workspace, git_dirs, writable, check_net), logs, emit
            )
        proxy = self.key_proxy
        token = proxy.issue() if proxy is not None else None
        model = None
        if proxy is not None and token is not None:
            model = ModelGrant(proxy, token, launcher.model_url or proxy.base_url)
        try:
            yield RunTools(
                workspace=WorkspaceFiles(workspace, writable),
                launcher=launcher,
                checks=agent_checks,
                model=model,
                transcripts=self.transcripts,
                attachments=_lay_out(launcher.home / "attachments", attachments),
                also={o.name: WorkspaceFiles(o.path, writable) for o in also},
            )
        finally:
            launcher.close()
            if proxy is not None and token is not None:
                proxy.revoke(token)

    def _checks_launcher(
        self, area: Path, workspace: Path, git_dirs: list[Path], writable: bool, egress: EgressPolicy | None
    ) -> Callable[[], SandboxLauncher]:
        """Makes the launcher for one repo's checks when they run."""
        return lambda: self.sandbox.launcher(area, workspace, git_dirs, "check", writable=writable, egress=egress)

    async def _check_net(self, other: OtherWorkspace) -> EgressPolicy | None:
        """What another repo's checks may reach: its own config's."""
        if other.network is None or self.egress is None:
            return None
        return await self.egress.policy(other.network[0], other.network[1], "check")


def _lay_out(where: Path, attached: Sequence[tuple[Attachment, bytes]]) -> tuple[AttachedFile, ...]:
    """The request's files in the run's HOME, outside the workspace (so never part of the change)."""
    if not attached:
        return ()
    where.mkdir(parents=True, exist_ok=True)
    laid: list[AttachedFile] = []
    for a, data in attached:
        path = where / a.name  # a safe name (honk.attachments.safe_name): no directories
        path.write_bytes(data)
        extract = files.extract(data.decode("utf-8", "replace")) if a.kind == "text" else None
        laid.append(AttachedFile(attachment=a, path=path, extract=extract))
    return tuple(laid)
