"""Shared fixtures: one real Temporal dev server per session; per test a real Honk stack and git remote."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from itertools import groupby
from pathlib import Path

import pytest

from honk.demo.fake_model import FakeModelServer
from honk.store import Store
from honk.testing.fake_slack import FakeSlack
from honk.testing.gitrepo import RemoteRepo
from honk.testing.postgres import PostgresServer
from honk.testing.processes import HonkStack, TemporalDevServer

# -- the order files run in: longest first, so the processes of `-n auto --dist loadfile --no-loadscope-reorder`
# finish together (xdist's own order, most tests first, leaves the long stories of few tests to the end, where
# one process runs them while the others wait). A file's cost: its seconds on a 2-core CI machine when it is one
# of the long ones below, else an estimate per test: a real stack (`honk server` and workers on the Temporal dev
# server) ~8 s, Honk in-process on the dev server ~2 s, anything else 0.3 s. A stale or missing number only
# costs balance, never a test.
LONG_FILES_S = {
    "tests/fuzz/test_api_fuzz.py": 160,
    "tests/chaos/test_chaos.py": 120,
    "tests/scenarios/test_honk_up.py": 100,
    "tests/web/test_web_app.py": 75,
    "tests/scenarios/test_repo_secrets.py": 80,
    "tests/scenarios/test_live_previews.py": 75,
    "tests/scenarios/test_network_allowances.py": 65,
    "tests/safety/test_attacks.py": 45,
    "tests/scenarios/test_machines.py": 45,
    "tests/chaos/test_kill_moments.py": 40,
    "tests/preview/test_shots.py": 40,
    "tests/scenarios/test_pull_request_front_door.py": 150,
    "tests/scenarios/test_main_moved.py": 100,
    "tests/scenarios/test_schedules.py": 50,
    "tests/workflow/test_pull_review.py": 45,
    "tests/triggers/test_trigger_urls.py": 60,
    # one story, a 50-repo campaign on PostgreSQL (its start included): 46–61 s measured at load 7.5–11.5
    "tests/scenarios/test_campaign_fleet.py": 60,
    "tests/scenarios/test_campaign_front_doors.py": 30,  # one story, but Slack, board, merge and retry in it
}


def cost_of_test(item: pytest.Item, stacks_in_file: bool) -> float:
    names = getattr(item, "fixturenames", ())
    if "temporal" not in names:
        return 0.3
    return 8.0 if stacks_in_file or any(n.endswith("stack") for n in names) else 2.0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Files longest first (each file's tests stay together and in their order)."""
    files = [(path, list(group)) for path, group in groupby(items, key=lambda i: i.path)]

    def cost(path: Path, tests: list[pytest.Item]) -> float:
        name = path.relative_to(config.rootpath).as_posix() if path.is_relative_to(config.rootpath) else str(path)
        if name in LONG_FILES_S:
            return LONG_FILES_S[name]
        stacks = "HonkStack(" in path.read_text(errors="replace")
        return sum(cost_of_test(t, stacks) for t in tests)

    files.sort(key=lambda f: -cost(*f))  # stable: equal costs keep the collection's order
    items[:] = [item for _, tests in files for item in tests]


@pytest.fixture(scope="session")
def temporal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TemporalDevServer]:
    server = TemporalDevServer(tmp_path_factory.mktemp("temporal"))
    yield server
    server.stop()


@pytest.fixture
def stack(tmp_path: Path, temporal: TemporalDevServer) -> Iterator[HonkStack]:
    s = HonkStack(tmp_path / "honk", temporal.address, max_rounds="3")
    yield s
    s.stop()


@pytest.fixture
def model() -> Iterator[FakeModelServer]:
    """The scripted fake Messages API on loopback, for the real Claude Code binary and the key proxy."""
    server = FakeModelServer().start()
    yield server
    server.stop()


@pytest.fixture
def make_remote(tmp_path: Path):  # noqa: ANN201 - a factory
    counter = iter(range(1000))

    def make(files: dict[str, str]) -> RemoteRepo:
        return RemoteRepo(tmp_path / f"remote{next(counter)}", files)

    return make


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real, private PostgreSQL server for the session (started only when a test asks for it)."""
    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database for Honk's store, on each backend it runs on: the embedded default and production's."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'honk.db'}"
    return request.getfixturevalue("postgres").new_database()


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    """Honk's store on `store_url`, its schema made."""
    s = Store(store_url)
    await s.create_schema()
    yield s
    await s.close()


# -- Slack: a fake Slack Web API, and a stack that talks to it (signed requests with SLACK_SECRET) --
@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    fake.add_user("U1", "ana@example.com", "Ana")
    fake.add_user("U2", "bo@example.com", "Bo")
    yield fake
    fake.stop()


@pytest.fixture
def slack_stack(tmp_path: Path, temporal: TemporalDevServer, slack: FakeSlack) -> Iterator[HonkStack]:
    stack = HonkStack(
        tmp_path / "honk",
        temporal.address,
        **slack.settings(),
        slack_mergers='["bo@example.com"]',
        slack_status_interval_s="0.5",
    )
    yield stack
    stack.stop()
