"""Settings: grouped into sections, every name people set today still works, and the README's
table is the one the code generates."""

from __future__ import annotations

import ipaddress
import typing
from pathlib import Path

import pytest
from pydantic import SecretStr

from honk.settings import README_BEGIN, README_END, Settings, markdown_table, setting_names

README = Path(__file__).parents[2] / "README.md"

# Every environment variable Settings read before it had sections (taken from the flat model at
# 98e1731, plus HONK_LOG_LEVEL, read by the logging set-up then). Never shorten this list.
BEFORE = [
    "HONK_DATA_DIR", "HONK_HOST", "HONK_PORT", "HONK_PUBLIC_URL", "HONK_TEMPORAL_ADDRESS", "HONK_TEMPORAL_BIN",
    "HONK_TEMPORAL_NAMESPACE", "HONK_TEMPORAL_TLS_CERT", "HONK_TEMPORAL_TLS_KEY", "HONK_TEMPORAL_TLS_CA",
    "HONK_TEMPORAL_API_KEY", "HONK_TASK_QUEUE", "HONK_WORKER_QUEUES", "HONK_DATABASE_URL", "HONK_DEFAULT_AGENT",
    "HONK_ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY", "HONK_ANTHROPIC_BASE_URL", "ANTHROPIC_BASE_URL",
    "HONK_USE_BEDROCK", "CLAUDE_CODE_USE_BEDROCK", "HONK_USE_VERTEX", "CLAUDE_CODE_USE_VERTEX", "HONK_CLAUDE_MODEL",
    "HONK_CLAUDE_BINARY", "HONK_JUDGE_MODEL", "HONK_JUDGE", "HONK_AGENT_MAX_TURNS", "HONK_AGENT_MAX_COST_USD",
    "HONK_AGENT_TIMEOUT_S", "HONK_CLAUDE_MAX_RETRIES", "HONK_DEMO_MODEL", "HONK_MAX_ROUNDS",
    "HONK_MAX_CONCURRENT_TASKS", "HONK_WARM_WORKSPACES", "HONK_SHARE_TASK_BRANCHES", "HONK_HEARTBEAT_TIMEOUT_S",
    "HONK_GIT_AUTHOR_NAME", "HONK_GIT_AUTHOR_EMAIL", "HONK_DEFAULT_USER", "HONK_ANONYMOUS", "HONK_SANDBOX",
    "HONK_SANDBOX_BWRAP", "HONK_SANDBOX_MEMORY_MB", "HONK_SANDBOX_MAX_PROCESSES", "HONK_SANDBOX_READ_ONLY",
    "HONK_SANDBOX_HIDDEN", "HONK_SANDBOX_SETUP_NETWORK", "HONK_POLICY_FILE", "HONK_METRICS_PORT",
    "HONK_METRICS_HOST", "HONK_LOG_FORMAT", "HONK_GITHUB_TOKEN", "HONK_GITHUB_APP_ID",
    "HONK_GITHUB_APP_PRIVATE_KEY", "HONK_GITHUB_APP_INSTALLATION_ID", "HONK_GITLAB_TOKEN", "HONK_FORGE_POLL_S",
    "HONK_SLACK_BOT_TOKEN", "SLACK_BOT_TOKEN", "HONK_SLACK_SIGNING_SECRET", "SLACK_SIGNING_SECRET",
    "HONK_SLACK_APP_TOKEN", "SLACK_APP_TOKEN", "HONK_SLACK_API_URL", "HONK_SLACK_ASIDE_MARKER", "HONK_SLACK_MERGERS",
    "HONK_SLACK_STATUS_INTERVAL_S", "HONK_LOG_LEVEL",
]  # fmt: skip


def sample(annotation: object, highest: int = 64) -> tuple[str, object]:
    """A value a person could set for a field of this type: as written in the environment, and as read."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is typing.Literal:
        return str(args[-1]), args[-1]
    if args and typing.get_origin(annotation) is not list:
        return sample(args[0], highest)
    if typing.get_origin(annotation) is list:
        return '["/a", "/b"]', [Path("/a"), Path("/b")] if args == [Path] else ["/a", "/b"]
    if annotation is bool:
        return "true", True
    if annotation is int:
        return str(highest), highest
    if annotation is float:
        return "7.5", 7.5
    if annotation is Path:
        return "/srv/x", Path("/srv/x")
    return "set-by-env", "set-by-env"


def read(settings: Settings, section: str, field: str) -> object:
    value = getattr(getattr(settings, section), field)
    return value.get_secret_value() if isinstance(value, SecretStr) else value


@pytest.mark.parametrize("env", BEFORE)
def test_every_name_in_use_before_still_sets_its_setting(env: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    found = [(n, f) for n, _, f in setting_names() if env in n.env]
    assert len(found) == 1, f"{env} must name exactly one setting"
    name, field = found[0]
    most = min([64, *(m.le for m in field.metadata if hasattr(m, "le"))])
    written, expected = sample(field.annotation, most)
    monkeypatch.setenv(env, written)
    assert read(Settings(), name.section, name.field) == expected


def test_the_names_are_the_ones_before_and_new_ones_only_add():
    now = [e for n, _, _ in setting_names() for e in n.env]
    assert len(now) == len(set(now)), "one setting per name"
    assert set(BEFORE) <= set(now)


def test_honk_toml_takes_sections_or_flat_keys_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "honk.toml").write_text(
        'port = 9001\ntask_queue = "from-file"\nmax_rounds = 5\n\n[slack]\nmergers = ["lead@example.com"]\n'
        '[sandbox]\nmode = "off"\nmemory_mb = 1024\n'
    )
    monkeypatch.setenv("HONK_TASK_QUEUE", "from-env")
    monkeypatch.setenv("HONK_SANDBOX_MEMORY_MB", "2048")
    s = Settings()
    assert (s.server.port, s.temporal.task_queue, s.tasks.max_rounds) == (9001, "from-env", 5)
    assert (s.slack.mergers, s.sandbox.mode, s.sandbox.memory_mb) == (["lead@example.com"], "off", 2048)
    assert s.db_url.startswith("sqlite+aiosqlite:///") and s.db_url.endswith("honk.db")


def test_a_misspelt_key_in_a_section_is_refused_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "honk.toml").write_text("[slack]\nmergerz = []\n")
    with pytest.raises(ValueError, match=r"slack\.mergerz"):
        Settings()


def test_code_may_pass_flat_names_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    s = Settings(temporal_address="t:1", anthropic_api_key="k", sandbox="off")
    assert (s.temporal.address, read(s, "claude", "api_key"), s.sandbox.mode) == ("t:1", "k", "off")


def test_every_setting_says_what_it_is_for():
    for name, model, field in setting_names():
        assert model.title, name.section
        assert field.description and len(field.description) > 8, f"{name.section}.{name.field}"


def test_the_readme_table_is_generated_from_the_settings():
    text = README.read_text()
    assert README_BEGIN in text and README_END in text
    table = text.split(README_BEGIN, 1)[1].split(README_END, 1)[0].strip()
    assert table == markdown_table(), "the README's settings table drifted: run `python -m honk.settings README.md`"


def test_changed_copies_take_flat_or_sectioned_names_and_refuse_unknown_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    s = Settings().changed(port=9, data_dir=tmp_path / "d", sandbox={"memory_mb": 128})
    assert (s.server.port, s.data_dir, s.sandbox.memory_mb, s.sandbox.mode) == (9, tmp_path / "d", 128, "bwrap")
    with pytest.raises(ValueError, match="no such setting: prot"):
        Settings().changed(prot=9)


def test_honk_up_on_every_address_links_with_the_lan_address_and_prints_its_qr_code() -> None:
    from honk.composition.up import _qr_text, lan_settings
    from honk.settings import Settings

    lan = lan_settings(Settings().changed(host="0.0.0.0", port=8787))
    assert lan.server.public_url is not None and lan.server.public_url.endswith(":8787")
    address = lan.server.public_url.removeprefix("http://").removesuffix(":8787")
    assert ipaddress.ip_address(address) and address != "0.0.0.0"
    assert lan.preview_domain == f"{address}.sslip.io"
    said = Settings().changed(host="0.0.0.0", public_url="https://honk.lan")
    assert lan_settings(said).base_url == "https://honk.lan" and lan_settings(said).preview_domain == "preview.honk.lan"
    assert lan_settings(Settings()).preview_domain == "localhost"
    qr = _qr_text("http://192.168.1.20:8787")
    assert len(qr.splitlines()) > 10 and set(qr) <= set("█▀▄ \xa0\n")


def test_the_workers_concurrency_comes_from_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from honk.composition.worker import worker_concurrency

    monkeypatch.chdir(tmp_path)  # no honk.toml of the repo's
    default = worker_concurrency(Settings(max_concurrent_tasks=7))
    assert default == {
        "max_concurrent_activities": 14,  # a task's step, and a wake or delivery wait beside it
        "max_concurrent_workflow_tasks": 100,
        "max_concurrent_local_activities": 100,
    }
    monkeypatch.setenv("HONK_MAX_CONCURRENT_ACTIVITIES", "9")
    monkeypatch.setenv("HONK_MAX_CONCURRENT_WORKFLOW_TASKS", "3")
    monkeypatch.setenv("HONK_MAX_CONCURRENT_LOCAL_ACTIVITIES", "5")
    assert worker_concurrency(Settings()) == {
        "max_concurrent_activities": 9,
        "max_concurrent_workflow_tasks": 3,
        "max_concurrent_local_activities": 5,
    }
    monkeypatch.setenv("HONK_MAX_CONCURRENT_WORKFLOW_TASKS", "1")  # below Temporal's minimum with a cache
    with pytest.raises(ValueError, match="max_concurrent_workflow_tasks"):
        Settings()
