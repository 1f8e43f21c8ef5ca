"""Each phase's egress policy for a task, made where a step starts a sandbox: from the repo's
`.honk.toml` as read at provisioning (never as the agent left it), the admins' allowances, the
operator's ceiling, and the repo's secrets — decrypted in the worker, for this sandbox only."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from honk.domain import PHASES, Phase, RepoConfig, RepoRef
from honk.network import Allowance, Ceiling, EgressPolicy, phase_policy, secrets_needed, variables
from honk.settings import Settings
from honk.verify.config import problem_at


def ceilings(settings: Settings) -> tuple[Ceiling, Ceiling | None]:
    """The operator's ceiling (HONK_EGRESS_CEILING), and setup's when it is wider (any public host, with
    HONK_SANDBOX_SETUP_NETWORK): what workers make policies within, and the server checks an admin's
    allowance against."""
    return Ceiling(settings.sandbox.egress_ceiling), Ceiling(["*"]) if settings.sandbox.setup_network else None


class SecretValues(Protocol):
    """The repo's secrets (`honk secret set`), decrypted: the names asked for that are set."""

    async def values(self, repo: str, names: Sequence[str]) -> dict[str, str]: ...


class AllowanceReads(Protocol):
    """Hosts admins allowed for a repo after a refusal ("Allow host for this repo")."""

    async def allowances(self, repo: str) -> list[Allowance]: ...


class EgressPolicies:
    def __init__(
        self,
        ceiling: Ceiling,
        secrets: SecretValues | None = None,
        allowances: AllowanceReads | None = None,
        setup_ceiling: Ceiling | None = None,
    ) -> None:
        """`setup_ceiling`: a wider one for setup (HONK_SANDBOX_SETUP_NETWORK: any public host it lists)."""
        self.ceiling, self.secrets, self.allowed = ceiling, secrets, allowances
        self.setup_ceiling = setup_ceiling or ceiling

    def _ceiling(self, phase: Phase) -> Ceiling:
        return self.setup_ceiling if phase == "setup" else self.ceiling

    async def check(self, repo: RepoRef, config: RepoConfig, workspace: Path) -> None:
        """At provisioning, before any sandbox starts: every host within the ceiling and every secret set;
        else an InvalidRepoConfig naming the line and the fix."""
        for beyond in self.ceiling.beyond(config):
            if beyond.loc[:2] in (("network", "setup"), ("setup_network",)) and self.setup_ceiling.allows(beyond.host):
                continue
            shown = beyond.entry if beyond.entry == beyond.host else f"{beyond.entry} ({beyond.host})"
            raise problem_at(
                workspace,
                beyond.loc,
                f"lists {shown}, which this server does not allow any repo to reach (the operator's "
                f"HONK_EGRESS_CEILING allows: {', '.join(self.ceiling.entries) or 'nothing'}). "
                "Remove it, or ask the operator to allow it.",
            )
        wanted = secrets_needed(config, PHASES)
        found = await self.secrets.values(repo.name, wanted) if self.secrets is not None and wanted else {}
        for i, use in enumerate(config.secrets):
            if use.name not in found:
                raise problem_at(
                    workspace,
                    ("secrets", i, "name"),
                    f'names the secret "{use.name}", which is not set for {repo.name}. '
                    f"An admin sets it with: honk secret set {repo.name} {use.name} < file",
                )

    async def policy(self, repo: RepoRef, config: RepoConfig, phase: Phase) -> EgressPolicy:
        return (await self.grant(repo, config, phase))[0]

    async def policies(self, repo: RepoRef, config: RepoConfig, phases: Sequence[Phase]) -> dict[Phase, EgressPolicy]:
        """Several phases' policies from one read of the admins' allowances (an agent run's and its checks')."""
        allowances = await self.allowed.allowances(repo.name) if self.allowed is not None else []
        return {
            phase: phase_policy(
                config, phase, self._ceiling(phase), allowances, await self._secrets(repo, config, phase)
            )
            for phase in phases
        }

    async def grant(self, repo: RepoRef, config: RepoConfig, phase: Phase) -> tuple[EgressPolicy, dict[str, str]]:
        """The phase's policy, and the secrets it is given as variables (a trusted phase's only: setup,
        deploy; never written down, passed to its process only) — the secrets decrypted once for both."""
        secrets = await self._secrets(repo, config, phase)
        allowances = await self.allowed.allowances(repo.name) if self.allowed is not None else []
        policy = phase_policy(config, phase, self._ceiling(phase), allowances, secrets)
        return policy, variables(config, phase, secrets)

    async def _secrets(self, repo: RepoRef, config: RepoConfig, phase: Phase) -> dict[str, str]:
        names = secrets_needed(config, [phase])
        if not names or self.secrets is None:
            return {}
        return await self.secrets.values(repo.name, names)
