"""Fixtures for the real Claude Code binary against Honk's fake Messages API server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from honk.demo.fake_model import FakeModelServer
from honk.testing.processes import HonkStack, TemporalDevServer

SECRETS = {
    "HONK_SLACK_BOT_TOKEN": "xoxb-slack-secret",
    "GITHUB_TOKEN": "ghp_github_secret",
    "HONK_DATABASE_PASSWORD": "db-secret",
}


@pytest.fixture
def claude_stack(tmp_path: Path, temporal: TemporalDevServer, model: FakeModelServer) -> Iterator[HonkStack]:
    stack = HonkStack(
        tmp_path / "honk",
        temporal.address,
        max_rounds="3",
        anthropic_base_url=model.url,
        anthropic_api_key="sk-ant-test-key",
        claude_max_retries="0",
        claude_model="claude-sonnet-4-5",
        extra_env=SECRETS,
    )
    yield stack
    stack.stop()
