"""Shared fixtures: one real Temporal dev server per session; per test a real Honk stack and git remote."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from honk.demo.fake_model import FakeModelServer
from honk.testing.fake_slack import FakeSlack
from honk.testing.gitrepo import RemoteRepo
from honk.testing.postgres import PostgresServer
from honk.testing.processes import HonkStack, TemporalDevServer


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
