"""`[deploy]` in a repo's `.honk.toml`: the forms Honk accepts, and every refusal naming its line and the fix."""

from __future__ import annotations

import pytest

from honk.domain import Awaited, DeploySpec, HealthCheck, RepoConfig
from honk.errors import InvalidRepoConfig
from honk.verify.config import parse_repo_config


def _deploy(text: str) -> DeploySpec:
    config = parse_repo_config(text)
    assert config.deploy is not None
    return config.deploy


def test_a_deploy_command_with_a_health_url_and_its_live_link() -> None:
    spec = _deploy(
        """
[network]
deploy = ["api.fly.io", "app.example.com"]

[[secrets]]
name = "FLY_API_TOKEN"
phases = ["deploy"]
env = "FLY_API_TOKEN"

[deploy]
run = "flyctl deploy --remote-only"
timeout = 1200
health = "https://app.example.com/healthz"
health_timeout = 120
url = "https://app.example.com"
revert = "fast-track"
"""
    )
    assert (spec.run, spec.wait_for, spec.timeout_s, spec.url, spec.revert) == (
        "flyctl deploy --remote-only",
        None,
        1200,
        "https://app.example.com",
        "fast-track",
    )
    assert spec.health_check == HealthCheck(url="https://app.example.com/healthz", timeout_s=120)
    assert spec.awaited is None


def test_defaults_a_command_health_check_and_a_capitalised_url() -> None:
    spec = _deploy('[deploy]\nrun = "./deploy.sh"\nhealth = "./scripts/smoke-test production"\n')
    assert (spec.timeout_s, spec.health_timeout_s, spec.revert, spec.url) == (900, 300, "task", None)
    assert spec.health_check == HealthCheck(run="./scripts/smoke-test production", timeout_s=300)
    upper = _deploy('[deploy]\nrun = "x"\nhealth = "HTTPS://App.Example.com:8443/up"\n')
    assert upper.health_check is not None and upper.health_check.url == "HTTPS://App.Example.com:8443/up"
    assert _deploy('[deploy]\nrun = "x"\n').health_check is None, "health is optional"


@pytest.mark.parametrize(
    ("wait_for", "awaited"),
    [
        ("status:deploy/production", Awaited(kind="status", name="deploy/production")),
        ("status:ci/circleci: deploy", Awaited(kind="status", name="ci/circleci: deploy")),
        ("deployment:production", Awaited(kind="deployment", name="production")),
    ],
)
def test_waiting_for_the_forge_names_a_status_context_or_an_environment(wait_for: str, awaited: Awaited) -> None:
    spec = _deploy(f'[deploy]\nwait_for = "{wait_for}"\nhealth = "https://app.example.com/"\n')
    assert spec.awaited == awaited and spec.run is None


def test_a_repo_without_deploy_has_none_and_the_spec_travels_in_history_by_field_name() -> None:
    assert parse_repo_config('[build]\nrun = "make"\n').deploy is None
    config = parse_repo_config('[deploy]\nrun = "./d"\nhealth_timeout = 5\ntimeout = 7\n')
    again = RepoConfig.model_validate_json(config.model_dump_json())
    assert again.deploy == config.deploy and again.deploy is not None and again.deploy.timeout_s == 7


# Each refusal: the file, the line it names, and words of the fix.
REFUSALS = [
    ("[deploy]\nhealth = 'https://a.example.com/'\n", 1, "deploy needs run (the command that deploys) or wait_for"),
    ("[deploy]\nrun = 'x'\nwait_for = 'status:ci'\n", 1, "deploy has both run and wait_for"),
    ("[build]\nrun = 'm'\n\n[deploy]\nrun = ''\n", 5, "deploy.run must be a non-empty string"),
    ("[deploy]\nrun = 'x'\nwait_for = 'deploy/production'\n", 3, 'deploy.wait_for must be "status:<context>"'),
    ("[deploy]\nwait_for = 'check:deploy'\n", 2, '"deployment:<environment>" (like "deployment:production")'),
    ("[deploy]\nwait_for = 'status: x'\n", 2, "no leading or trailing spaces"),
    ("[deploy]\nwait_for = 'deployment:'\n", 2, 'deploy.wait_for must be "status:<context>"'),
    ('[deploy]\nwait_for = "status:a\\u0007"\n', 2, "at most 200 printable characters"),
    (
        "[deploy]\nwait_for = 42\n",
        2,
        'deploy.wait_for must be "status:<context>" or "deployment:<environment>" (got 42)',
    ),
    ("[deploy]\nrun = 'x'\nhealth = 'http://127.0.0.1:8080/health'\n", 3, "must name a host, not an IP address"),
    ("[deploy]\nrun = 'x'\nhealth = 'http://169.254.169.254/latest/meta-data/'\n", 3, "cloud metadata addresses"),
    ("[deploy]\nrun = 'x'\nhealth = 'http://[::1]/'\n", 3, "not an IP address"),
    ("[deploy]\nrun = 'x'\nhealth = 'http://2130706433/'\n", 3, "not an IP address"),
    ("[deploy]\nrun = 'x'\nhealth = 'http://0x7f.1/'\n", 3, "not an IP address"),
    ("[deploy]\nrun = 'x'\nhealth = 'http://localhost:3000/'\n", 3, "must name a host such as app.example.com"),
    (
        "[deploy]\nrun = 'x'\nhealth = 'https://ops:hunter2@app.example.com/'\n",
        3,
        "give the check a header with [[secrets]]",
    ),
    ("[deploy]\nrun = 'x'\nhealth = 'https://app.example.com:99999/'\n", 3, "with a valid port"),
    ("[deploy]\nrun = 'x'\nhealth = 'https:///health'\n", 3, "must be an http:// or https:// URL"),
    ("[deploy]\nrun = 'x'\nhealth = 'https://app.example.com/a b'\n", 3, "must be a URL without spaces"),
    ("[deploy]\nrun = 'x'\nhealth = ''\n", 3, "deploy.health must be a non-empty string"),
    (
        "[deploy]\nrun = 'x'\nhealth = ['curl', 'x']\n",
        3,
        "must be a URL (http:// or https://, fetched) or a command (run)",
    ),
    ("[deploy]\nrun = 'x'\nhealth_timeout = 0\n", 3, "deploy.health_timeout must be a positive number (got 0)"),
    ("[deploy]\nrun = 'x'\ntimeout = -5\n", 3, "deploy.timeout must be a positive number (got -5)"),
    ("[deploy]\nrun = 'x'\ntimeout = '10m'\n", 3, 'deploy.timeout must be a positive number (got "10m")'),
    ("[deploy]\nrun = 'x'\nurl = 'javascript:alert(1)'\n", 3, "deploy.url must be an http:// or https:// URL"),
    ("[deploy]\nrun = 'x'\nurl = 'app.example.com'\n", 3, "deploy.url must be an http:// or https:// URL"),
    ("[deploy]\nrun = 'x'\nrevert = 'auto'\n", 3, 'deploy.revert must be "task" or "fast-track" (got "auto")'),
    ("[deploy]\nrun = 'x'\nhealthcheck = 'https://a.example.com/'\n", 3, "unknown key deploy.healthcheck (known keys:"),
    ("deploy = 'fly deploy'\n", 1, 'deploy must be a table (got "fly deploy")'),
    ("[[deploy]]\nrun = 'x'\n", 1, "deploy must be a table (got an array)"),
]


@pytest.mark.parametrize(("text", "line", "says"), REFUSALS)
def test_each_refusal_names_the_line_and_the_fix(text: str, line: int, says: str) -> None:
    with pytest.raises(InvalidRepoConfig) as e:
        parse_repo_config(text)
    message = str(e.value)
    assert message.startswith(f".honk.toml line {line}: "), message
    assert says in message, message


def test_the_unknown_key_message_lists_the_deploy_keys() -> None:
    with pytest.raises(InvalidRepoConfig) as e:
        parse_repo_config("[deploy]\nrun = 'x'\nrollback = 'task'\n")
    assert "(known keys: health, health_timeout, revert, run, timeout, url, wait_for)" in str(e.value)
