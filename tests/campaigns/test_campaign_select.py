"""A campaign's selection (CampaignSteps.select, run as a Temporal activity): names must exist, a glob
picks by name, a files selector goes through RepoFiles (refused with a reason when the worker has none),
too many repos or none at all end the campaign with a reason; members keep the order and waves."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from temporalio.testing import ActivityEnvironment

from honk.campaigns import CampaignSteps
from honk.domain import CampaignRequest, CampaignSettings, CampaignState, RepoRef, RepoSelector
from honk.errors import Unavailable
from honk.settings import Settings
from honk.store import Store
from honk.store.campaigns import CampaignStore
from honk.workflow.campaign_workflow import SelectInput

REPOS = ["api", "svc-b", "svc-a", "web"]


class Files:
    """RepoFiles answering from a table; "web" cannot be reached."""

    def __init__(self, having: set[str]) -> None:
        self.having = having
        self.asked: list[tuple[str, str, str | None]] = []

    async def matching(self, repo: RepoRef, path: str, content: str | None = None, limit: int = 5) -> list[str]:
        self.asked.append((repo.name, path, content))
        if repo.name == "web":
            raise Unavailable("web's remote cannot be reached")
        return ["requirements.txt"] if repo.name in self.having else []


@pytest.fixture
async def store(tmp_path):
    s = Store(f"sqlite+aiosqlite:///{tmp_path / 'honk.db'}")
    await s.create_schema()
    yield s
    await s.close()


def _steps(store: Store, files: Files | None = None, max_repos: int = 500) -> CampaignSteps:
    async def repos() -> list[RepoRef]:
        return [RepoRef(name=n, url=f"/srv/{n}") for n in REPOS]

    settings = Settings().changed(campaigns={"max_repos": max_repos})
    service = SimpleNamespace(repos=repos, settings=settings, store=store)
    return CampaignSteps(service, files)  # type: ignore[arg-type]  # the parts of TaskService select uses


async def _select(store: Store, selector: RepoSelector, files: Files | None = None, max_repos: int = 500):
    req = CampaignRequest(
        campaign_id="c-1",
        request_id="r-1",
        text="bump requests",
        selector=selector,
        settings=CampaignSettings(wave_size=1),
        requested_by="ana@x",
    )
    await CampaignStore(store).create(req)
    steps = _steps(store, files, max_repos)
    return await ActivityEnvironment().run(steps.select, SelectInput(request=req)), await CampaignStore(store).get(
        "c-1"
    )


async def test_names_in_their_order_and_unknown_names_end_it(store: Store):
    selected, view = await _select(store, RepoSelector(names=["web", "api"]))
    assert selected.repos == ["web", "api"] and selected.ended is None
    assert view is not None and view.state == CampaignState.running
    assert [(m.repo, m.wave) for m in view.members] == [("web", 1), ("api", 2)]


async def test_an_unknown_name_ends_the_campaign_naming_it(store: Store):
    selected, view = await _select(store, RepoSelector(names=["api", "nope", "gone"]))
    assert selected.ended == "Unknown repos: nope, gone." and view is not None and view.members == []


async def test_a_glob_picks_by_name_sorted(store: Store):
    selected, _ = await _select(store, RepoSelector(glob="svc-*"))
    assert selected.repos == ["svc-a", "svc-b"]


async def test_files_go_through_repo_files_and_an_unreadable_repo_is_skipped_with_why(store: Store):
    files = Files({"api", "svc-a"})
    selected, view = await _select(store, RepoSelector(path="requirements*.txt", content="requests"), files)
    assert selected.repos == ["api", "svc-a"]
    assert ("api", "requirements*.txt", "requests") in files.asked
    assert view is not None
    assert [(m.repo, m.status) for m in view.members] == [("api", "waiting"), ("svc-a", "waiting"), ("web", "skipped")]
    assert view.members[2].reason == "files not readable: web's remote cannot be reached"


async def test_a_files_selector_without_repo_files_is_refused_with_a_reason(store: Store):
    selected, _ = await _select(store, RepoSelector(path="**/*.py"))
    assert selected.ended is not None and "cannot test repos' files" in selected.ended


async def test_too_many_or_none_end_it_with_a_reason(store: Store):
    selected, _ = await _select(store, RepoSelector(), max_repos=3)
    assert (
        selected.ended
        == "4 repos match every repo; a campaign reaches at most 3 (HONK_CAMPAIGNS_MAX_REPOS): narrow the selector."
    )
    await CampaignStore(store).delete("c-1")
    selected, _ = await _select(store, RepoSelector(glob="zzz-*"))
    assert selected.ended == "No repo matches repos named zzz-*."
