"""Deploy history in the store, on SQLite and PostgreSQL: a deploy starts "deploying", moves as it goes and
stays as it ended; a repo's deploys list newest first; a revert finds the last commit that was live;
details are bounded, and the history is not tied to the repos table (it is kept, like the audit log)."""

from __future__ import annotations

import pytest

from honk.domain import RepoRef
from honk.store import DeployHistory, Store
from honk.store.deploys import MAX_DETAIL


@pytest.fixture
async def store(store_url: str):
    s = Store(store_url)
    await s.create_schema()
    for name in ("shop", "web"):
        await s.add_repo(RepoRef(name=name, url=f"/srv/{name}"))
    yield s
    await s.close()


async def test_a_deploy_starts_moves_and_stays_as_it_ended(store: Store) -> None:
    history = DeployHistory(store)
    first = await history.started("shop", "t-aaaaaaaaaaaa", "c1" * 20, "ana@example.com")
    started = await history.get(first)
    assert started is not None
    assert (started.repo, started.task_id, started.commit, started.by, started.state) == (
        "shop",
        "t-aaaaaaaaaaaa",
        "c1" * 20,
        "ana@example.com",
        "deploying",
    )
    assert started.started_at.tzinfo is not None and started.finished_at is None

    assert await history.moved(first, "deployed")
    assert (await history.get(first)).finished_at is None  # type: ignore[union-attr]
    assert await history.moved(first, "live", link="https://shop.example.com/")
    live = await history.get(first)
    assert live is not None and (live.state, live.link) == ("live", "https://shop.example.com/")
    assert live.finished_at is not None and live.finished_at >= live.started_at

    assert not await history.moved(first, "health_failed", detail="late"), "an ended deploy stays as it ended"
    assert (await history.get(first)).state == "live"  # type: ignore[union-attr]
    assert not await history.moved(999_999, "live")
    assert await history.get(999_999) is None


async def test_a_repos_deploys_list_newest_first_and_a_revert_finds_the_last_live_commit(store: Store) -> None:
    history = DeployHistory(store)
    good = await history.started("shop", "t-1", "good", "ana")
    await history.moved(good, "live")
    other = await history.started("web", "t-2", "elsewhere", "bo")
    await history.moved(other, "live")
    failed_deploy = await history.started("shop", "t-3", "nope", "ana")
    await history.moved(failed_deploy, "deploy_failed", detail="## deploy failed (`./deploy.sh`)\nerror: 401")
    broken = await history.started("shop", "t-4", "broken", "cy")
    await history.moved(broken, "health_failed", detail="last answer: HTTP 503")

    listed = await history.listed("shop")
    assert [(d.commit, d.state) for d in listed] == [
        ("broken", "health_failed"),
        ("nope", "deploy_failed"),
        ("good", "live"),
    ]
    assert listed[1].detail.endswith("error: 401")
    assert [d.commit for d in await history.listed("shop", limit=1)] == ["broken"]
    restore = await history.last_live("shop", before=broken)
    assert restore is not None and restore.commit == "good"
    assert await history.last_live("shop", before=good) is None
    assert [d.commit for d in await history.of_task("t-4")] == ["broken"]


async def test_details_are_bounded_and_the_history_is_not_tied_to_the_repos_table(store: Store) -> None:
    history = DeployHistory(store)
    deploy = await history.started("web", None, "abc", "ana")
    await history.moved(deploy, "deploy_failed", detail="x" * (MAX_DETAIL * 3) + "the end")
    kept = await history.get(deploy)
    assert kept is not None and len(kept.detail) == MAX_DETAIL and kept.detail.endswith("the end")
    gone = await history.started("a-repo-since-removed", "t-9", "def", "ana")
    assert (await history.get(gone)) is not None
