"""`honk doctor` and the start-up check: one line per webhook problem, exit 1 when any, no secret shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from honk.cli.main import cli
from honk.hooks.setup_check import problems
from honk.settings import Settings

GOOD = "0123456789abcdef0123456789abcdef"


def test_a_forge_without_its_webhook_secret_is_a_problem():
    assert problems(Settings().changed(public_url="https://honk.example.com")) == []
    lines = problems(Settings().changed(github_token=SecretStr("ghp_x"), gitlab_token=SecretStr("glpat-x")))
    assert len(lines) == 2
    assert "HONK_GITHUB_WEBHOOK_SECRET is not" in lines[0] and "HONK_GITLAB_WEBHOOK_TOKEN is not" in lines[1]
    app = Settings().changed(github_app_id=12, public_url="https://honk.example.com")
    assert any("GitHub is configured" in line for line in problems(app))
    wired = Settings().changed(
        github_token=SecretStr("ghp_x"), github_webhook_secret=SecretStr(GOOD), public_url="https://honk.example.com"
    )
    assert problems(wired) == []


def test_weak_reused_and_unreachable_secrets_are_problems():
    weak = Settings().changed(gitlab_webhook_token=SecretStr("hunter2"), public_url="https://honk.example.com")
    assert problems(weak) == [
        "HONK_GITLAB_WEBHOOK_TOKEN is shorter than 16 characters: whoever guesses it can speak for the forge. "
        "Use a random one (`openssl rand -hex 32`)."
    ]
    reused = Settings().changed(
        github_token=SecretStr(GOOD), github_webhook_secret=SecretStr(GOOD), public_url="https://honk.example.com"
    )
    assert [line for line in problems(reused) if "is a forge API token" in line]
    loopback = Settings().changed(github_webhook_secret=SecretStr(GOOD))
    assert any("no forge can reach" in line for line in problems(loopback))
    for settings in (weak, reused, loopback):
        for line in problems(settings):
            assert GOOD not in line and "hunter2" not in line


def test_honk_doctor_prints_each_problem_and_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)  # no honk.toml here
    runner = CliRunner()
    bad = runner.invoke(cli, ["doctor"], env={"HONK_GITHUB_TOKEN": "ghp_x", "HONK_PUBLIC_URL": "https://h.example"})
    assert bad.exit_code == 1
    assert bad.output.splitlines()[0].startswith("honk doctor: GitHub is configured")
    good = runner.invoke(
        cli,
        ["doctor"],
        env={"HONK_GITHUB_TOKEN": "ghp_x", "HONK_GITHUB_WEBHOOK_SECRET": GOOD, "HONK_PUBLIC_URL": "https://h.example"},
    )
    assert good.exit_code == 0 and good.output == "honk doctor: no problems found\n"
    invalid = runner.invoke(cli, ["doctor"], env={"HONK_HOOK_MAX_BYTES": "5"})
    assert invalid.exit_code == 1 and "hooks.hook_max_bytes" in invalid.output
