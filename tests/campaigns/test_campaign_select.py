"""A campaign's selection (CampaignSteps.select, run as a Temporal activity): names must exist, a glob
picks by name, a files selector goes through RepoFiles (refused with a reason when the worker has none),
too many repos or none at all end the campaign with a reason; members keep the order and waves; a repo its
forge says is archived is skipped (after the runnable ones), and a forge that cannot answer skips nothing."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from temporalio.testing import ActivityEnvironment

from honk.campaigns import CampaignSteps
from honk.domain import CampaignRequest, CampaignSettings, CampaignState, ForgeRef, RepoRef, RepoSelector
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


class Forges:
    """Each repo's forge, answering `archived` from a table; "svc-b"'s forge cannot be reached."""

    def __init__(self, archived: set[str]) -> None:
        self.names = archived
        self.asked: list[str] = []

    async def archived(self, repo: RepoRef) -> bool | None:
        self.asked.append(repo.name)
        if repo.name == "svc-b":
            raise Unavailable("GitHub could not be reached while reading repo acme/svc-b.")
        return repo.name in self.names


ON_FORGES = {
    "api": ForgeRef(kind="github", project="acme/api"),
    "svc-a": ForgeRef(kind="gitlab", project="acme/svc-a"),
    "svc-b": ForgeRef(kind="github", project="acme/svc-b"),
}


def _steps(
    store: Store, files: Files | None = None, max_repos: int = 500, forges: Forges | None = None
) -> CampaignSteps:
    async def repos() -> list[RepoRef]:
        return [RepoRef(name=n, url=f"/srv/{n}", forge=ON_FORGES.get(n) if forges else None) for n in REPOS]

    settings = Settings().changed(campaigns={"max_repos": max_repos})
    service = SimpleNamespace(repos=repos, settings=settings, store=store)
    forge_of = (lambda repo: forges) if forges is not None else None  # one answering for every repo
    return CampaignSteps(service, files, forge_of=forge_of)  # type: ignore[arg-type]  # what select uses


async def _select(
    store: Store,
    selector: RepoSelector,
    files: Files | None = None,
    max_repos: int = 500,
    forges: Forges | None = None,
):
    req = CampaignRequest(
        campaign_id="c-1",
        request_id="r-1",
        text="bump requests",
        selector=selector,
        settings=CampaignSettings(wave_size=1),
        requested_by="ana@x",
    )
    await CampaignStore(store).create(req)
    steps = _steps(store, files, max_repos, forges)
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


async def test_a_repo_archived_on_its_forge_is_skipped_after_the_runnable_ones(store: Store):
    forges = Forges(archived={"api", "web"})
    selected, view = await _select(store, RepoSelector(), forges=forges)
    assert selected.repos == ["svc-a", "svc-b", "web"]
    assert view is not None
    assert [(m.repo, m.wave, m.status, m.reason) for m in view.members] == [
        ("svc-a", 1, "waiting", ""),  # the first wave is one that can run
        ("svc-b", 2, "waiting", ""),  # its forge did not answer: its task will say what is wrong
        ("web", 2, "waiting", ""),  # a plain git remote: nothing to ask, its push will refuse
        ("api", 2, "skipped", "archived on GitHub"),
    ]
    assert sorted(forges.asked) == ["api", "svc-a", "svc-b"], "only repos on a forge are asked"
