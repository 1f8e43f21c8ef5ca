"""The forge of each repo, for a worker: the repo's registration says where (none: its plain git
remote), the worker's settings hold the credentials. One forge per repo, kept for the worker's life."""

from __future__ import annotations

from pydantic import ValidationError

from honk.domain import RepoRef
from honk.errors import UserFacingError
from honk.forge import HostedForge, LocalGitForge, make_client
from honk.forge.base import ForgeConfig
from honk.protocols import Forge
from honk.settings import ForgeSettings, WorkspaceSettings
from honk.workspace.git import git_identity

DEFAULT_API = {"github": "https://api.github.com", "gitlab": "https://gitlab.com"}
SETTING = {"github": "HONK_GITHUB_TOKEN (or the HONK_GITHUB_APP_* settings)", "gitlab": "HONK_GITLAB_TOKEN"}


class Forges:
    def __init__(self, settings: ForgeSettings, workspaces: WorkspaceSettings) -> None:
        self.settings = settings
        self.local = LocalGitForge(git_identity(workspaces.git_author_name, workspaces.git_author_email))
        self._made: dict[str, HostedForge] = {}

    def of(self, repo: RepoRef) -> Forge:
        if repo.forge is None:
            return self.local
        if (known := self._made.get(repo.name)) is not None:
            return known

        ref, s = repo.forge, self.settings
        github = ref.kind == "github"
        try:
            config = ForgeConfig(
                kind=ref.kind,
                api_url=ref.api_url or DEFAULT_API[ref.kind],
                project=ref.project,
                token=s.github_token if github else s.gitlab_token,
                app_id=s.github_app_id if github else None,
                private_key=s.github_app_private_key if github else None,
                installation_id=s.github_app_installation_id if github else None,
            )
        except ValidationError as e:
            problem = "; ".join(err["msg"].removeprefix("Value error, ") for err in e.errors())
            raise UserFacingError(
                f"Repo {repo.name!r} is on {ref.kind}, but this worker cannot sign in there "
                f"({problem}): set {SETTING[ref.kind]} and restart it."
            ) from e
        self._made[repo.name] = forge = HostedForge(make_client(config))
        return forge

    async def close(self) -> None:
        for forge in self._made.values():
            await forge.aclose()
        self._made.clear()
